"""The controller manager: event-driven reconciles, per-object error isolation with
back-off, and time-based work as requeue-after on a fake clock. The two checks that the
e2e suite made by sleeping ("no third pod", "orphans stay") are here, on a fake hour."""

from __future__ import annotations

import asyncio

import pytest
from conftest import wait_for_async
from controller_kit import make_kit, sync

from kubedeck.engine.clock import iso
from kubedeck.engine.controllers.deployment import DeploymentController
from kubedeck.engine.controllers.gc import GarbageCollector
from kubedeck.engine.controllers.manager import ControllerManager
from kubedeck.engine.controllers.nodes import NodeController
from kubedeck.engine.controllers.podutil import owner_ref, set_condition
from kubedeck.engine.controllers.replicaset import ReplicaSetController
from kubedeck.engine.controllers.workloads import JobController
from kubedeck.engine.store import StoreError

T0 = 1_700_000_000.0  # a whole second, so written timestamps are exact
TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}


@pytest.fixture
def kit(tmp_path):
    k = make_kit(tmp_path, now=T0)
    yield k
    k.store.close()


def replicaset(name: str, **spec) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, **spec}}


def pods_of(kit, kind: str, owner: str) -> list[dict]:
    return kit.store.dependents(kit.store.get(kind, "default", owner)["metadata"]["uid"], "Pod")


def test_one_objects_failure_is_its_own_warning_event_and_back_off(kit):
    r = kit.run(ReplicaSetController(kit.store, kit.objects, kit.clock))
    kit.store.create(replicaset("good", template=TEMPLATE))
    kit.store.create(replicaset("bad"))  # no template: its reconcile raises KeyError
    sync(r)
    assert len(pods_of(kit, "ReplicaSet", "good")) == 1  # the other object's failure did not stop it
    [ev] = kit.events("ReconcileError")
    assert ev["type"] == "Warning" and ev["involvedObject"]["name"] == "bad"
    assert ev["message"] == "ReplicaSetController: KeyError: 'template'"
    bad = ("ReplicaSet", "default", "bad")
    assert r.queue.retries(bad) == 1
    sync(r)  # a resync leaves a key in back-off to its back-off
    assert kit.events("ReconcileError")[0]["count"] == 1
    kit.clock.advance(0.005)
    assert r.run_ready() == 1 and kit.events("ReconcileError")[0]["count"] == 2
    kit.clock.advance(0.0099)
    assert r.run_ready() == 0  # the second retry waits 10 ms
    kit.clock.advance(0.0001)
    assert r.run_ready() == 1 and r.queue.retries(bad) == 3
    fixed = kit.store.get(*bad)
    fixed["spec"]["template"] = TEMPLATE
    kit.store.update(fixed)
    kit.clock.advance(0.02)
    assert r.run_ready() == 1
    assert len(pods_of(kit, "ReplicaSet", "bad")) == 1 and r.queue.retries(bad) == 0  # success forgets the failures


def fail(kit, pod: dict) -> None:
    kit.store.update_status("Pod", "default", pod["metadata"]["name"], {
        "phase": "Failed", "containerStatuses": [{"name": "c", "restartCount": 0, "state": {
            "terminated": {"exitCode": 1, "finishedAt": iso(kit.clock.now())}}}]})


def test_a_job_past_its_backoff_limit_starts_no_third_pod_in_an_hour(kit):
    r = kit.run(JobController(kit.store, kit.objects, kit.clock))
    kit.store.create({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "job-fail", "namespace": "default"},
                      "spec": {"backoffLimit": 1, "template": {"spec": {
                          "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}}}})
    sync(r)
    [first] = pods_of(kit, "Job", "job-fail")
    fail(kit, first)
    sync(r)
    assert len(pods_of(kit, "Job", "job-fail")) == 1  # the replacement waits out a 10 s back-off
    kit.clock.advance(9.9)
    assert r.run_ready() == 0
    kit.clock.advance(0.1)
    assert r.run_ready() == 1  # requeued for the end of the back-off: no resync needed
    second = next(p for p in pods_of(kit, "Job", "job-fail") if p["metadata"]["name"] != first["metadata"]["name"])
    fail(kit, second)
    sync(r)
    job = kit.store.get("Job", "default", "job-fail")
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded" and job["status"]["failed"] == 2
    for _ in range(6):
        kit.clock.advance(600)
        sync(r)
    assert len(pods_of(kit, "Job", "job-fail")) == 2


def test_orphaned_dependents_stay_however_long_the_collector_runs(kit):
    d = kit.store.create({"apiVersion": "apps/v1", "kind": "Deployment",
                          "metadata": {"name": "orph", "namespace": "default"}, "spec": {}})
    rs = kit.store.create({**replicaset("orph-1"), "metadata": {"name": "orph-1", "namespace": "default",
                                                                "ownerReferences": [owner_ref(d)]}})
    pod = kit.store.create({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": []},
                            "metadata": {"name": "orph-1-a", "namespace": "default", "ownerReferences": [owner_ref(rs)]}})
    kit.objects.delete("Deployment", "default", "orph", propagation="Orphan")
    gc = kit.run(GarbageCollector(kit.store, kit.objects))
    for _ in range(6):
        kit.clock.advance(600)
        sync(gc)
    rs = kit.store.get("ReplicaSet", "default", "orph-1")
    assert rs is not None and not rs["metadata"]["ownerReferences"]
    assert kit.store.get("Pod", "default", "orph-1-a")["metadata"]["uid"] == pod["metadata"]["uid"]


def test_the_progress_deadline_is_a_requeue_after(kit):
    kit.store.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
                      "spec": {"replicas": 1, "progressDeadlineSeconds": 30, "selector": {"matchLabels": {"app": "web"}},
                               "template": TEMPLATE}})
    deployments = kit.run(DeploymentController(kit.store, kit.objects, kit.clock))
    sync(deployments, kit.run(ReplicaSetController(kit.store, kit.objects, kit.clock)), deployments)
    progressing = lambda: next(c for c in kit.store.get("Deployment", "default", "web")["status"]["conditions"]
                               if c["type"] == "Progressing")
    assert progressing()["reason"] == "ReplicaSetUpdated"
    kit.clock.advance(30)
    assert deployments.run_ready() == 0  # not yet: the deadline passes strictly after 30 s
    kit.clock.advance(1)
    assert deployments.run_ready() == 1
    assert progressing()["status"] == "False" and progressing()["reason"] == "ProgressDeadlineExceeded"
    assert kit.events("ProgressDeadlineExceeded")


def test_an_eviction_timeout_is_a_requeue_after(kit):
    (kit.state / "cluster.yaml").write_text("podEvictionTimeoutSeconds: 5\nnodes: [{name: n1}]\n")
    nodes = kit.run(NodeController(kit.store, kit.objects, kit.clock, state_dir=kit.state, count=1))
    sync(nodes)
    kit.store.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                      "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]}})
    node = kit.store.get("Node", "", "n1")
    node["metadata"]["annotations"] = {"kubedeck.io/stopped": "true"}
    kit.store.update(node)
    sync(nodes)
    assert kit.store.get("Pod", "default", "p") is not None
    kit.clock.advance(4.9)
    assert nodes.run_ready() == 0
    kit.clock.advance(0.1)
    assert nodes.run_ready() == 1
    assert kit.store.get("Pod", "default", "p") is None and kit.events("TaintManagerEviction")


async def test_the_manager_follows_store_events_without_waiting_for_a_resync(tmp_path):
    kit = make_kit(tmp_path)
    store = kit.store
    mgr = ControllerManager(store, kit.objects, state_dir=tmp_path, nodes=2)
    assert all(r.ctl.resync_seconds >= 10 for r in mgr.reconcilers if r.name != "NodeController")
    run = asyncio.create_task(mgr.run())
    try:
        store.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
                      "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}})
        store.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                      "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
        bound = lambda: [p for p in store.list("Pod", "default") if p["spec"].get("nodeName")]
        pods = await wait_for_async(lambda: len(bound()) == 4 and bound(), timeout=3, what="4 pods bound")
        assert sorted(p["spec"]["nodeName"] for p in pods) == ["kubedeck"] * 2 + ["kubedeck-m02"] * 2  # spread
        for i, p in enumerate(pods):  # as the node agent reports them
            store.update_status("Pod", "default", p["metadata"]["name"], {
                "phase": "Running", "podIP": f"10.0.0.{i + 1}",
                "conditions": set_condition([], "Ready", "True")})
        addresses = lambda: [a["ip"] for s in (store.get("Endpoints", "default", "web") or {}).get("subsets", [])
                             for a in s.get("addresses", [])]
        await wait_for_async(lambda: len(addresses()) == 4, timeout=3, what="4 ready endpoints")
        await wait_for_async(lambda: store.get("Deployment", "default", "web")["status"].get("availableReplicas") == 4,
                             timeout=3, what="the Deployment's status")
        kit.objects.delete("Deployment", "default", "web")
        await wait_for_async(lambda: not store.list("ReplicaSet") and not store.list("Pod"), timeout=3,
                             what="the cascade")
        await wait_for_async(lambda: addresses() == [], timeout=3, what="the endpoints emptied")
        assert not kit.events("ReconcileError")
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        store.close()


def test_an_ordered_statefulset_makes_no_second_pod_while_the_first_is_not_ready(kit):
    from kubedeck.engine.controllers.workloads import StatefulSetController

    kit.store.create({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "ord", "namespace": "default"},
                      "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}})
    r = kit.run(StatefulSetController(kit.store, kit.objects))
    sync(r)
    names = lambda: [p["metadata"]["name"] for p in kit.store.list("Pod", "default")]
    assert names() == ["ord-0"]
    running = {"phase": "Running", "conditions": set_condition([], "Ready", "False")}
    kit.store.update_status("Pod", "default", "ord-0", running)
    for _ in range(6):  # an hour of resyncs while ord-0 stays Running and not Ready
        kit.clock.advance(600)
        sync(r)
    assert names() == ["ord-0"]
    kit.store.update_status("Pod", "default", "ord-0", {**running, "conditions": set_condition([], "Ready", "True")})
    sync(r)
    assert names() == ["ord-0", "ord-1"]


def test_events_wake_only_the_keys_that_can_change(kit):
    from kubedeck.engine.controllers.endpoints import EndpointsController
    from kubedeck.engine.controllers.scheduler import Scheduler
    from kubedeck.engine.store import WatchEvent

    rs = kit.store.create(replicaset("web-1", template=TEMPLATE))
    kit.store.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                      "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    pod = kit.store.create({"apiVersion": "v1", "kind": "Pod", "spec": {"nodeName": "n1", "containers": []},
                            "metadata": {"name": "web-1-a", "namespace": "default", "labels": {"app": "web"},
                                         "ownerReferences": [owner_ref(rs)]}})
    gc, sched = kit.run(GarbageCollector(kit.store, kit.objects)), kit.run(Scheduler(kit.store, kit.objects, kit.clock))
    eps, rss = kit.run(EndpointsController(kit.store, lb_address="127.0.0.1")), kit.run(
        ReplicaSetController(kit.store, kit.objects, kit.clock))
    for r in (gc, sched, eps, rss):
        r.observe(WatchEvent("MODIFIED", pod, 1))
    assert rss.queue.get_nowait() == ("ReplicaSet", "default", "web-1")  # its owner, through ownerReferences
    assert gc.queue.get_nowait() is None  # its owner exists: nothing to collect
    assert sched.queue.get_nowait() is None  # bound already: nothing to schedule
    assert eps.queue.get_nowait() is None  # held back to batch a burst of pod events
    kit.clock.advance(0.02)
    assert eps.queue.get_nowait() == ("Service", "default", "web")
    kit.store.delete("ReplicaSet", "default", "web-1")
    gc.observe(WatchEvent("MODIFIED", pod, 2))
    assert gc.queue.get_nowait() == ("Pod", "default", "web-1-a")  # an orphan now


def test_a_slow_reconcile_holds_its_woken_key_for_twenty_times_its_duration(kit):
    """A recount of many pods that takes 50 ms is held 1 s, not woken_interval's 0.1 s:
    a key woken by others gets at most 5 % of the loop."""
    from kubedeck.engine.controllers.base import Controller
    from kubedeck.engine.controllers.manager import WOKEN_DUTY
    from kubedeck.engine.store import WatchEvent

    class Slow(Controller):
        kinds = ("ReplicaSet",)
        woken_interval = 0.1

        def __init__(self):
            super().__init__(kit.store)
            self.took, self.n = 0.05, 0

        def reconcile(self, key):
            self.n += 1
            kit.clock.advance(self.took)

    ctl = Slow()
    rs = kit.store.create(replicaset("web"))
    pod = {"kind": "Pod", "metadata": {"name": "p", "namespace": "default",
                                       "ownerReferences": [owner_ref(rs)]}}
    woken = lambda: r.observe(WatchEvent("MODIFIED", pod, 0))
    r = kit.run(ctl)
    woken()
    assert r.run_ready() == 1  # the first of a quiet spell at once; it took 50 ms
    woken()
    kit.clock.advance(0.5)  # woken_interval is long over ...
    assert r.run_ready() == 0  # ... but not 20 x 50 ms since that reconcile began
    kit.clock.advance(ctl.took * WOKEN_DUTY - 0.5 - ctl.took)
    assert r.run_ready() == 1 and ctl.n == 2
    kit.clock.advance(ctl.took * WOKEN_DUTY)  # a quiet spell
    ctl.took = 0.001  # after a fast reconcile the interval applies again
    woken()
    assert r.run_ready() == 1 and ctl.n == 3
    woken()
    assert r.run_ready() == 0
    kit.clock.advance(Slow.woken_interval)
    assert r.run_ready() == 1 and ctl.n == 4


def test_a_burst_of_pod_writes_is_one_replicaset_reconcile_per_interval(kit):
    from kubedeck.engine.store import WatchEvent

    kit.store.create(replicaset("web", replicas=3, template=TEMPLATE))
    r = kit.run(ReplicaSetController(kit.store, kit.objects, kit.clock))
    sync(r)
    ready = {"phase": "Running", "conditions": set_condition([], "Ready", "True")}
    status = lambda: kit.store.get("ReplicaSet", "default", "web")["status"]["readyReplicas"]

    def becomes_ready(pod: dict) -> None:
        changed = kit.store.update_status("Pod", "default", pod["metadata"]["name"], ready)
        r.observe(WatchEvent("MODIFIED", changed, int(changed["metadata"]["resourceVersion"])))

    first, *rest = pods_of(kit, "ReplicaSet", "web")
    kit.clock.advance(1)  # the reconcile of the sync above is over an interval ago
    becomes_ready(first)
    assert r.run_ready() == 1 and status() == 1  # the first pod write of a quiet spell: at once
    for pod in rest:
        becomes_ready(pod)
    assert r.run_ready() == 0 and status() == 1  # the rest of the burst waits for the interval
    kit.clock.advance(ReplicaSetController.woken_interval)
    assert r.run_ready() == 1 and status() == 3  # ... and is one reconcile
    own = kit.store.get("ReplicaSet", "default", "web")
    r.observe(WatchEvent("MODIFIED", own, int(own["metadata"]["resourceVersion"]), status_only=True))
    assert r.run_ready() == 0  # its own status write, just made: no second recount at once
    kit.clock.advance(ReplicaSetController.woken_interval)
    assert r.run_ready() == 1  # ... but one when the interval is up
    rs = kit.store.get("ReplicaSet", "default", "web")
    rs["spec"]["replicas"] = 4
    r.observe(WatchEvent("MODIFIED", kit.store.update(rs), 0))
    assert r.run_ready() == 1 and len(pods_of(kit, "ReplicaSet", "web")) == 4  # its own change is never held


def test_a_store_refusal_is_logged_without_a_traceback_and_retried(kit, caplog, monkeypatch):
    """A read-only state dir makes every write a StoreError that names the cause: the
    log says it in one line (a traceback is for failures nobody foresaw)."""
    ctl = ReplicaSetController(kit.store, kit.objects, kit.clock)
    r = kit.run(ctl)
    kit.store.create(replicaset("web", template=TEMPLATE))

    def refuse(_key):
        raise StoreError(500, "InternalError", "the store cannot be written (Read-only file system)")
    monkeypatch.setattr(ctl, "reconcile", refuse)
    with caplog.at_level("WARNING", logger="kubedeck.controllers"):
        sync(r)
    [rec] = [r for r in caplog.records if "reconciling ReplicaSet/default/web failed" in r.getMessage()]
    assert not rec.exc_info and "Read-only file system" in rec.getMessage()
    assert r.queue.retries(("ReplicaSet", "default", "web")) == 1
