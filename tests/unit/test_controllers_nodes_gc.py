"""Node lifecycle, eviction and garbage collection on an in-process store (no Docker, no
Cluster), on a fake clock."""

from __future__ import annotations

import pytest
from controller_kit import make_kit, sync

from kubedeck.engine.controllers.gc import GarbageCollector
from kubedeck.engine.controllers.nodes import NodeController, load_config
from kubedeck.engine.controllers.podutil import owner_ref


@pytest.fixture
def cluster(tmp_path):
    k = make_kit(tmp_path)
    yield k
    k.store.close()


def nodes(kit):
    return kit.run(NodeController(kit.store, kit.objects, kit.clock, state_dir=kit.state, count=3))


def gc(kit):
    return kit.run(GarbageCollector(kit.store, kit.objects))


def cond(obj, t):
    return next(c for c in obj["status"]["conditions"] if c["type"] == t)


def bound_pod(cluster, name, node, **spec):
    return cluster.store.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                                 "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}], **spec}})


def test_default_nodes_and_config_file(tmp_path, cluster):
    sync(nodes(cluster))
    names = [n["metadata"]["name"] for n in cluster.store.list("Node")]
    assert names == ["kubedeck", "kubedeck-m02", "kubedeck-m03"]
    n = cluster.store.get("Node", "", "kubedeck")
    assert cond(n, "Ready")["status"] == "True" and cond(n, "MemoryPressure")["reason"] == "KubeletHasSufficientMemory"
    assert {"machineID", "systemUUID", "bootID", "kernelVersion", "osImage"} <= set(n["status"]["nodeInfo"])
    (tmp_path / "cluster.yaml").write_text("nodes: [{name: a, memory: 1Gi}, {cpu: 2}]\n")
    conf = load_config(tmp_path, 3)
    assert [n["name"] for n in conf["nodes"]] == ["a", "kubedeck-m02"] and conf["evictionSeconds"] == 5
    bound_pod(cluster, "on-m03", "kubedeck-m03")
    sync(nodes(cluster))
    # nodes kubedeck made that the file no longer names are removed
    assert sorted(n["metadata"]["name"] for n in cluster.store.list("Node")) == ["a", "kubedeck-m02"]
    assert cluster.store.get("Node", "", "a")["status"]["allocatable"]["memory"] == "1Gi"
    assert cluster.store.get("Pod", "default", "on-m03") is None  # its node is gone


def test_stopped_node_taints_and_evicts_after_timeout(tmp_path, cluster):
    (tmp_path / "cluster.yaml").write_text("podEvictionTimeoutSeconds: 0\nnodes: [{name: n1}, {name: n2}]\n")
    ctl = nodes(cluster)
    sync(ctl)
    bound_pod(cluster, "plain", "n2")
    bound_pod(cluster, "patient", "n2", tolerations=[{"key": "node.kubernetes.io/unreachable",
                                                      "operator": "Exists", "effect": "NoExecute"}])
    bound_pod(cluster, "elsewhere", "n1")
    node = cluster.store.get("Node", "", "n2")
    node["metadata"]["annotations"] = {"kubedeck.io/stopped": "true"}
    cluster.store.update(node)
    sync(ctl)
    node = cluster.store.get("Node", "", "n2")
    assert cond(node, "Ready")["status"] == "Unknown" and cond(node, "Ready")["reason"] == "NodeStatusUnknown"
    assert {(t["key"], t["effect"]) for t in node["spec"]["taints"]} == {
        ("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")}
    sync(ctl)
    assert cluster.store.get("Pod", "default", "plain") is None  # no agent here: deleted at once
    assert cluster.store.get("Pod", "default", "patient") is not None  # tolerates forever
    assert cluster.store.get("Pod", "default", "elsewhere") is not None
    node["metadata"]["annotations"] = {}
    cluster.store.update(node, check_rv=False)
    sync(ctl)
    node = cluster.store.get("Node", "", "n2")
    assert cond(node, "Ready")["status"] == "True" and not node["spec"].get("taints")


def test_cordon_adds_the_unschedulable_taint(cluster):
    ctl = nodes(cluster)
    sync(ctl)
    node = cluster.store.get("Node", "", "kubedeck")
    node["spec"]["unschedulable"] = True
    node["spec"]["taints"] = [{"key": "mine", "effect": "NoSchedule"}]
    cluster.store.update(node)
    sync(ctl)
    keys = [t["key"] for t in cluster.store.get("Node", "", "kubedeck")["spec"]["taints"]]
    assert keys == ["mine", "node.kubernetes.io/unschedulable"]


def _chain(cluster):
    d = cluster.store.create({"apiVersion": "apps/v1", "kind": "Deployment",
                              "metadata": {"name": "d", "namespace": "default"}, "spec": {}})
    rs = cluster.store.create({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                               "metadata": {"name": "d-1", "namespace": "default", "ownerReferences": [owner_ref(d)]},
                               "spec": {}})
    p = cluster.store.create({"apiVersion": "v1", "kind": "Pod",
                              "metadata": {"name": "d-1-a", "namespace": "default", "ownerReferences": [owner_ref(rs)]},
                              "spec": {"containers": []}})
    return d, rs, p


def test_foreground_keeps_the_owner_until_dependents_are_gone(cluster):
    _chain(cluster)
    out = cluster.objects.delete("Deployment", "default", "d", propagation="Foreground")
    assert out["metadata"]["deletionTimestamp"] and out["metadata"]["finalizers"] == ["foregroundDeletion"]
    gcr = gc(cluster)
    sync(gcr)
    # the ReplicaSet is deleted in foreground too: it waits for its pod
    assert cluster.store.get("Deployment", "default", "d") is not None
    rs = cluster.store.get("ReplicaSet", "default", "d-1")
    assert rs["metadata"]["deletionTimestamp"] and rs["metadata"]["finalizers"] == ["foregroundDeletion"]
    sync(gcr)
    assert cluster.store.get("Pod", "default", "d-1-a") is None
    assert cluster.store.get("Deployment", "default", "d") is not None
    for _ in range(3):
        sync(gcr)
    assert cluster.store.get("ReplicaSet", "default", "d-1") is None
    assert cluster.store.get("Deployment", "default", "d") is None


def test_background_and_orphan(cluster):
    _chain(cluster)
    cluster.objects.delete("Deployment", "default", "d")
    gcr = gc(cluster)
    sync(gcr)
    sync(gcr)
    assert not cluster.store.list("ReplicaSet") and not cluster.store.list("Pod")
    _chain(cluster)
    cluster.objects.delete("Deployment", "default", "d", propagation="Orphan")
    sync(gcr)
    rs = cluster.store.get("ReplicaSet", "default", "d-1")
    assert rs is not None and not rs["metadata"]["ownerReferences"]
    assert cluster.store.get("Pod", "default", "d-1-a") is not None
