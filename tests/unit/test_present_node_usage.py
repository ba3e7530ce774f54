"""node_usage remembers what each pod adds while the pod is the same object (the TUI's
nodes pane goes over every pod, for every node, whenever one changes): a pod replaced by
a new object is counted again, terminated pods and other nodes' pods count nothing, and
the memory does not keep pods long gone."""

from __future__ import annotations

from kubedeck.engine.present import format as fmt

NODE = {"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}}}


def pod(name: str, cpu: str, node: str = "n1", phase: str = "Running") -> dict:
    return {"metadata": {"name": name}, "status": {"phase": phase},
            "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}}


def test_each_pod_is_worked_out_once_per_object(monkeypatch):
    calls = []
    real = fmt.pod_requests
    monkeypatch.setattr(fmt, "pod_requests", lambda p: calls.append(p["metadata"]["name"]) or real(p))
    monkeypatch.setattr(fmt, "_pods_seen", {})
    pods = [pod("a", "100m"), pod("b", "200m"), pod("c", "1", node="n2"), pod("d", "2", phase="Succeeded")]
    assert fmt.node_usage(NODE, pods) == ["2", "300m/4", "0/8Gi"]
    assert sorted(calls) == ["a", "b", "c"]  # a finished pod requests nothing
    calls.clear()
    assert fmt.node_usage(NODE, pods) == ["2", "300m/4", "0/8Gi"]
    assert fmt.node_usage({"metadata": {"name": "n2"}}, pods)[:2] == ["1", "1/0m"]
    assert calls == []  # nothing changed: remembered, for every node
    pods[1] = pod("b", "500m")  # a watch event: a new object
    pods[0] = pod("a", "100m", phase="Failed")
    assert fmt.node_usage(NODE, pods) == ["1", "500m/4", "0/8Gi"]
    assert calls == ["b"]


def test_pods_gone_are_forgotten(monkeypatch):
    monkeypatch.setattr(fmt, "_pods_seen", {})
    fmt.node_usage(NODE, [pod(f"p{i}", "10m") for i in range(1500)])
    assert len(fmt._pods_seen) == 1500
    fmt.node_usage(NODE, [pod("left", "10m")])  # 1,499 gone since
    assert len(fmt._pods_seen) == 0
