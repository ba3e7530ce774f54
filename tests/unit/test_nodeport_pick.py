"""NodePortProxy.pick, the endpoint choice of NodePorts (round-robin, ClientIP affinity
with its timeout), over Endpoints in a real store. The e2e tests in test_slice.py drive
the same code through real listeners and pods."""

from __future__ import annotations

from kubedeck.engine.proxy import nodeport
from kubedeck.engine.proxy.nodeport import NodePortProxy, ServicePort


def endpoints(cluster, *ips: str) -> None:
    body = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
            "subsets": [{"addresses": [{"ip": ip} for ip in ips], "ports": [{"name": "http", "port": 8080}]}]}
    live = cluster.store.peek("Endpoints", "default", "web")
    if live:
        body["metadata"] = live["metadata"]
        cluster.store.update(body, check_rv=False)
    else:
        cluster.store.create(body)


def test_round_robin_without_affinity(cluster):
    endpoints(cluster, "10.0.0.2", "10.0.0.3")
    proxy, sp = NodePortProxy(cluster.store), ServicePort("default", "web", "http", 80, "http")
    assert {proxy.pick(sp, set(), "127.0.0.1")[0] for _ in range(4)} == {"10.0.0.2", "10.0.0.3"}


def test_client_ip_affinity_lasts_its_timeout_since_the_last_connection(cluster, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(nodeport.time, "monotonic", lambda: clock[0])
    endpoints(cluster, "10.0.0.2", "10.0.0.3")
    proxy, sp = NodePortProxy(cluster.store), ServicePort("default", "web", "http", 80, "http", affinity=60)
    first = proxy.pick(sp, set(), "127.0.0.1")
    for _ in range(5):  # every 50 s: each connection restarts the 60 s clock
        clock[0] += 50
        assert proxy.pick(sp, set(), "127.0.0.1") == first
    # other clients take the round-robin on: the next fresh choice is the other endpoint
    assert proxy.pick(sp, set(), "127.0.0.2") != first
    assert proxy.pick(sp, set(), "127.0.0.3") == first
    clock[0] += 59
    assert proxy.pick(sp, set(), "127.0.0.1") == first  # still sticky
    clock[0] += 61  # quiet for longer than the timeout: a fresh choice, then sticky to it
    fresh = proxy.pick(sp, set(), "127.0.0.1")
    assert fresh != first and proxy.pick(sp, set(), "127.0.0.1") == fresh


def test_affinity_moves_off_an_endpoint_that_is_no_longer_ready(cluster):
    endpoints(cluster, "10.0.0.2", "10.0.0.3")
    proxy, sp = NodePortProxy(cluster.store), ServicePort("default", "web", "http", 80, "http", affinity=10800)
    first = proxy.pick(sp, set(), "127.0.0.1")
    other = next(ip for ip in ("10.0.0.2", "10.0.0.3") if ip != first[0])
    endpoints(cluster, other)
    assert proxy.pick(sp, set(), "127.0.0.1") == (other, 8080)
    assert proxy.pick(sp, {(other, 8080)}, "127.0.0.1") is None  # tried already: nothing left
    assert nodeport.affinity_seconds({"sessionAffinity": "ClientIP"}) == 10800


def test_a_clients_new_endpoint_is_reported_and_remembered_for_the_kernel(cluster, monkeypatch):
    """The worker reports a client's new sticky endpoint (not each connection); the
    engine's proxy remembers it, and `clients` gives the kernel's rules their seeds."""
    clock = [1000.0]
    monkeypatch.setattr(nodeport.time, "monotonic", lambda: clock[0])
    endpoints(cluster, "10.0.0.2", "10.0.0.3")
    worker, sp = NodePortProxy(cluster.store), ServicePort("default", "web", "http", 80, "http", affinity=60)
    reports = []
    worker.sticky_changed = lambda *r: reports.append(r)
    first = worker.pick(sp, set(), "127.0.0.1")
    worker.pick(sp, set(), "127.0.0.1")
    assert reports == [(sp, "127.0.0.1", first, 1060.0)]
    worker.pick(ServicePort("default", "web", "http", 80, "http"), set(), "127.0.0.1")  # no affinity: no report
    assert len(reports) == 1

    engine = NodePortProxy(cluster.store)
    engine.listeners[nodeport.ListenerSpec("127.0.0.1", 30080, "TCP")] = (sp, None)
    engine.remember(engine._key(nodeport.ListenerSpec("127.0.0.1", 30080, "TCP")), "127.0.0.1", first, 1060.0)
    engine.remember("nodeport:127.0.0.1:30999/TCP", "127.0.0.9", first, 1060.0)  # a listener it does not have
    clock[0] += 10
    assert engine.clients(sp) == {first: [("127.0.0.1", 50.0)]}
    clock[0] += 51
    assert engine.clients(sp) == {}  # expired


def test_a_gone_services_clients_lose_their_stickiness(cluster):
    """A Service deleted (its UDP listener closed here): the clients it pinned are
    forgotten, so a new Service on the same port starts afresh (and seeds nothing)."""
    import asyncio

    endpoints(cluster, "10.0.0.2", "10.0.0.3")
    proxy, sp = NodePortProxy(cluster.store), ServicePort("default", "web", "http", 80, "http", affinity=60)
    proxy.pick(sp, set(), "127.0.0.1")
    assert proxy.clients(sp)

    class Closed:
        def close(self):
            pass
    proxy.listeners[nodeport.ListenerSpec("127.0.0.1", 30999, "UDP")] = (sp, Closed())
    asyncio.run(proxy._reconcile())  # no Service wants the port any more
    assert not proxy.listeners and proxy.clients(sp) == {}
