"""The controller manager: one work queue and one worker per controller, fed by the
store's watch, as kube-controller-manager runs client-go controllers.

- Each store event (Events themselves excepted) is shown to every controller's
  `Reconciler`, which enqueues the keys it wakes (controllers/base.py): the object's
  own, its owners' through ownerReferences, and the controller's `related` keys.
- The worker takes a key, calls `reconcile(key)`, and marks it done; a key added
  meanwhile waits for that (engine/workqueue.py), so a key is never reconciled twice
  at once. The worker keeps going through ready keys for up to 10 ms of work, then
  yields the loop, so the API and the agent answer during a burst.
- A reconcile that returns seconds is requeued after them (time-based work); one that
  raises costs only its own key: a Warning Event `ReconcileError` on that object, and
  a retry after a per-key back-off (5 ms doubling to 30 s). Success forgets it.
- A key woken by other objects' events (a ReplicaSet by its pods' status writes) is
  reconciled at most once per the controller's `woken_interval`, or per 20 times its
  last reconcile's duration if that is longer: the first event of a quiet spell at once,
  the rest of a burst together when the wait is up. (A ReplicaSet of 500 pods took
  33 ms a recount under a scale-up's load, 22 s of the event loop in 134 s at 0.1 s;
  the duty bound holds any key woken by others to 5 % of the loop.) Its own
  events are never held back, except a status-only write: mostly the controller's own
  status written by the reconcile just done, which a second pass at once would only
  recount (at 500 pods that doubled the ReplicaSet controller's CPU).
- Every `resync_seconds` each controller's keys are enqueued again, a safety net for
  inputs outside the store (cluster.yaml, the machine's memory); a key in back-off is
  left to its back-off.

`ControllerManager` is built with the collaborators the controllers use, never the
Cluster: the store, the object service (delete with propagation, Events), a clock, and
three settings values.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from ..clock import Clock, SystemClock
from ..store import Store, StoreError, WatchEvent, key_of
from ..workqueue import WorkQueue
from .base import Controller, Key, Objects, key_for
from .cronjob import CronJobController
from .deployment import DeploymentController
from .endpoints import EndpointsController
from .gc import GarbageCollector
from .hpa import HorizontalPodAutoscalerController
from .master_service import MasterServiceController
from .namespace import NamespaceController
from .nodes import NodeController
from .replicaset import ReplicaSetController
from .scheduler import Scheduler
from .serviceaccounts import ServiceAccountsController
from .workloads import DaemonSetController, JobController, StatefulSetController

log = logging.getLogger("kubedeck.controllers")
SLICE_SECONDS = 0.01  # real CPU time a worker spends before yielding the loop
MIN_REQUEUE_SECONDS = 0.05  # a requeue-after is never a busy loop
WOKEN_DUTY = 20  # a woken key waits at least this many times its last reconcile's duration


class Reconciler:
    """One controller with its work queue and worker (client-go's processNextWorkItem)."""

    def __init__(self, controller: Controller, objects: Objects, clock: Clock):
        self.ctl = controller
        self.objects = objects
        self.clock = clock
        self.queue: WorkQueue[Key] = WorkQueue(clock)
        self.name = type(controller).__name__
        # when each key's last reconcile began and how long the one before took (woken_interval)
        self._last: dict[Key, tuple[float, float]] = {}

    def observe(self, ev: WatchEvent) -> None:
        obj = ev.object
        kinds = self.ctl.kinds
        if obj.get("kind") in kinds:
            if ev.status_only:
                self._woken(key_of(obj))
            else:
                self.queue.add(key_of(obj))
        for ref in obj["metadata"].get("ownerReferences") or []:
            if ref.get("kind") in kinds:
                self._woken(key_for(ref["kind"], obj["metadata"].get("namespace"), ref.get("name", "")))
        for k in self.ctl.related(ev):
            self._woken(k, self.ctl.batch_seconds)

    def _woken(self, k: Key, delay: float = 0.0) -> None:
        """Queue a key woken by another object's event, after `delay` and no sooner than
        the controller's woken_interval (or WOKEN_DUTY times the last reconcile's
        duration, if longer) after its last reconcile began."""
        gap = self.ctl.woken_interval
        if gap and (last := self._last.get(k)):
            began, took = last
            delay = max(delay, began + max(gap, took * WOKEN_DUTY) - self.clock.monotonic())
        self.queue.add_after(k, delay)

    def resync(self) -> None:
        for k in list(self.ctl.keys()):
            if not self.queue.retries(k):
                self.queue.add(k)

    def process(self, k: Key) -> None:
        timed = bool(self.ctl.woken_interval)
        if timed:
            began = self._remember(k)
        try:
            after = self.ctl.reconcile(k)
        except Exception as e:  # noqa: BLE001 - one object's failure is that object's alone
            delay = self.queue.add_rate_limited(k)
            # the store's refusals explain themselves (a read-only state dir, a conflict):
            # a traceback only for what nobody foresaw
            refused = isinstance(e, StoreError)
            log.warning("%s: reconciling %s/%s/%s failed (retry in %.3f s)%s", self.name, *k, delay,
                        f": {e}" if refused else "", exc_info=not refused)
            self._report(k, e)
            return
        self.queue.forget(k)
        if timed:
            self._last[k] = (began, self.clock.monotonic() - began)
        if after is not None:
            self.queue.add_after(k, max(after, MIN_REQUEUE_SECONDS))

    def _remember(self, k: Key) -> float:
        """Note that k's reconcile begins now (keeping the last one's duration); returns now."""
        now = self.clock.monotonic()
        if len(self._last) > 4096:  # forget keys whose wait is long over (deleted objects)
            self._last = {key: (t, d) for key, (t, d) in self._last.items()
                          if now - t < max(self.ctl.woken_interval, d * WOKEN_DUTY)}
        self._last[k] = (now, self._last.get(k, (now, 0.0))[1])
        return now

    def _report(self, k: Key, e: Exception) -> None:
        obj = self.ctl.store.peek(*k)
        if obj is None:
            return
        try:
            self.objects.record_event(obj, "ReconcileError", f"{self.name}: {type(e).__name__}: {e}",
                                      type="Warning", component=self.ctl.component)
        except StoreError:
            pass

    def run_ready(self, budget: float | None = None) -> int:
        """Reconcile the keys that are ready now (with `budget`, stop after that many
        seconds of work); returns how many were reconciled."""
        start, n = time.monotonic(), 0
        while (k := self.queue.get_nowait()) is not None:
            try:
                self.process(k)
            finally:
                self.queue.done(k)
            n += 1
            if budget is not None and time.monotonic() - start >= budget:
                break
        return n

    async def work(self) -> None:
        while True:
            k = await self.queue.get()
            try:
                self.process(k)
            finally:
                self.queue.done(k)
            self.run_ready(SLICE_SECONDS)
            await asyncio.sleep(0)

    async def resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ctl.resync_seconds)
            self.resync()


def _read_ca(state_dir: Path) -> str | None:
    """The cluster CA's certificate (engine/pki.py writes it before the controllers start)."""
    try:
        return (state_dir / "pki" / "ca.crt").read_text()
    except OSError:
        return None


class ControllerManager:
    def __init__(self, store: Store, objects: Objects, *, state_dir: Path,
                 nodes: int = 1, lb_address: str = "127.0.0.1", clock: Clock | None = None,
                 node_port_range: tuple[int, int] | None = None, api_port: int | None = None,
                 usage: Callable[[], dict] | None = None):
        """`state_dir` holds cluster.yaml, `nodes` is `serve --nodes`, `lb_address` is the
        address LoadBalancer Services report (the NodePort listeners' address),
        `node_port_range` is `serve --service-node-port-range` (None: the default),
        `api_port` where the API listens (the `kubernetes` Service's endpoint), `usage`
        the pods' newest resource usage (the HPA's metrics; None without a node agent)."""
        self.store = store
        clock = clock or SystemClock()
        controllers: list[Controller] = [  # the NodeController first: run() registers nodes first
            NodeController(store, objects, clock, state_dir=state_dir, count=nodes),
            DeploymentController(store, objects, clock), ReplicaSetController(store, objects, clock),
            StatefulSetController(store, objects), DaemonSetController(store, objects),
            CronJobController(store, objects, clock), JobController(store, objects, clock),
            Scheduler(store, objects, clock), EndpointsController(store, lb_address=lb_address, node_port_range=node_port_range),
            GarbageCollector(store, objects), NamespaceController(store, objects),
            ServiceAccountsController(store, ca_pem=_read_ca(state_dir)),
            MasterServiceController(store, api_port=api_port),
            HorizontalPodAutoscalerController(store, objects, clock, usage=usage)]
        self.reconcilers = [Reconciler(c, objects, clock) for c in controllers]

    def observe(self, ev: WatchEvent) -> None:
        if ev.object.get("kind") == "Event":
            return  # controllers never act on Events, and every reconcile may record some
        for r in self.reconcilers:
            try:
                r.observe(ev)
            except Exception:  # noqa: BLE001 - one controller's mapping bug must not stop the watch
                log.exception("%s: mapping a %s event failed", r.name, ev.object.get("kind"))

    async def _pump(self, since: int) -> None:
        async for ev in self.store.watch(since):
            self.observe(ev)

    async def run(self) -> None:
        since = self.store.rv  # the watch replays what changes between here and its start
        for r in self.reconcilers:
            r.resync()
        # the nodes register at once, before anything else runs on the loop (kubelets
        # register as they start): a client that finds the engine started finds its nodes
        self.reconcilers[0].run_ready()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._pump(since), name="controller-watch")
            for r in self.reconcilers:
                tg.create_task(r.work(), name=f"controller-{r.name}")
                tg.create_task(r.resync_loop(), name=f"resync-{r.name}")
