"""The HorizontalPodAutoscaler controller (engine/controllers/hpa.py) on a real store and
a fake clock, with the pods' usage given by the test as the metrics sampler would."""

from __future__ import annotations

import pytest
from controller_kit import make_kit

from kubedeck.engine.controllers.hpa import HorizontalPodAutoscalerController

HPA = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1, "maxReplicas": 5,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                    "type": "Utilization", "averageUtilization": 50}}}]}}


@pytest.fixture
def kit(tmp_path):
    k = make_kit(tmp_path)
    yield k
    k.store.close()


def deploy(kit, replicas: int) -> None:
    kit.store.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
                      "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": {
                          "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}})


def pods(kit, n: int, request: str | None = "100m", first: int = 0) -> list[str]:
    uids = []
    for i in range(first, first + n):
        res = {"requests": {"cpu": request}} if request else {}
        p = kit.store.create({"apiVersion": "v1", "kind": "Pod",
                              "metadata": {"name": f"web-{i}", "namespace": "default", "labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "x", "resources": res}]},
                              "status": {"phase": "Running"}})
        uids.append(p["metadata"]["uid"])
    return uids


def replicas(kit) -> int:
    return kit.store.peek("Deployment", "default", "web")["spec"]["replicas"]


def condition(kit, kind: str) -> dict:
    hpa = kit.store.peek("HorizontalPodAutoscaler", "default", "web")
    return next(c for c in hpa["status"]["conditions"] if c["type"] == kind)


def test_scales_up_on_utilization_and_down_after_the_window(kit):
    usage: dict = {}
    ctl = HorizontalPodAutoscalerController(kit.store, kit.objects, kit.clock, usage=lambda: usage)
    deploy(kit, 1)
    uid = pods(kit, 1)[0]
    kit.store.create({**HPA, "metadata": {"name": "web", "namespace": "default"}})
    key = ("HorizontalPodAutoscaler", "default", "web")
    # no rates yet (the sampler just started): retried soon, nothing scaled
    assert ctl.reconcile(key) == 3.0 and replicas(kit) == 1
    assert condition(kit, "ScalingActive")["reason"] == "FailedGetResourceMetric"
    usage[uid] = (0.2, 1e6)  # 200m of a 100m request: 200 % against 50 % -> 4 pods
    assert ctl.reconcile(key) == 15.0 and replicas(kit) == 4
    hpa = kit.store.peek("HorizontalPodAutoscaler", "default", "web")
    assert hpa["status"]["currentMetrics"][0]["resource"]["current"] == {"averageUtilization": 200,
                                                                         "averageValue": "200m"}
    assert hpa["status"]["desiredReplicas"] == 4 and hpa["status"].get("lastScaleTime")
    [ev] = kit.events("SuccessfulRescale")
    assert ev["message"] == "New size: 4; reason: cpu resource utilization (percentage of request) above target"
    # the load goes: within the 300 s window the highest proposal holds; after it, down to min
    for u in pods(kit, 3, first=1):
        usage[u] = (0.0, 1e6)
    usage[uid] = (0.0, 1e6)
    kit.store.delete("Pod", "default", "web-3")
    kit.clock.advance(60)
    ctl.reconcile(key)
    assert replicas(kit) == 4
    kit.clock.advance(300)
    ctl.reconcile(key)
    assert replicas(kit) == 1
    assert kit.events("SuccessfulRescale")[-1]["message"] == "New size: 1; reason: All metrics below target"


def test_tolerance_limits_missing_requests_and_a_missing_target(kit):
    usage: dict = {}
    ctl = HorizontalPodAutoscalerController(kit.store, kit.objects, kit.clock, usage=lambda: usage)
    key = ("HorizontalPodAutoscaler", "default", "web")
    kit.store.create({**HPA, "metadata": {"name": "web", "namespace": "default"},
                      "spec": {**HPA["spec"], "maxReplicas": 10}})
    ctl.reconcile(key)
    assert condition(kit, "AbleToScale")["reason"] == "FailedGetScale"
    deploy(kit, 2)
    a, b = pods(kit, 2)
    usage.update({a: (0.054, 0), b: (0.054, 0)})  # 54 % against 50 %: within the 10 % tolerance
    ctl.reconcile(key)
    assert replicas(kit) == 2
    usage.update({a: (1.0, 0), b: (1.0, 0)})  # 1000 %: 20 pods asked, max 10
    ctl.reconcile(key)
    assert replicas(kit) == 6  # the default rate limit: double or +4 per step, whichever is more
    assert condition(kit, "ScalingLimited")["reason"] == "TooManyReplicas"
    kit.clock.advance(15)
    ctl.reconcile(key)
    assert replicas(kit) == 10
    kit.store.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-x", "namespace": "default",
                                                                      "labels": {"app": "web"}},
                      "spec": {"containers": [{"name": "c", "image": "x"}]}, "status": {"phase": "Running"}})
    usage[kit.store.peek("Pod", "default", "web-x")["metadata"]["uid"]] = (0.1, 0)
    ctl.reconcile(key)
    assert "missing request for cpu in container c of Pod web-x" in condition(kit, "ScalingActive")["message"]


def test_memory_average_value_and_a_target_at_zero(kit):
    usage: dict = {}
    ctl = HorizontalPodAutoscalerController(kit.store, kit.objects, kit.clock, usage=lambda: usage)
    deploy(kit, 1)
    usage[pods(kit, 1, request=None)[0]] = (0.0, 300 * 2**20)
    metrics = [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                              "averageValue": "100Mi"}}}]
    kit.store.create({**HPA, "metadata": {"name": "web", "namespace": "default"},
                      "spec": {**HPA["spec"], "metrics": metrics}})
    key = ("HorizontalPodAutoscaler", "default", "web")
    ctl.reconcile(key)
    assert replicas(kit) == 3
    current = kit.store.peek("HorizontalPodAutoscaler", "default", "web")["status"]["currentMetrics"][0]
    assert current["resource"] == {"name": "memory", "current": {"averageValue": "300Mi"}}
    dep = kit.store.peek("Deployment", "default", "web")
    kit.store.update({**dep, "spec": {**dep["spec"], "replicas": 0}}, check_rv=False)
    ctl.reconcile(key)
    assert replicas(kit) == 0 and condition(kit, "ScalingActive")["reason"] == "ScalingDisabled"
