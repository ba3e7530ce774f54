"""The official `kubernetes` Python client (PyPI) against a live kubedeck, through the
kubeconfig the engine writes: TLS verified against the cluster CA, a bearer token."""

from __future__ import annotations

import threading

import pytest
from kubernetes import client, config, watch

from conftest import wait_for

pytestmark = pytest.mark.docker


@pytest.fixture
def api(engine):
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(engine.state / "kubeconfig"), client_configuration=cfg)
    assert cfg.verify_ssl and cfg.host.startswith("https://127.0.0.1:")
    with client.ApiClient(cfg) as c:
        yield c


def test_list_create_patch_delete(api, engine):
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    assert "default" in [n.metadata.name for n in core.list_namespace().items]
    assert [n.metadata.name for n in core.list_node().items] == ["kubedeck"]
    cm = core.create_namespaced_config_map("default", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="py", labels={"from": "python"}), data={"a": "1"}))
    assert cm.metadata.uid and cm.metadata.resource_version
    core.patch_namespaced_config_map("py", "default", {"data": {"b": "2"}})  # strategic merge patch
    assert core.read_namespaced_config_map("py", "default").data == {"a": "1", "b": "2"}
    assert [c.metadata.name for c in core.list_namespaced_config_map("default", label_selector="from=python").items] \
        == ["py"]
    dep = apps.create_namespaced_deployment("default", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pyweb"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "pyweb"}},
                 "template": {"metadata": {"labels": {"app": "pyweb"}},
                              # sleep as PID 1 ignores SIGTERM: 1 s, not the default 30 s
                              "spec": {"terminationGracePeriodSeconds": 1,
                                       "containers": [{"name": "c", "image": "busybox:1.36",
                                                       "command": ["sleep", "3600"]}]}}}})
    assert dep.spec.replicas == 1
    apps.patch_namespaced_deployment_scale("pyweb", "default", {"spec": {"replicas": 2}})
    wait_for(lambda: engine.running_ready("app=pyweb", 2), 60, what="2 pods of the Deployment")
    with pytest.raises(client.exceptions.ApiException) as e:
        core.read_namespaced_pod("nope", "default")
    assert e.value.status == 404
    core.delete_namespaced_config_map("py", "default")
    # a collection's DELETE with a selector (no kubectl command sends one; client libraries do)
    for name in ("py-a", "py-b"):
        core.create_namespaced_config_map("default", client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name, labels={"batch": "1"})))
    core.delete_collection_namespaced_config_map("default", label_selector="batch=1")
    assert core.list_namespaced_config_map("default", label_selector="batch=1").items == []
    apps.delete_namespaced_deployment("pyweb", "default", propagation_policy="Foreground")
    wait_for(lambda: not engine.pods("app=pyweb"), 60, what="pods deleted with their Deployment")


def test_watch_from_a_resource_version(api):
    core = client.CoreV1Api(api)
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def follow():
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=30):
            seen.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()
        done.set()
    t = threading.Thread(target=follow, daemon=True)
    t.start()
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w")))
    core.patch_namespaced_config_map("w", "default", {"data": {"x": "1"}})
    core.delete_namespaced_config_map("w", "default")
    assert done.wait(30), seen
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
