"""HorizontalPodAutoscaler between autoscaling/v2 (stored) and v1 (engine/api/versions.py):
the CPU target in v1's own field, everything else in the annotations, nothing lost both ways."""

from __future__ import annotations

from kubedeck.engine.api.discovery import api_groups
from kubedeck.engine.api.versions import BEHAVIOR, METRICS, hpa_from_v1, hpa_to_v1
from kubedeck.engine.paths import parse_path

V2 = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
      "metadata": {"name": "web", "namespace": "default", "labels": {"a": "b"}},
      "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
               "minReplicas": 2, "maxReplicas": 9,
               "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                   "type": "Utilization", "averageUtilization": 60}}},
                   {"type": "Resource", "resource": {"name": "memory", "target": {
                       "type": "AverageValue", "averageValue": "100Mi"}}}],
               "behavior": {"scaleDown": {"stabilizationWindowSeconds": 30}}},
      "status": {"currentReplicas": 3, "desiredReplicas": 4,
                 "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {
                     "averageUtilization": 80}}}],
                 "conditions": [{"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"}]}}


def test_v1_shows_the_cpu_target_and_keeps_the_rest_in_annotations():
    v1 = hpa_to_v1(V2)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"] == {"scaleTargetRef": V2["spec"]["scaleTargetRef"], "minReplicas": 2, "maxReplicas": 9,
                          "targetCPUUtilizationPercentage": 60}
    assert v1["status"] == {"currentReplicas": 3, "desiredReplicas": 4, "currentCPUUtilizationPercentage": 80}
    assert METRICS in v1["metadata"]["annotations"] and BEHAVIOR in v1["metadata"]["annotations"]
    back = hpa_from_v1(v1)
    assert back["spec"] == V2["spec"] and back["metadata"] == V2["metadata"]
    assert back["status"]["conditions"] == V2["status"]["conditions"]
    assert back["status"]["currentMetrics"] == V2["status"]["currentMetrics"]


def test_a_plain_v1_object_and_the_served_versions():
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "x"},
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 3}}
    v2 = hpa_from_v1(v1)
    assert "metrics" not in v2["spec"] and "annotations" not in v2["metadata"]  # v2's default: cpu 80 %
    assert parse_path("/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers").group_version \
        == "autoscaling/v1"
    [group] = [g for g in api_groups()["groups"] if g["name"] == "autoscaling"]
    assert [v["version"] for v in group["versions"]] == ["v2", "v1"] and group["preferredVersion"]["version"] == "v2"
