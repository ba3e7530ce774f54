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
kube-proxy's first connection to each endpoint through a NodePort (`served`) is seen
after the fact (the kernel's sets are read on the agent's pass), so it is recorded with
its own time as `end`: readers sort by `end`, not by sequence number.
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
               start: float | None = None, end: float | None = None, instance: str = "",
               detail: object = "") -> None:
        """One action; `end` defaults to now (a past `end` is an action observed later: the
        ring is then not in time order, readers sort by `end`)."""
        end = time.time() if end is None else end
        self.ring.append((next(self._seq), end if start is None else start, end, component, instance, verb,
                          kind, namespace, name, detail))

    def served(self, namespace: str, pod: str, at: float, detail: str) -> None:
        """kube-proxy saw the first connection to a pod through a NodePort, at `at`
        (kubeproxy/nodeport_kernel.py for the kernel's DNAT, proxy/dataplane.py for the
        proxy worker): the journey's last hop."""
        self.record("kube-proxy", "served", "Pod", namespace, pod, start=at, end=at, detail=detail)

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
