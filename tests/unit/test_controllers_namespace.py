"""Namespace deletion on an in-process store (no Docker, no Cluster): the Namespace turns
Terminating, takes no new content, its content is deleted (owners in the background,
pods gracefully, as a kubelet would finish them), and it goes once nothing is left."""

from __future__ import annotations

import pytest
from controller_kit import make_kit, sync

from kubedeck.engine.controllers.gc import GarbageCollector
from kubedeck.engine.controllers.namespace import NamespaceController
from kubedeck.engine.controllers.podutil import owner_ref
from kubedeck.engine.objects import prepare_create, prepare_update
from kubedeck.engine.store import StoreError, WatchEvent


@pytest.fixture
def cluster(tmp_path):
    k = make_kit(tmp_path)
    yield k
    k.store.close()


def namespace(cluster, name: str) -> dict:
    return cluster.store.create(prepare_create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))


def test_a_deleted_namespace_takes_its_content_and_then_goes(cluster):
    store = cluster.store
    ns = namespace(cluster, "scratch")
    assert ns["spec"]["finalizers"] == ["kubernetes"] and ns["status"]["phase"] == "Active"
    store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "scratch"}})
    rs = store.create({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": "scratch"},
                       "spec": {}})
    store.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "web-1", "namespace": "scratch", "ownerReferences": [owner_ref(rs)]},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "x"}]}})
    store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep", "namespace": "default"}})

    out = cluster.objects.delete("Namespace", "", "scratch")
    assert out["metadata"]["deletionTimestamp"] and out["status"]["phase"] == "Terminating"
    with pytest.raises(StoreError) as e:  # nothing new in a namespace being deleted
        store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late", "namespace": "scratch"}})
    assert e.value.code == 403 and e.value.message == (
        'configmaps "late" is forbidden: unable to create new content in namespace scratch because it is being terminated')

    controller, collector = cluster.run(NamespaceController(store, cluster.objects)), cluster.run(
        GarbageCollector(store, cluster.objects))
    sync(controller, collector)
    assert not store.list("ConfigMap", "scratch") and not store.list("ReplicaSet", "scratch")
    assert store.peek("Namespace", "", "scratch")  # held while the pod's deletion is not finished
    # the objects service has no kubelet here, so the pod went at once: nothing is left
    assert not store.list("Pod", "scratch")
    cluster.clock.advance(1.0)
    sync(controller)
    assert store.peek("Namespace", "", "scratch") is None
    assert [c["metadata"]["name"] for c in store.list("ConfigMap", "default")] == ["keep"]


def test_a_pod_in_its_grace_period_holds_the_namespace(cluster):
    store = cluster.store
    namespace(cluster, "scratch")
    store.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "scratch"},
                  "spec": {"containers": [{"name": "c", "image": "x"}]}})
    store.delete("Pod", "scratch", "p", graceful=True)  # a kubelet still stopping it
    cluster.objects.delete("Namespace", "", "scratch")
    controller = cluster.run(NamespaceController(store, cluster.objects))
    sync(controller)
    cluster.clock.advance(5.0)
    sync(controller)
    assert store.peek("Namespace", "", "scratch")["status"]["phase"] == "Terminating"
    gone = store.delete("Pod", "scratch", "p")  # the kubelet is done: its deletion wakes the namespace
    controller.observe(WatchEvent("DELETED", gone, int(gone["metadata"]["resourceVersion"])))
    controller.run_ready()
    assert store.peek("Namespace", "", "scratch") is None


def test_the_api_servers_namespaces_may_not_be_deleted_and_updates_keep_the_finalizer(cluster):
    for name in ("default", "kube-system", "kube-public"):
        with pytest.raises(StoreError) as e:
            cluster.objects.delete("Namespace", "", name)
        assert e.value.code == 403 and e.value.message == f'namespaces "{name}" is forbidden: this namespace may not be deleted'
    live = namespace(cluster, "team")
    new = prepare_update({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "labels": {"a": "b"}}},
                         live)
    assert new["spec"]["finalizers"] == ["kubernetes"] and new["status"] == {"phase": "Active"}
    cluster.store.update(new, check_rv=False)
    cluster.objects.delete("Namespace", "", "team")
    assert cluster.store.peek("Namespace", "", "team")  # still held by its finalizer


def test_a_namespace_from_an_older_state_dir_takes_its_content_too(cluster):
    """Made before namespaces got their finalizer: the deletion adds it first."""
    store = cluster.store
    store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "old"}})  # no spec.finalizers
    store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "old"}})
    assert cluster.objects.delete("Namespace", "", "old")["status"]["phase"] == "Terminating"
    controller = cluster.run(NamespaceController(store, cluster.objects))
    sync(controller)
    cluster.clock.advance(1.0)
    sync(controller)
    assert store.peek("Namespace", "", "old") is None and not store.list("ConfigMap", "old")
