"""The namespace controller: a deleted Namespace takes everything in it along, as
Kubernetes' namespace controller does.

Deleting a Namespace (ObjectService.delete) marks it: a deletionTimestamp and
`status.phase: Terminating`. Its `spec.finalizers: [kubernetes]` keeps it in the store
meanwhile (store.py), and nothing new can be created in it (Store.create: 403 Forbidden,
the NamespaceLifecycle admission's words). This controller deletes every object in it
through the ObjectService, as `kubectl delete` would: pods gracefully through the kubelet
(their grace period is honoured), owners in the background. Once nothing is left it
empties `spec.finalizers`, which lets the store remove the Namespace.

Woken by the Namespace's own events and by each deletion in a terminating namespace;
requeued every second while content is left (a pod in its grace period, an Event the
deletions themselves recorded).
"""

from __future__ import annotations

import copy
from typing import Iterable

from ..store import CLUSTER_SCOPED, Store, StoreError, WatchEvent
from .base import Controller, Key, Objects, key_for

RECHECK_SECONDS = 1.0


class NamespaceController(Controller):
    kinds = ("Namespace",)
    component = "namespace-controller"

    def __init__(self, store: Store, objects: Objects):
        super().__init__(store)
        self.objects = objects

    def related(self, ev: WatchEvent) -> Iterable[Key]:
        ns = ev.object["metadata"].get("namespace")
        if ev.type == "DELETED" and ns and self._terminating(ns):
            yield key_for("Namespace", "", ns)

    def _terminating(self, name: str) -> bool:
        ns = self.store.peek("Namespace", "", name)
        return ns is not None and bool(ns["metadata"].get("deletionTimestamp"))

    def reconcile(self, key: Key) -> float | None:
        name = key[2]
        if not self._terminating(name):
            return None
        left = [obj for kind in sorted(self.store.kinds() - CLUSTER_SCOPED)
                for obj in self.store.list(kind, name, copy_=False)]
        for obj in left:
            meta = obj["metadata"]
            if meta.get("deletionTimestamp"):
                continue  # on its way out (a pod's grace period, a foreground owner)
            try:
                self.objects.delete(obj["kind"], name, meta["name"])
            except StoreError as e:
                if e.code != 404:  # gone meanwhile (its owner's cascade) is fine
                    raise
        if left:
            return RECHECK_SECONDS
        ns = copy.deepcopy(self.store.peek("Namespace", "", name))
        ns["spec"]["finalizers"] = []
        self.store.update(ns, check_rv=False)  # nothing holds it now: the store removes it
        return None
