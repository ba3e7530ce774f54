"""node_usage remembers each pod's requests while the pod's spec is the same object (the
TUI's nodes pane goes over every pod whenever one changes): a pod replaced by a new object
is counted again, one without a uid is always counted, and the memory does not keep pods
long gone."""

from __future__ import annotations

from kubedeck.engine.present import format as fmt

NODE = {"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}}}


def pod(name: str, cpu: str, uid: bool = True) -> dict:
    meta = {"name": name, **({"uid": f"uid-{name}"} if uid else {})}
    return {"metadata": meta, "status": {"phase": "Running"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}}


def test_requests_are_remembered_per_spec_object(monkeypatch):
    calls = []
    real = fmt.pod_requests
    monkeypatch.setattr(fmt, "pod_requests", lambda p: calls.append(p["metadata"]["name"]) or real(p))
    monkeypatch.setattr(fmt, "_requests_seen", {})
    pods = [pod("a", "100m"), pod("b", "200m"), pod("c", "1", uid=False)]
    assert fmt.node_usage(NODE, pods) == ["3", "1300m/4", "0/8Gi"]
    assert sorted(calls) == ["a", "b", "c"]
    calls.clear()
    assert fmt.node_usage(NODE, pods)[1] == "1300m/4"
    assert calls == ["c"]  # a and b unchanged: remembered; c has no uid to remember it by
    calls.clear()
    pods[1] = pod("b", "500m")  # a watch event: a new object
    assert fmt.node_usage(NODE, pods)[1] == "1600m/4"
    assert sorted(calls) == ["b", "c"]


def test_pods_gone_are_forgotten(monkeypatch):
    monkeypatch.setattr(fmt, "_requests_seen", {})
    fmt.node_usage(NODE, [pod(f"p{i}", "10m") for i in range(1500)])
    assert len(fmt._requests_seen) == 1500
    fmt.node_usage(NODE, [pod("left", "10m")])  # 1,499 deleted since
    assert len(fmt._requests_seen) == 0
