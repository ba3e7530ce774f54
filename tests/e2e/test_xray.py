"""The x-ray against a live engine: a Deployment scale-up saved in the folder, then
requests to its NodePort, give the new pod's full journey (file save to the first request
served through the NodePort) whose hop durations add up to the save -> Ready time and to
the save -> request time the test measures, on both NodePort paths (DNAT in the host's
kernel, the proxy worker); Events carry the upstream reporting components; `:xray` shows
live counters for the components that did the work."""

from __future__ import annotations

import json
import os
import time
import urllib.request

import pytest

from conftest import wait_for, wait_for_async
from kubedeck.engine.client import ApiError
from kubedeck.engine.present import journey as jr
from kubedeck.tui.app import KubedeckApp
from kubedeck.tui.xray import ComponentBox, XrayScreen

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: busybox:1.36
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
        ports: [{{containerPort: 8080, name: http}}]
        readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http}}]
"""

HOPS = ["you", "kube-apiserver", "deployment-controller", "replicaset-controller", "default-scheduler",
        "container-runtime", "kubelet", "endpoint-controller", "kube-proxy", "kube-proxy"]


def activity(engine) -> list[dict]:
    try:
        return engine.client.request("GET", "/kubedeck/v1/activity", params={"since": "0"})["items"]
    except ApiError as e:
        raise AssertionError("GET /kubedeck/v1/activity is not served: the lead must install "
                             "ActivityApi in engine/api/server.py (see the x-ray report)") from e


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def get(port: int) -> tuple[float, float, str]:
    """One request to the NodePort: (sent, answered, the answering pod's name)."""
    sent = time.time()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
        body = r.read().decode().strip()
    return sent, time.time(), body


@pytest.mark.parametrize("nodeports", ["kernel", "userspace"])
def test_scale_up_journey_events_and_xray(make_engine, monkeypatch, nodeports):
    if nodeports == "userspace":  # the proxy worker serves every NodePort connection
        monkeypatch.setenv("KUBEDECK_NODEPORT_PROXY", "userspace")
    engine = make_engine()
    engine.write("web.yaml", WEB.format(replicas=1))
    first = wait_for(lambda: engine.running_ready("app=web", 1), 90, what="first pod Ready")
    old = {p["metadata"]["name"] for p in first}
    activity(engine)  # fails clearly until the endpoint is wired

    path = engine.write("web.yaml", WEB.format(replicas=2))
    saved = os.stat(path).st_mtime
    new = None
    deadline = time.time() + 90
    while new is None and time.time() < deadline:  # a tight poll: the measured Ready time
        new = next((p for p in engine.pods("app=web") if p["metadata"]["name"] not in old and ready(p)), None)
        seen = time.time()
        time.sleep(0.01)
    assert new is not None, "the new pod never got Ready"
    measured = seen - saved

    def rules_loaded():
        hops = jr.pod_journey(new, jr.from_activity(activity(engine)), ["web"])
        return hops if hops and hops[-1].what == "loaded the rules of Service web" else None
    wait_for(rules_loaded, 30, what="the journey up to the proxy rules")

    # requests to the NodePort until the new pod answers one: the first that reaches it
    port = engine.client.get("Service", "default", "web")["spec"]["ports"][0]["nodePort"]
    name, answers = new["metadata"]["name"], []
    wait_for(lambda: answers.append(get(port)) or answers[-1][2] == name, 30, what=f"{name} answering on {port}")
    assert {a[2] for a in answers} <= {name, *old}
    sent, answered = answers[-1][:2]

    def served():
        hops = jr.pod_journey(new, jr.from_activity(activity(engine)), ["web"])
        return hops if hops[-1].what.startswith("first request served") else None
    hops = wait_for(served, 40, what="the journey's served hop")  # the agent reads the kernel's sets on a pass
    comps = [h.component for h in hops]
    print("\n".join(" | ".join(r) for r in jr.render(hops)), f"\nmeasured save->Ready {measured * 1000:.0f} ms",
          f"save->request sent {(sent - saved) * 1000:.0f} ms, answered {(answered - saved) * 1000:.0f} ms")
    assert [c for c in comps if c != "kubelet"] == [c for c in HOPS if c != "kubelet"]
    path = "kernel DNAT" if nodeports == "kernel" else "proxy worker"
    assert hops[-1].what == f"first request served through NodePort {port} of Service web ({path})"
    assert hops[-2].what == "loaded the rules of Service web"
    # the served hop is the request's own time, so the durations from the save add up to
    # the measured save -> request time (within 10 %, and much closer: between the request's
    # sending and its answer, with 20 ms for the kernel's jiffies and 150 ms for the way
    # the `docker exec nft list` that tells it takes through a loaded machine's dockerd)
    total = sum(b.at - a.at for a, b in zip(hops, hops[1:]))
    assert hops[0].at == saved and abs(total - (sent - saved)) <= 0.10 * (sent - saved)
    assert sent - saved - 0.02 <= total <= answered - saved + 0.15, (total, sent - saved, answered - saved)
    whats = [h.what for h in hops]
    started = next(i for i, w in enumerate(whats) if w.startswith("Started: Started container web"))
    assert started > comps.index("container-runtime") > comps.index("default-scheduler")
    assert whats[0] == "saved web.yaml" and "Scaled up replica set" in whats[2] and "from 1 to 2" in whats[2]
    ready_hop = whats.index("readiness passed: pod Ready")
    assert ready_hop < comps.index("endpoint-controller") < comps.index("kube-proxy")
    durations = [b.at - a.at for a, b in zip(hops, hops[1:ready_hop + 1])]
    assert all(d >= 0 for d in durations)
    assert abs(sum(durations) - measured) <= 0.10 * measured, (sum(durations), measured)

    # the Events: standard reporting components, as kubectl get events -o json shows them
    out = json.loads(engine.cli("get", "events", "-o", "json").stdout)
    by_reason = {}
    for ev in out["items"]:
        by_reason.setdefault(ev["reason"], set()).add((ev.get("reportingComponent"), ev["source"].get("component")))
    assert by_reason["Scheduled"] == {("default-scheduler", "default-scheduler")}
    assert by_reason["Started"] == {("kubelet", "kubelet")}
    assert by_reason["ScalingReplicaSet"] == {("deployment-controller", "deployment-controller")}
    assert by_reason["SuccessfulCreate"] == {("replicaset-controller", "replicaset-controller")}


async def test_xray_view_counts_a_live_engines_actions(engine, tmp_path):
    engine.write("web.yaml", WEB.format(replicas=1))
    wait_for(lambda: engine.running_ready("app=web", 1), 90, what="pod Ready")
    node = engine.client.list("Node")[0]["metadata"]["name"]
    conn = json.loads((engine.state / "api.json").read_text())
    app = KubedeckApp(api_url=conn["url"], token=conn["token"], ca=conn["ca"], config_dir=tmp_path / "cfg",
                      status_interval=0.2, retry_delay=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_async(lambda: len(app.informers["nodes"].cache) >= 1, pause=pilot.pause, what="nodes")
        await pilot.press("colon", *"xray", "enter")
        await wait_for_async(lambda: isinstance(app.screen, XrayScreen), pause=pilot.pause, what="x-ray")
        screen = app.screen
        boxes = {b.box: b for b in screen.query(ComponentBox)}

        def counted(*names):
            return all(boxes[n].counts[1] > 0 for n in names)
        await wait_for_async(lambda: counted("folder", "apiserver", "etcd", "scheduler", "controllers",
                                             f"kubelet@{node}", f"runtime@{node}", f"proxy@{node}"),
                             pause=pilot.pause, timeout=20, what="every component counted")
        before = boxes["scheduler"].counts[1]
        engine.write("web.yaml", WEB.format(replicas=2))  # live: the scale-up shows while open
        await wait_for_async(lambda: boxes["scheduler"].counts[1] > before, pause=pilot.pause, timeout=60,
                             what="the scheduler's counter moves")
        assert "● ok" in str(boxes["apiserver"].render()) and "● Ready" in str(boxes[f"kubelet@{node}"].render())
