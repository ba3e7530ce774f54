"""The controllers' work queue (de-duplication, one worker per key, delays, back-off) and
the store's owner and uid indexes, on a fake clock."""

from __future__ import annotations

import asyncio

from kubedeck.engine.clock import FakeClock
from kubedeck.engine.controllers.podutil import owner_ref
from kubedeck.engine.store import Store
from kubedeck.engine.workqueue import RateLimiter, WorkQueue


def drain(q: WorkQueue) -> list:
    out = []
    while (k := q.get_nowait()) is not None:
        out.append(k)
        q.done(k)
    return out


def test_a_key_waits_once_and_in_order():
    q = WorkQueue(FakeClock())
    for k in ("a", "b", "a", "c", "b"):
        q.add(k)
    assert len(q) == 3 and drain(q) == ["a", "b", "c"]
    assert q.get_nowait() is None


def test_a_key_added_while_processing_comes_back_after_done_not_before():
    q = WorkQueue(FakeClock())
    q.add("a")
    assert q.get_nowait() == "a"
    q.add("a")
    q.add("a")
    assert q.get_nowait() is None  # no second worker may take it meanwhile
    q.done("a")
    assert q.get_nowait() == "a"  # once, though it was added twice
    q.done("a")
    assert q.get_nowait() is None


def test_add_after_holds_a_key_until_the_clock_says_and_the_earlier_delay_wins():
    clock = FakeClock()
    q = WorkQueue(clock)
    q.add_after("a", 10)
    q.add_after("a", 3)
    q.add_after("a", 20)
    q.add_after("b", 5)
    clock.advance(2.9)
    assert drain(q) == []
    clock.advance(0.1)
    assert drain(q) == ["a"]
    clock.advance(2)
    assert drain(q) == ["b"]
    clock.advance(100)
    assert drain(q) == []  # the superseded 10 s and 20 s delays of "a" are not kept


def test_rate_limited_back_off_doubles_per_key_is_capped_and_forgotten():
    limiter = RateLimiter(base=0.005, cap=30.0)
    assert [limiter.when("a") for _ in range(4)] == [0.005, 0.01, 0.02, 0.04]
    assert limiter.when("b") == 0.005  # per key
    for _ in range(20):
        last = limiter.when("a")
    assert last == 30.0 and limiter.retries("a") == 24
    limiter.forget("a")
    assert limiter.retries("a") == 0 and limiter.when("a") == 0.005


def test_rate_limited_requeue_uses_the_clock():
    clock = FakeClock()
    q = WorkQueue(clock)
    assert q.add_rate_limited("a") == 0.005
    assert drain(q) == []
    clock.advance(0.005)
    assert drain(q) == ["a"]
    assert q.add_rate_limited("a") == 0.01 and q.retries("a") == 2


async def test_get_sleeps_until_a_key_is_added_or_due():
    from kubedeck.engine.clock import SystemClock

    q = WorkQueue(SystemClock())
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0.01)
    assert not getter.done()
    q.add("a")
    assert await asyncio.wait_for(getter, 1) == "a"
    q.done("a")
    q.add_after("b", 0.05)
    assert await asyncio.wait_for(q.get(), 1) == "b"


def obj(kind, name, *owners, ns="default"):
    meta = {"name": name, "namespace": ns}
    if owners:
        meta["ownerReferences"] = [owner_ref(o) for o in owners]
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, "spec": {}}


def test_owner_and_uid_indexes_follow_every_write_and_a_reload(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    d = store.create({**obj("Deployment", "d"), "apiVersion": "apps/v1"})
    rs1 = store.create({**obj("ReplicaSet", "rs1", d), "apiVersion": "apps/v1"})
    rs2 = store.create({**obj("ReplicaSet", "rs2", d), "apiVersion": "apps/v1"})
    p1 = store.create(obj("Pod", "p1", rs1))
    store.create(obj("Pod", "p2", rs1))
    uid = lambda o: o["metadata"]["uid"]
    names = lambda objs: [o["metadata"]["name"] for o in objs]
    assert names(store.dependents(uid(d))) == ["rs1", "rs2"]
    assert names(store.dependents(uid(rs1), "Pod")) == ["p1", "p2"] and store.dependents(uid(rs1), "Job") == []
    assert store.by_uid(uid(p1))["metadata"]["name"] == "p1" and store.by_uid("nope") is None
    # an update that moves a pod to another owner moves it in the index
    p1 = store.get("Pod", "default", "p1")
    p1["metadata"]["ownerReferences"] = [owner_ref(rs2)]
    store.update(p1)
    assert names(store.dependents(uid(rs1))) == ["p2"] and names(store.dependents(uid(rs2))) == ["p1"]
    store.update_status("Pod", "default", "p1", {"phase": "Running"})
    assert names(store.dependents(uid(rs2))) == ["p1"]
    store.delete("Pod", "default", "p2")
    assert store.dependents(uid(rs1)) == [] and store.by_uid(uid(rs1)) is not None
    store.delete("ReplicaSet", "default", "rs1")
    assert store.by_uid(uid(rs1)) is None
    store.close()
    again = Store(tmp_path / "s.sqlite")
    assert names(again.dependents(uid(d))) == ["rs2"] and names(again.dependents(uid(rs2))) == ["p1"]
    assert again.by_uid(uid(d))["metadata"]["name"] == "d"
    again.close()
