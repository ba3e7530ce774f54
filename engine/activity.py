"""The activity stream: what each engine component did, in a bounded ring.

kubedeck runs every Kubernetes role (API server, etcd, scheduler, controllers, kubelet,
container runtime, kube-proxy, Ingress controller) in one process, so it can say which
one did what and when. Each action is one tuple appended to a `collections.deque` with
a `maxlen`: `(seq, start, end, component, instance, verb, kind, namespace, name,
detail)`, times from `time.time()` (so they compare with file mtimes and Event times).
Recording costs one tuple and one append (a few hundred nanoseconds, measured in
tests/unit/test_activity.py and bench/activity_cost.py); deque appends are atomic in
CPython, so the agent's Docker threads record without a lock. Nothing is ever read on
the hot path: the API's `/kubedeck/v1/activity?since=N` (engine/api/activity_api.py)
turns entries after sequence number N into dicts when someone asks.

The ring is one per process (`RING`, with module-level `record`): the engine is one
cluster per process, and the store, the agent and the proxies record into it without
being handed anything. The store records every write (as `etcd`, with the number of
watchers the event was fanned out to) and, for an Event, the action it reports, in the
reporting component's name: so every Event any component records is in the stream too.
"""

from __future__ import annotations

import itertools
import os
import time
from collections import deque

SIZE = 20_000
FIELDS = ("seq", "start", "end", "component", "instance", "verb", "kind", "namespace", "name", "detail")


class Activity:
    def __init__(self, size: int = SIZE) -> None:
        self.ring: deque[tuple] = deque(maxlen=size)
        self._seq = itertools.count(1)

    def record(self, component: str, verb: str, kind: str = "", namespace: str = "", name: str = "", *,
               start: float | None = None, instance: str = "", detail: object = "") -> None:
        end = time.time()
        self.ring.append((next(self._seq), end if start is None else start, end, component, instance, verb,
                          kind, namespace, name, detail))

    def store_write(self, etype: str, obj: dict, watchers: int, start: float) -> None:
        """A store write (etcd's part; `watchers`: how many watch queues got the event)."""
        end = time.time()
        meta = obj["metadata"]
        kind = obj.get("kind", "")
        self.ring.append((next(self._seq), start, end, "etcd", "", etype, kind, meta.get("namespace", ""),
                          meta.get("name", ""), watchers))
        if kind == "Event" and etype != "DELETED":
            # the reported action itself, under the component that reported it
            src = obj.get("source") or {}
            inv = obj.get("involvedObject") or {}
            self.ring.append((next(self._seq), end, end, src.get("component") or obj.get("reportingComponent", ""),
                              src.get("host", ""), obj.get("reason", ""), inv.get("kind", ""),
                              inv.get("namespace", ""), inv.get("name", ""), obj.get("message", "")))

    def file_applied(self, path: os.PathLike, kind: str, namespace: str, name: str, rel: str) -> None:
        """The folder sync applied one object of a file: the action starts at the save."""
        try:
            saved = os.stat(path).st_mtime
        except OSError:
            saved = None
        self.record("folder-sync", "apply", kind, namespace, name, start=saved, detail=rel)

    def pod_status(self, namespace: str, name: str, node: str, status: dict) -> None:
        """The kubelet wrote a pod's status: `Ready` when its Ready condition is True,
        else its phase (the journey's "readiness passed" is the first `Ready`)."""
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or ())
        self.record("kubelet", "status", "Pod", namespace, name, instance=node,
                    detail="Ready" if ready else status.get("phase", ""))

    def last_seq(self) -> int:
        return self.ring[-1][0] if self.ring else 0

    def since(self, seq: int = 0, limit: int | None = None) -> list[dict]:
        """Entries after sequence number `seq`, oldest first, as dicts (at most the
        newest `limit`)."""
        out = []
        # a copy first (one C call, atomic under the GIL): threads may append meanwhile
        for entry in reversed(list(self.ring)):  # newest first: stop at the first one seen
            if entry[0] <= seq or (limit is not None and len(out) >= limit):
                break
            out.append(dict(zip(FIELDS, entry)))
        out.reverse()
        return out


RING = Activity()
record = RING.record
