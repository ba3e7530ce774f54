"""Every namespace's `default` ServiceAccount and `kube-root-ca.crt` ConfigMap, on an
in-process store (no Docker, no Cluster)."""

from __future__ import annotations

import pytest
from controller_kit import make_kit, sync

from kubedeck.engine.controllers.namespace import NamespaceController
from kubedeck.engine.controllers.serviceaccounts import ROOT_CA, ServiceAccountsController
from kubedeck.engine.objects import prepare_create
from kubedeck.engine.store import WatchEvent

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
def cluster(tmp_path):
    k = make_kit(tmp_path)
    yield k
    k.store.close()


def test_each_namespace_gets_them_and_gets_them_back(cluster):
    store = cluster.store
    store.create(prepare_create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}))
    controller = cluster.run(ServiceAccountsController(store, ca_pem=CA))
    sync(controller)
    for ns in ("default", "kube-system", "team"):
        assert store.peek("ServiceAccount", ns, "default") is not None, ns
        assert store.peek("ConfigMap", ns, ROOT_CA)["data"] == {"ca.crt": CA}, ns
    # deleted, or its CA changed: put back, woken by the event alone
    gone = store.delete("ServiceAccount", "team", "default")
    live = store.peek("ConfigMap", "team", ROOT_CA)
    changed = store.update({**live, "data": {"ca.crt": "mine"}}, check_rv=False)
    for etype, obj in (("DELETED", gone), ("MODIFIED", changed)):
        controller.observe(WatchEvent(etype, obj, int(obj["metadata"]["resourceVersion"])))
    controller.run_ready()
    assert store.peek("ServiceAccount", "team", "default") is not None
    assert store.peek("ConfigMap", "team", ROOT_CA)["data"] == {"ca.crt": CA}


def test_a_terminating_namespace_is_left_to_go(cluster):
    store = cluster.store
    store.create(prepare_create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}))
    accounts = cluster.run(ServiceAccountsController(store, ca_pem=CA))
    namespaces = cluster.run(NamespaceController(store, cluster.objects))
    sync(accounts)
    cluster.objects.delete("Namespace", "", "team")
    sync(namespaces, accounts)  # deletes both; the accounts controller makes nothing anew
    assert store.peek("ServiceAccount", "team", "default") is None
    sync(namespaces)
    assert store.peek("Namespace", "", "team") is None


def test_the_api_service_is_kept_as_the_api_server_keeps_it(cluster):
    from kubedeck.engine.controllers.master_service import MasterServiceController

    store = cluster.store
    controller = cluster.run(MasterServiceController(store, api_port=41234))
    sync(controller)
    svc = store.peek("Service", "default", "kubernetes")
    assert svc["spec"]["clusterIP"] == "10.96.0.1" and svc["spec"]["ports"][0]["targetPort"] == 41234
    assert store.peek("Endpoints", "default", "kubernetes")["subsets"][0]["ports"][0]["port"] == 41234
    assert store.peek("EndpointSlice", "default", "kubernetes")["endpoints"][0]["addresses"] == ["127.0.0.1"]
    rv = svc["metadata"]["resourceVersion"]
    sync(controller)
    assert store.peek("Service", "default", "kubernetes")["metadata"]["resourceVersion"] == rv  # no churn
    # deleted or edited: put back, woken by the events alone
    gone = store.delete("Endpoints", "default", "kubernetes")
    edited = store.update({**svc, "spec": {**svc["spec"], "ports": []}}, check_rv=False)
    for etype, obj in (("DELETED", gone), ("MODIFIED", edited)):
        controller.observe(WatchEvent(etype, obj, int(obj["metadata"]["resourceVersion"])))
    controller.run_ready()
    assert store.peek("Endpoints", "default", "kubernetes") is not None
    assert store.peek("Service", "default", "kubernetes")["spec"]["ports"][0]["port"] == 443
