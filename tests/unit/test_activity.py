"""The activity stream: the ring, what the store records into it, the endpoint, its cost."""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kubedeck.engine import activity
from kubedeck.engine.api.activity_api import ActivityApi
from kubedeck.engine.objects import ObjectService
from kubedeck.engine.store import Store


def test_ring_is_bounded_and_since_returns_what_is_newer():
    ring = activity.Activity(size=5)
    for i in range(8):
        ring.record("kubelet", "status", "Pod", "default", f"p{i}")
    assert len(ring.ring) == 5
    assert [e["name"] for e in ring.since(0)] == ["p3", "p4", "p5", "p6", "p7"]
    assert [e["seq"] for e in ring.since(6)] == [7, 8]
    assert ring.since(8) == []
    assert [e["name"] for e in ring.since(0, limit=2)] == ["p6", "p7"]
    first = ring.since(0)[0]
    assert first["start"] == first["end"] and first["component"] == "kubelet"


def test_store_writes_and_events_are_recorded(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    since = activity.RING.last_seq()
    pod = store.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "default"},
                        "spec": {"containers": []}})
    ObjectService(store).record_event(pod, "Scheduled", "Successfully assigned default/web-1 to node-1",
                                      component="default-scheduler")
    got = [(e["component"], e["verb"], e["kind"], e["name"]) for e in activity.RING.since(since)]
    assert got[0] == ("etcd", "ADDED", "Pod", "web-1")
    assert ("etcd", "ADDED", "Event", got[1][3]) == got[1] and got[1][3].startswith("web-1.")
    assert got[2] == ("default-scheduler", "Scheduled", "Pod", "web-1")
    write = activity.RING.since(since)[0]
    assert write["detail"] == 0  # no watcher: fanned out to nobody
    assert write["start"] <= write["end"]


async def test_endpoint_serves_entries_after_since():
    ring = activity.Activity()
    for i in range(3):
        # fixed times, exact in binary: `now - 0.01` against a later time.time() came out
        # 0.00999999 when the clock had not moved (1.8e9 s has a 2.4e-7 s float step)
        ring.record("kube-proxy", "load-rules", "Service", "default", f"s{i}", start=100.0, end=100.25)
    app = web.Application()
    ActivityApi(ring).install(app)
    async with TestClient(TestServer(app)) as client:
        body = await (await client.get("/kubedeck/v1/activity", params={"since": "1"})).json()
        assert [i["name"] for i in body["items"]] == ["s1", "s2"]
        assert body["last"] == 3 and body["first"] == 1
        assert (body["items"][0]["start"], body["items"][0]["end"]) == (100.0, 100.25)


def test_record_path_costs_microseconds():
    """The cost bench/activity_cost.py multiplies by the action rate at 500 pods."""
    ring = activity.Activity()
    obj = {"kind": "Pod", "metadata": {"name": "p", "namespace": "default"}}
    n = 100_000
    t0 = time.perf_counter()
    for _ in range(n):
        ring.store_write("MODIFIED", obj, 3, 0.0)
    per_write = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(n):
        ring.record("kubelet", "status", "Pod", "default", "p", detail="Ready")
    per_record = (time.perf_counter() - t0) / n
    print(f"store_write {per_write * 1e9:.0f} ns, record {per_record * 1e9:.0f} ns")
    assert per_write < 5e-6 and per_record < 5e-6
