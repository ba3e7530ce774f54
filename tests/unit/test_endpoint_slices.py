"""Endpoints and EndpointSlices from the Endpoints controller, on an in-process store."""

from __future__ import annotations

from controller_kit import sync

from kubedeck.engine.clock import FakeClock
from kubedeck.engine.controllers.endpoints import EndpointsController
from kubedeck.engine.controllers.manager import Reconciler


def controller(cluster) -> Reconciler:
    return Reconciler(EndpointsController(cluster.store, lb_address="127.0.0.1"), cluster.objects, FakeClock())


def pod(cluster, name, ip, ready):
    cluster.store.create({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
        "spec": {"nodeName": "kubedeck", "containers": [{"name": "c", "image": "x",
                                                         "ports": [{"name": "http", "containerPort": 8080}]}]},
        "status": {"phase": "Running", "podIP": ip,
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}})


def slices(cluster, service="web"):
    return [s for s in cluster.store.list("EndpointSlice")
            if s["metadata"]["labels"].get("kubernetes.io/service-name") == service]


def test_slices_follow_the_service_pods_and_ports(cluster):
    cluster.store.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                          "spec": {"selector": {"app": "web"},
                                   "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
    ctl = controller(cluster)
    sync(ctl)
    [empty] = slices(cluster)
    assert empty["endpoints"] == [] and empty["addressType"] == "IPv4"
    assert empty["metadata"]["ownerReferences"][0]["kind"] == "Service"

    pod(cluster, "web-a", "10.0.0.1", ready=True)
    pod(cluster, "web-b", "10.0.0.2", ready=False)
    sync(ctl)
    [sl] = slices(cluster)
    assert sl["metadata"]["name"] == empty["metadata"]["name"]  # updated in place, not replaced
    assert sl["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]  # the named targetPort, resolved
    got = {e["targetRef"]["name"]: (e["addresses"], e["conditions"]["ready"]) for e in sl["endpoints"]}
    assert got == {"web-a": (["10.0.0.1"], True), "web-b": (["10.0.0.2"], False)}
    ep = cluster.store.get("Endpoints", "default", "web")
    assert [a["ip"] for a in ep["subsets"][0]["addresses"]] == ["10.0.0.1"]

    rv = sl["metadata"]["resourceVersion"]
    sync(ctl)  # nothing changed: no write
    assert slices(cluster)[0]["metadata"]["resourceVersion"] == rv

    cluster.store.delete("Service", "default", "web")
    sync(ctl)
    assert slices(cluster) == [] and cluster.store.peek("Endpoints", "default", "web") is None


def test_an_external_name_service_has_no_cluster_ip_even_after_a_type_change(cluster):
    cluster.store.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": "default"},
                          "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]}})
    ctl = controller(cluster)
    sync(ctl)
    svc = cluster.store.get("Service", "default", "db")
    assert svc["spec"]["clusterIP"] and svc["spec"]["clusterIPs"] == [svc["spec"]["clusterIP"]]
    svc["spec"] = {**svc["spec"], "type": "ExternalName", "externalName": "db.example.com"}
    cluster.store.update(svc, check_rv=False)
    sync(ctl)
    spec = cluster.store.get("Service", "default", "db")["spec"]
    assert "clusterIP" not in spec and "clusterIPs" not in spec
    spec = {**spec, "type": "ClusterIP"}
    spec.pop("externalName")
    svc = cluster.store.get("Service", "default", "db")
    svc["spec"] = spec
    cluster.store.update(svc, check_rv=False)
    sync(ctl)
    assert cluster.store.get("Service", "default", "db")["spec"]["clusterIP"]  # a fresh one


def test_node_ports_come_from_the_serve_range_and_a_full_range_is_an_event(cluster):
    """`serve --service-node-port-range 30100-30101`: both ends are picked, a third
    NodePort Service gets none and a Warning Event says why (retried later)."""
    ctl = Reconciler(EndpointsController(cluster.store, lb_address="127.0.0.1", node_port_range=(30100, 30101)),
                     cluster.objects, FakeClock())
    for name in ("a", "b", "c"):
        cluster.store.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
                              "spec": {"type": "NodePort", "selector": {"app": name}, "ports": [{"port": 80}]}})
        sync(ctl)
    got = {n: cluster.store.get("Service", "default", n)["spec"]["ports"][0].get("nodePort") for n in "abc"}
    assert sorted([got["a"], got["b"]]) == [30100, 30101] and got["c"] is None
    [ev] = [e for e in cluster.store.list("Event") if e["reason"] == "ReconcileError"]
    assert ev["involvedObject"]["name"] == "c" and "no free nodePort left in the range 30100-30101" in ev["message"]
