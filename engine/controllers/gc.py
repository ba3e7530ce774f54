"""Garbage collector: owners and dependents, as Kubernetes' garbage collector does.

- Background (the default): an object whose every ownerReference names an owner that no
  longer exists (same uid) is deleted, which cascades level by level:
  Deployment -> ReplicaSets -> Pods.
- Foreground: an owner deleted with `propagationPolicy=Foreground` keeps existing with a
  deletionTimestamp and the `foregroundDeletion` finalizer (cluster.delete_object puts
  them there). Each pass deletes its dependents, in foreground too, and removes the
  finalizer once no dependent is left, which lets the store remove the owner.
- Orphan: cluster.delete_object strips the ownerReferences before deleting the owner.

Level-triggered: each pass looks at the whole store, so a restart in the middle of a
cascade just carries on.
"""

from __future__ import annotations

import copy
from collections import defaultdict

from ..store import StoreError

FOREGROUND = "foregroundDeletion"
OWNED_KINDS = ("ReplicaSet", "Pod", "Endpoints", "Job", "ControllerRevision", "PersistentVolumeClaim")


class GarbageCollector:
    def __init__(self, cluster):
        self.c = cluster
        self.store = cluster.store

    def reconcile(self) -> None:
        owners = {}
        for k in self.store.kinds():
            for o in self.store.iter_kind(k):
                owners[o["metadata"].get("uid")] = o
        dependents: dict[str, list[dict]] = defaultdict(list)
        for kind in OWNED_KINDS:
            for obj in self.store.iter_kind(kind):
                refs = obj["metadata"].get("ownerReferences") or []
                if not refs:
                    continue
                for r in refs:
                    dependents[r.get("uid")].append(obj)
                if any(r.get("uid") in owners for r in refs):
                    continue
                self._delete(obj, None)
        for uid, owner in owners.items():
            meta = owner["metadata"]
            if not meta.get("deletionTimestamp") or FOREGROUND not in (meta.get("finalizers") or []):
                continue
            deps = [d for d in dependents.get(uid, []) if self.store.peek(
                d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]) is not None]
            if deps:
                for d in deps:
                    self._delete(d, "Foreground")
                continue
            new = copy.deepcopy(owner)
            new["metadata"]["finalizers"] = [f for f in meta["finalizers"] if f != FOREGROUND]
            if not new["metadata"]["finalizers"]:
                new["metadata"].pop("finalizers")
            try:
                self.store.update(new, check_rv=False)  # no finalizer left: the store removes it
            except StoreError:
                pass

    def _delete(self, obj: dict, propagation: str | None) -> None:
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return
        try:
            self.c.delete_object(obj["kind"], meta.get("namespace", ""), meta["name"], propagation=propagation)
        except StoreError:
            pass
