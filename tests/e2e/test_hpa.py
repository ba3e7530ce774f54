"""A HorizontalPodAutoscaler on real Docker: `kubectl autoscale` on a Deployment whose
pods burn CPU, the controller reading the containers' cgroup usage (the metrics.k8s.io
sampler) and scaling the Deployment, `kubectl get hpa` showing it as on a cluster."""

from __future__ import annotations

import json
import subprocess

from conftest import wait_for
from e2e_kit import deployment, kubectl_version

# a busy loop held to 200m by its limit, against a 100m request: 200 % of the request
BURN = deployment("burn", """
terminationGracePeriodSeconds: 0
containers:
- name: c
  image: busybox:1.36
  command: [sh, -c, "while :; do :; done"]
  resources: {requests: {cpu: 100m}, limits: {cpu: 200m}}
""")


def test_autoscale_scales_a_busy_deployment_up(engine):
    engine.write("burn.yaml", BURN)
    wait_for(lambda: engine.running_ready("app=burn", 1), 60, what="the first pod")
    kubectl = [kubectl_version("1.33"), "--kubeconfig", str(engine.state / "kubeconfig")]

    def k(*args: str) -> str:
        r = subprocess.run([*kubectl, *args], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout
    k("autoscale", "deployment", "burn", "--cpu-percent=50", "--min=1", "--max=3")
    # 200 % of the request against 50 %: four pods asked, three allowed
    wait_for(lambda: engine.client.get("Deployment", "default", "burn")["spec"]["replicas"] == 3, 60,
             what="the Deployment scaled to 3 by the HPA")
    hpa = json.loads(k("get", "hpa", "burn", "-o", "json"))
    status = hpa["status"]
    assert status["desiredReplicas"] == 3 and status.get("lastScaleTime")
    utilization = status["currentMetrics"][0]["resource"]["current"]["averageUtilization"]
    assert utilization > 100, status  # the limit holds each pod near 200 %
    limited = next(c for c in status["conditions"] if c["type"] == "ScalingLimited")
    assert limited["status"] == "True" and limited["reason"] == "TooManyReplicas"
    events = [e for e in engine.client.list("Event", "default") if e["reason"] == "SuccessfulRescale"]
    assert events and events[0]["message"].startswith("New size: 3; reason: cpu resource utilization")
    table = k("get", "hpa", "burn")
    assert "Deployment/burn" in table and "/50%" in table and "cpu: " in table, table
    wait_for(lambda: engine.running_ready("app=burn", 3), 60, what="3 pods running")
    engine.write("burn.yaml", "")  # the burners stop before the next test
    wait_for(lambda: not engine.pods("app=burn"), 60, what="the pods gone")
