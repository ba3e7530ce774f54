"""The store: kubedeck's etcd.

Design: every object lives in memory (a dict keyed by kind/namespace/name) and is
written through to SQLite in the state dir, so reads are dict lookups and a restart
reloads everything. All mutation happens on the engine's asyncio loop, so there are no
locks: callers in threads must hop onto the loop first.

Each write bumps one global resourceVersion (persisted), stamps uid/creationTimestamp/
generation as the API server does, and appends a watch event to a bounded history: the
events of the last 75 s (at least 100, at most 10,000), as the API server's watch cache
keeps them, so its memory levels off under a steady stream of writes. A watcher that asks
for a resourceVersion still in the history gets every event after it in order; an older
one gets 410 Gone and must relist, as in Kubernetes.

Objects returned to callers are deep copies: nobody may mutate the cache.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
import sqlite3
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Callable, Iterable

from . import activity
from .manifests.kinds import KINDS, group_of, qualified_resource
from .selectors import matches_selector
from .store_file import StoreDamaged, open_db, why_unwritable

log = logging.getLogger("kubedeck.store")
#: the watch history: every event of the last HISTORY_SECONDS (the watch cache's
#: eventFreshDuration), at least HISTORY_MIN and at most HISTORY_MAX events
HISTORY_SECONDS, HISTORY_MIN, HISTORY_MAX = 75.0, 100, 10_000
CLUSTER_SCOPED = {"Namespace", "Node", "IngressClass", "PersistentVolume", "StorageClass",
                  "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
#: kinds whose status (a status-only write) its writer re-derives from what exists after a
#: restart: a pod's from its containers (the node agent adopts them), a ReplicaSet's from
#: its pods. Their status commits do not wait for the fsync (_write); a Job's or a
#: CronJob's status holds history (counts, the last schedule) and does.
REDERIVED_STATUS = frozenset({"Pod", "ReplicaSet"})


def _finalizers(obj: dict) -> bool:
    """Does something still hold the object's deletion: its metadata.finalizers or, for a
    Namespace, its spec.finalizers (["kubernetes"]: the namespace controller's, emptied once
    the namespace's content is gone, controllers/namespace.py)."""
    return bool(obj["metadata"].get("finalizers")) or (
        obj.get("kind") == "Namespace" and bool((obj.get("spec") or {}).get("finalizers")))


class StoreError(Exception):
    """A request the store refuses; `code` and `reason` map to a Kubernetes Status."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        #: the Status `details` (name, group, kind, causes): kubectl prints field causes from it
        self.details = details

    @classmethod
    def not_found(cls, kind: str, name: str) -> "StoreError":
        return cls(404, "NotFound", f'{qualified_resource(kind)} "{name}" not found', _details(kind, name))

    @classmethod
    def already_exists(cls, kind: str, name: str) -> "StoreError":
        return cls(409, "AlreadyExists", f'{qualified_resource(kind)} "{name}" already exists',
                   _details(kind, name))

    @classmethod
    def conflict(cls, kind: str, name: str) -> "StoreError":
        return cls(409, "Conflict", f'Operation cannot be fulfilled on {qualified_resource(kind)} "{name}": '
                   "the object has been modified; please apply your changes to the latest version and try again",
                   _details(kind, name))

    @classmethod
    def invalid(cls, kind: str, name: str, causes: list[tuple[str, str]]) -> "StoreError":
        """422 as the API server words it: `Deployment.apps "web" is invalid: field: message`."""
        group = group_of(KINDS[kind].api_version) if kind in KINDS else ""
        what = f"{kind}.{group}" if group else kind
        text = "; ".join(f"{f}: {m}" if f else m for f, m in causes)
        if len(causes) > 1:
            text = "[" + ", ".join(f"{f}: {m}" if f else m for f, m in causes) + "]"
        details = _details(kind, name)
        details["kind"] = kind  # an Invalid Status names the kind itself, not its resource
        details["causes"] = [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes]
        return cls(422, "Invalid", f'{what} "{name}" is invalid: {text}', details)


def _details(kind: str, name: str) -> dict:
    d = {"name": name, "kind": KINDS[kind].plural if kind in KINDS else kind.lower() + "s"}
    group = group_of(KINDS[kind].api_version) if kind in KINDS else ""
    if group:
        d["group"] = group
    return d


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def key_of(obj: dict) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    kind = obj.get("kind", "")
    ns = "" if kind in CLUSTER_SCOPED else (meta.get("namespace") or "default")
    return kind, ns, meta.get("name", "")


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED
    object: dict
    rv: int
    #: only .status changed (the status subresource): a controller need not rush to
    #: re-reconcile its own status write (controllers/manager.py)
    status_only: bool = False


class Store:
    def __init__(self, path: Path | None):
        self._objects: dict[tuple[str, str, str], dict] = {}
        self._by_kind: dict[str, dict[tuple[str, str, str], dict]] = {}  # index: kind -> objects
        # indexes for controllers: uid -> key, and owner uid -> keys of its dependents
        self._by_uid: dict[str, tuple[str, str, str]] = {}
        self._by_owner: dict[str, set[tuple[str, str, str]]] = {}
        self._history: deque[WatchEvent] = deque()
        self._history_at: deque[float] = deque()  # when each was written (monotonic)
        self._watchers: set[asyncio.Queue] = set()
        self._json: dict[tuple[str, str, str], tuple[str, bytes]] = {}
        self._db = open_db(path)  # 0600, and StoreDamaged rather than an empty cluster
        self._path = path
        #: why the last write was refused ('' while writes succeed), for the status
        self.unwritable = ""
        try:
            row = self._db.execute("SELECT v FROM meta WHERE k='rv'").fetchone()
            self.rv = int(row[0]) if row else 0
            for kind, ns, name, body in self._db.execute("SELECT kind, ns, name, body FROM objects"):
                obj = self._objects[(kind, ns, name)] = json.loads(body)
                self._by_kind.setdefault(kind, {})[(kind, ns, name)] = obj
                self._index((kind, ns, name), None, obj)
        except (sqlite3.DatabaseError, ValueError) as e:
            self._db.close()
            raise StoreDamaged(path, f"cannot be read ({e})") from None

    def close(self) -> None:
        self._db.close()

    # ---- reads -------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        ns = "" if kind in CLUSTER_SCOPED else (namespace or "default")
        obj = self._objects.get((kind, ns, name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, kind: str, namespace: str | None = None, selector: dict | str | None = None,
             where: Callable[[dict], bool] | None = None, *, copy_: bool = True) -> list[dict]:
        """Matching objects, sorted. copy_=False returns the cached objects themselves:
        only for callers that serialise them at once and never mutate (the API)."""
        out = []
        for (_, ns, _), obj in self._by_kind.get(kind, {}).items():
            if namespace and ns != namespace:
                continue
            if selector and not matches_selector(selector, obj["metadata"].get("labels") or {}):
                continue
            if where and not where(obj):
                continue
            out.append(copy.deepcopy(obj) if copy_ else obj)
        out.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return out

    def json_bytes(self, obj: dict) -> bytes:
        """The object serialised, cached per resourceVersion: a LIST of a thousand
        objects joins cached bytes instead of encoding every object again."""
        key = key_of(obj)
        rv = obj["metadata"].get("resourceVersion")
        hit = self._json.get(key)
        if hit is not None and hit[0] == rv:
            return hit[1]
        data = json.dumps(obj, separators=(",", ":")).encode()
        if self._objects.get(key) is obj:  # only cache what the store holds
            self._json[key] = (rv, data)
        return data

    def by_uid(self, uid: str | None) -> dict | None:
        """The cached object with this uid (read-only), or None."""
        key = self._by_uid.get(uid or "")
        return self._objects.get(key) if key else None

    def dependents(self, owner_uid: str, kind: str | None = None) -> list[dict]:
        """Cached objects (read-only) whose ownerReferences name owner_uid, from the
        owner index: a controller never scans every pod for one owner."""
        keys = sorted(k for k in self._by_owner.get(owner_uid, ()) if kind is None or k[0] == kind)
        return [self._objects[k] for k in keys]

    def kinds(self) -> set[str]:
        return {k for k, objs in self._by_kind.items() if objs}

    def peek(self, kind: str, namespace: str, name: str) -> dict | None:
        """The cached object without a copy: read-only, for hot paths."""
        ns = "" if kind in CLUSTER_SCOPED else (namespace or "default")
        return self._objects.get((kind, ns, name))

    def iter_kind(self, kind: str) -> Iterable[dict]:
        """Cached objects of a kind without copies: read-only, for hot paths."""
        return list(self._by_kind.get(kind, {}).values())

    # ---- writes ------------------------------------------------------------------
    def create(self, obj: dict) -> dict:
        obj = fold_string_data(copy.deepcopy(obj))
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        key = key_of(obj)
        if not key[2]:
            raise StoreError(422, "Invalid", "metadata.name: Required value")
        if key in self._objects:
            raise StoreError.already_exists(obj["kind"], key[2])
        if key[1]:
            meta["namespace"] = key[1]
            if obj["kind"] != "Event":
                ns = self.peek("Namespace", "", key[1])
                if ns is None:
                    raise StoreError.not_found("Namespace", key[1])
                if ns["metadata"].get("deletionTimestamp"):  # the NamespaceLifecycle admission's refusal
                    raise StoreError(403, "Forbidden", f'{qualified_resource(obj["kind"])} "{key[2]}" is forbidden: '
                                     f"unable to create new content in namespace {key[1]} because it is being "
                                     "terminated", _details(obj["kind"], key[2]))
        meta["uid"] = meta.get("uid") or str(uuid.uuid4())
        meta["creationTimestamp"] = meta.get("creationTimestamp") or now_iso()
        meta["generation"] = 1
        meta.pop("deletionTimestamp", None)
        return self._put(key, obj, "ADDED")

    def update(self, obj: dict, *, check_rv: bool = True) -> dict:
        """Replace an object. A stale resourceVersion is a 409 Conflict, as in Kubernetes."""
        obj = fold_string_data(copy.deepcopy(obj))
        key = key_of(obj)
        old = self._objects.get(key)
        if old is None:
            raise StoreError.not_found(obj["kind"], key[2])
        meta = obj.setdefault("metadata", {})
        want_rv = meta.get("resourceVersion")
        if check_rv and want_rv and want_rv != old["metadata"]["resourceVersion"]:
            raise StoreError.conflict(obj["kind"], key[2])
        for f in ("uid", "creationTimestamp", "namespace"):
            if f in old["metadata"]:
                meta[f] = old["metadata"][f]
        if "deletionTimestamp" in old["metadata"]:
            meta["deletionTimestamp"] = old["metadata"]["deletionTimestamp"]
        gen = old["metadata"].get("generation", 1)
        if _spec_of(obj) != _spec_of(old):
            gen += 1
        meta["generation"] = gen
        if "status" not in obj and "status" in old:
            obj["status"] = old["status"]
        if _same(obj, old):
            return copy.deepcopy(old)
        if meta.get("deletionTimestamp") and not _finalizers(obj):
            return self._remove(key)
        return self._put(key, obj, "MODIFIED")

    def update_status(self, kind: str, namespace: str, name: str, status: dict) -> dict | None:
        """Write only .status (the status subresource); a no-op if nothing changed."""
        ns = "" if kind in CLUSTER_SCOPED else (namespace or "default")
        old = self._objects.get((kind, ns, name))
        if old is None or old.get("status") == status:
            return None
        obj = copy.copy(old)
        obj["status"] = copy.deepcopy(status)
        obj["metadata"] = dict(old["metadata"])
        return self._put((kind, ns, name), obj, "MODIFIED", status_only=True)

    def delete(self, kind: str, namespace: str, name: str, *, graceful: bool = False) -> dict:
        """Delete an object. With finalizers or `graceful`, only mark deletionTimestamp."""
        ns = "" if kind in CLUSTER_SCOPED else (namespace or "default")
        old = self._objects.get((kind, ns, name))
        if old is None:
            raise StoreError.not_found(kind, name)
        if _finalizers(old) or graceful:
            if old["metadata"].get("deletionTimestamp"):
                return copy.deepcopy(old)
            obj = copy.deepcopy(old)
            obj["metadata"]["deletionTimestamp"] = now_iso()
            return self._put((kind, ns, name), obj, "MODIFIED")
        return self._remove((kind, ns, name))

    def _remove(self, key) -> dict:
        rv = self.rv + 1
        self._write(("DELETE FROM objects WHERE kind=? AND ns=? AND name=?", key), rv, key[0])
        obj = self._objects.pop(key)
        self._by_kind.get(key[0], {}).pop(key, None)
        self._index(key, obj, None)
        self._json.pop(key, None)
        self.rv = rv
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._emit(WatchEvent("DELETED", obj, self.rv))
        return obj

    def _put(self, key, obj: dict, etype: str, *, status_only: bool = False) -> dict:
        rv = self.rv + 1
        obj["metadata"]["resourceVersion"] = str(rv)
        self._write(("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)",
                     (*key, json.dumps(obj, separators=(",", ":")))), rv, key[0], status_only=status_only)
        self.rv = rv
        self._index(key, self._objects.get(key), obj)
        self._objects[key] = obj
        self._by_kind.setdefault(key[0], {})[key] = obj
        self._emit(WatchEvent(etype, obj, self.rv, status_only))
        return copy.deepcopy(obj)

    def _write(self, statement: tuple, rv: int, kind: str, *, status_only: bool = False) -> None:
        """Disk first, memory after: a write SQLite refuses (disk full, state dir made
        read-only) changes nothing, and is a 500 that says so, never an object that
        exists only until the next restart.

        Every commit waits for its fsync (store_file.py) except a relaxed one: an
        Event's (the cluster's log, not its state; Kubernetes keeps them an hour), and a
        status-only write of a kind in REDERIVED_STATUS. A 500-pod scale-up writes ~2,000 Events and ~2,000
        such statuses on the event loop, where an fsync waits behind Docker's own disk
        writes (0.2-0.4 s each at times). A relaxed commit is on disk with the next one
        that waits; a crash of the machine (not of kubedeck: WAL frames are written
        before the commit returns) may lose those written since, never a spec."""
        self._write_started = time.time()  # the activity stream's start of this write
        relaxed = kind == "Event" or (status_only and kind in REDERIVED_STATUS)
        try:  # one transaction (the connection autocommits each statement otherwise): a
            # reader or a crash never sees the object without the rv that goes with it
            if relaxed:
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(*statement)
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(rv),))
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            finally:
                if relaxed:
                    self._db.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as e:
            why = why_unwritable(self._path) if self._path else ""
            cause = f"{e}; {why}" if why else str(e)
            if cause != self.unwritable:  # said once per cause, not once per refused write
                log.error("the store %s cannot be written (%s): writes are refused until it can", self._path, cause)
            self.unwritable = cause
            raise StoreError(500, "InternalError", f"the store cannot be written ({cause}): nothing was changed; "
                             "free disk space, fix the state dir's permissions or remount it read-write") from None
        if self.unwritable:
            log.warning("the store %s can be written again", self._path)
            self.unwritable = ""

    def _index(self, key, old: dict | None, new: dict | None) -> None:
        """Keep the uid and owner indexes in step with one object's change."""
        for obj, add in ((old, False), (new, True)):
            if obj is None:
                continue
            meta = obj["metadata"]
            if meta.get("uid"):
                if add:
                    self._by_uid[meta["uid"]] = key
                elif self._by_uid.get(meta["uid"]) == key:
                    del self._by_uid[meta["uid"]]
            for ref in meta.get("ownerReferences") or []:
                deps = self._by_owner.setdefault(ref.get("uid", ""), set())
                if add:
                    deps.add(key)
                else:
                    deps.discard(key)
                    if not deps:
                        del self._by_owner[ref.get("uid", "")]

    # ---- watches -----------------------------------------------------------------
    def _emit(self, ev: WatchEvent) -> None:
        activity.RING.store_write(ev.type, ev.object, len(self._watchers), self._write_started)
        now = time.monotonic()
        self._history.append(ev)
        self._history_at.append(now)
        while len(self._history) > HISTORY_MAX or (
                len(self._history) > HISTORY_MIN and self._history_at[0] < now - HISTORY_SECONDS):
            self._history.popleft()
            self._history_at.popleft()
        for q in list(self._watchers):
            q.put_nowait(ev)

    def oldest_rv(self) -> int:
        return self._history[0].rv if self._history else self.rv

    async def watch(self, since_rv: int | None = None) -> AsyncIterator[WatchEvent]:
        """Every event after since_rv (None: from now), in order, forever.

        Raises StoreError(410) when since_rv is older than the kept history."""
        q: asyncio.Queue = asyncio.Queue()
        self._watchers.add(q)
        try:
            if since_rv is not None and since_rv < self.rv:
                if self._history and since_rv < self._history[0].rv - 1:
                    raise StoreError(410, "Expired", f"too old resource version: {since_rv} ({self.oldest_rv()})")
                for ev in list(self._history):
                    if ev.rv > since_rv:
                        q.put_nowait(ev)
            last = since_rv or self.rv
            while True:
                ev = await q.get()
                if ev.rv <= last:
                    continue
                last = ev.rv
                yield ev
        finally:
            self._watchers.discard(q)


def _spec_of(obj: dict):
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _same(a: dict, b: dict) -> bool:
    strip = lambda o: {**o, "metadata": {k: v for k, v in o["metadata"].items() if k != "resourceVersion"}}
    return strip(a) == strip(b)


def fold_string_data(obj: dict) -> dict:
    """A Secret's `stringData` is write-only, as in Kubernetes: every write folds it into
    base64 `data` (its keys win over `data`'s) and it is never stored nor returned."""
    if obj.get("kind") == "Secret" and "stringData" in obj:
        extra = obj.pop("stringData") or {}
        if isinstance(extra, dict) and extra:
            data = dict(obj.get("data") or {})
            for k, v in extra.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj["data"] = data
    return obj
