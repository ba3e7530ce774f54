"""Garbage collector: owners and dependents, as Kubernetes' garbage collector does.

- Background (the default): an object whose every ownerReference names an owner that no
  longer exists (same uid) is deleted, which cascades level by level:
  Deployment -> ReplicaSets -> Pods.
- Foreground: an owner deleted with `propagationPolicy=Foreground` keeps existing with a
  deletionTimestamp and the `foregroundDeletion` finalizer (ObjectService.delete puts
  them there). Its dependents are deleted, in foreground too, and the finalizer goes once
  no dependent is left, which lets the store remove the owner.
- Orphan: ObjectService.delete strips the ownerReferences before deleting the owner.

Keyed by any object, through the store's uid and owner indexes: an owned object is
looked at when one of its owners goes, or when it changes while no owner exists; a
foreground owner when it is marked and whenever one of its dependents goes. The resync looks at everything,
so a restart in the middle of a cascade just carries on.
"""

from __future__ import annotations

import copy
from typing import Iterable

from ..store import Store, StoreError, WatchEvent, key_of
from .base import Controller, Key, Objects, key_for

FOREGROUND = "foregroundDeletion"
OWNED_KINDS = ("ReplicaSet", "Pod", "Endpoints", "Job", "ControllerRevision", "PersistentVolumeClaim")


def _foreground(obj: dict) -> bool:
    meta = obj["metadata"]
    return bool(meta.get("deletionTimestamp")) and FOREGROUND in (meta.get("finalizers") or [])


class GarbageCollector(Controller):
    resync_seconds = 30.0
    component = "garbage-collector"

    def __init__(self, store: Store, objects: Objects):
        super().__init__(store)
        self.objects = objects

    def keys(self) -> Iterable[Key]:
        for kind in sorted(self.store.kinds()):
            for obj in self.store.iter_kind(kind):
                if _foreground(obj) or (kind in OWNED_KINDS and self._orphan(obj)):
                    yield key_of(obj)

    def related(self, ev: WatchEvent) -> Iterable[Key]:
        obj = ev.object
        meta = obj["metadata"]
        if ev.type == "DELETED":
            for dep in self.store.dependents(meta.get("uid", "")):
                yield key_of(dep)  # its dependents may be orphans now
            for ref in meta.get("ownerReferences") or []:
                yield key_for(ref.get("kind", ""), meta.get("namespace"), ref.get("name", ""))  # a foreground owner
        elif _foreground(obj) or (obj.get("kind") in OWNED_KINDS and self._orphan(obj)):
            yield key_of(obj)  # checked here, so a status write of an owned pod costs no reconcile

    def reconcile(self, key: Key) -> None:
        obj = self.store.peek(*key)
        if obj is None:
            return
        if key[0] in OWNED_KINDS and self._orphan(obj):
            self._delete(obj, None)
        if _foreground(obj):
            self._finish_foreground(obj)

    def _orphan(self, obj: dict) -> bool:
        """Owned, and none of its owners exists (by uid) any more."""
        refs = obj["metadata"].get("ownerReferences") or []
        return bool(refs) and not any(self.store.by_uid(r.get("uid")) for r in refs)

    def _finish_foreground(self, owner: dict) -> None:
        meta = owner["metadata"]
        deps = [d for d in self.store.dependents(meta["uid"]) if d["kind"] in OWNED_KINDS]
        if deps:
            for d in deps:
                self._delete(d, "Foreground")
            return
        new = copy.deepcopy(owner)
        new["metadata"]["finalizers"] = [f for f in meta["finalizers"] if f != FOREGROUND]
        if not new["metadata"]["finalizers"]:
            new["metadata"].pop("finalizers")
        self.store.update(new, check_rv=False)  # no finalizer left: the store removes it

    def _delete(self, obj: dict, propagation: str | None) -> None:
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return
        try:
            self.objects.delete(obj["kind"], meta.get("namespace", ""), meta["name"], propagation=propagation)
        except StoreError:
            pass
