"""What every controller is, and the narrow collaborators it is given.

A controller reconciles one object at a time, by key (kind, namespace, name), as a
Kubernetes controller's sync handler does: it reads the object and what it owns from
the store as they are now (level-driven: which event brought the key does not matter),
writes what differs, and returns how long until time alone could change the answer
(requeue-after), or None. It raises on a failure; the manager turns that into a Warning
Event on the object and a rate-limited retry (controllers/manager.py).

Which keys an event wakes: the manager enqueues the object's own key when its kind is
one of `kinds`, the keys of its owners of those kinds (ownerReferences), and whatever
`related(event)` adds (a Service for a Pod it selects, every DaemonSet for a Node...).
`keys()` lists every object the controller looks after, for the periodic resync.

Collaborators are passed in by name: the `Store` for reads and plain writes, the
`Objects` protocol below (the ObjectService's delete with propagation and its events),
a `Clock`, and the few settings values a controller needs. No controller holds the
Cluster.
"""

from __future__ import annotations

from typing import Iterable, Protocol

from ..store import CLUSTER_SCOPED, Store, WatchEvent, key_of

Key = tuple[str, str, str]


def key_for(kind: str, namespace: str | None, name: str) -> Key:
    """The queue key of an object, normalised as the store keys it."""
    return kind, "" if kind in CLUSTER_SCOPED else (namespace or "default"), name


class Objects(Protocol):
    """What controllers need of the ObjectService (engine/objects.py)."""

    def delete(self, kind: str, ns: str, name: str, *, grace: int | None = None,
               propagation: str | None = None) -> dict: ...

    def record_event(self, obj: dict, reason: str, message: str, *, type: str = "Normal",
                     component: str = "kubedeck") -> None: ...


class Controller:
    #: the kinds whose objects this controller reconciles
    kinds: tuple[str, ...] = ()
    #: seconds between resyncs of every key (a safety net; time-based work uses requeue-after)
    resync_seconds: float = 10.0
    #: the Event source of its errors
    component: str = "kubedeck"
    #: hold keys woken by `related` events this long, so a burst of them is one reconcile
    #: (the endpoints controller's --endpoint-updates-batch-period)
    batch_seconds: float = 0.0
    #: reconcile a key woken by other objects' events (its pods' status writes, by owner
    #: or `related`) at most once per this many seconds: the first at once, the rest of a
    #: burst together when the interval is up. A ReplicaSet reads all its pods at every
    #: reconcile, so without it a scale-up of N pods costs O(N^2); its own events (a
    #: change of spec) are never held back
    woken_interval: float = 0.0

    def __init__(self, store: Store):
        self.store = store

    def keys(self) -> Iterable[Key]:
        for kind in self.kinds:
            for obj in self.store.iter_kind(kind):
                yield key_of(obj)

    def related(self, ev: WatchEvent) -> Iterable[Key]:
        return ()

    def reconcile(self, key: Key) -> float | None:
        raise NotImplementedError
