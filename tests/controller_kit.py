"""Controllers on a real store, without a Cluster or Docker: the collaborators the
controller manager hands them (store, object service, clock), the clock a fake one.

`Kit.run(ctl)` wraps a controller in the manager's own `Reconciler` (its work queue,
error handling and back-off); `sync(*reconcilers)` is one level-triggered pass: every
key enqueued by a resync, then every ready key reconciled. Keys a reconcile asked to
see again later (requeue-after, back-off) come due only when the test advances the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubedeck.engine.clock import FakeClock
from kubedeck.engine.controllers.manager import Reconciler
from kubedeck.engine.objects import ObjectService
from kubedeck.engine.store import Store


@dataclass
class Kit:
    store: Store
    objects: ObjectService
    clock: FakeClock
    state: Path

    def run(self, controller) -> Reconciler:
        return Reconciler(controller, self.objects, self.clock)

    def events(self, reason: str | None = None) -> list[dict]:
        return [e for e in self.store.list("Event") if reason is None or e["reason"] == reason]


def make_kit(state: Path, now: float | None = None) -> Kit:
    store = Store(state / "store.sqlite")
    for ns in ("default", "kube-system"):
        store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    return Kit(store, ObjectService(store), FakeClock(now), state)


def sync(*reconcilers: Reconciler) -> int:
    """One pass: resync each, then reconcile what is ready; how many keys were reconciled."""
    n = 0
    for r in reconcilers:
        r.resync()
        n += r.run_ready()
    return n
