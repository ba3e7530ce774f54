"""Scheduler: binds each unscheduled pod to a node; never starts anything itself.

Filters as kube-scheduler's default plugins do (node unschedulable, nodeSelector,
required node affinity, taints vs tolerations, resource requests vs allocatable),
then spreads by choosing the feasible node with the fewest pods of the same owner
(kube-scheduler's default topology spreading), then the fewest pods overall. A pod that fits
nowhere gets PodScheduled=False/Unschedulable with kube-scheduler's message, and is
tried again when room may have appeared: a Node changed, or a bound pod went away,
finished or began terminating (kube-scheduler's move of unschedulable pods on cluster
events).

Keyed by Pod. What every node already holds (requests, pod counts, siblings per owner)
is computed once and kept while the store's resourceVersion is the one after the
scheduler's own last write, so binding a burst of N pods costs O(N + pods), not O(N * pods).
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Iterable

from ..clock import Clock, iso
from ..quantity import parse_quantity, pod_requests
from ..selectors import matches_selector
from ..store import Store, WatchEvent, key_of
from .base import Controller, Key, Objects
from .podutil import is_terminating, set_condition


def tolerates(pod: dict, taint: dict) -> bool:
    for t in pod["spec"].get("tolerations") or []:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t["key"] == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def _affinity_ok(pod: dict, labels: dict) -> bool:
    req = ((((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
            .get("requiredDuringSchedulingIgnoredDuringExecution")) or {})
    terms = req.get("nodeSelectorTerms") or []
    if not terms:
        return True
    return any(matches_selector({"matchExpressions": t.get("matchExpressions") or []}, labels) for t in terms)


def why_not(pod: dict, node: dict, used: tuple[float, float]) -> str | None:
    """None when the pod fits the node, else kube-scheduler's reason phrase."""
    if node["spec"].get("unschedulable"):
        return "node(s) were unschedulable"
    ready = next((c for c in (node.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"), None)
    if not ready or ready["status"] != "True":
        return "node(s) were not ready"
    labels = node["metadata"].get("labels") or {}
    if not matches_selector(pod["spec"].get("nodeSelector") or {}, labels) or not _affinity_ok(pod, labels):
        return "node(s) didn't match Pod's node affinity/selector"
    for taint in node["spec"].get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(pod, taint):
            return f"node(s) had untolerated taint {{{taint['key']}: {taint.get('value', '')}}}"
    alloc = (node.get("status") or {}).get("allocatable") or {}
    cpu, mem = pod_requests(pod)
    if cpu and used[0] + cpu > parse_quantity(alloc.get("cpu", "0")):
        return "Insufficient cpu"
    if mem and used[1] + mem > parse_quantity(alloc.get("memory", "0")):
        return "Insufficient memory"
    return None


def _owner(pod: dict) -> str:
    ref = next((r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
    return ref["uid"] if ref else ""


class _Usage:
    """What the nodes hold: requests (cpu, memory) and pod counts per node, and pods per
    (owner uid, node) for spreading."""

    def __init__(self, pods: Iterable[dict], nodes: Iterable[str]):
        self.used: dict[str, list[float]] = {n: [0.0, 0.0] for n in nodes}
        self.count: Counter = Counter()
        self.siblings: Counter = Counter()
        for p in pods:
            node = p["spec"].get("nodeName")
            if node in self.used and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                self.add(p, node, sibling=not is_terminating(p))

    def add(self, pod: dict, node: str, sibling: bool = True) -> None:
        cpu, mem = pod_requests(pod)
        self.used[node][0] += cpu
        self.used[node][1] += mem
        self.count[node] += 1
        if sibling:
            self.siblings[(_owner(pod), node)] += 1


def _frees_room(pod: dict) -> bool:
    return bool(pod["spec"].get("nodeName")) and (
        is_terminating(pod) or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"))


class Scheduler(Controller):
    component = "default-scheduler"

    def __init__(self, store: Store, objects: Objects, clock: Clock):
        super().__init__(store)
        self.objects = objects
        self.clock = clock
        self._usage: tuple[int, _Usage] | None = None  # (store rv it is true at, usage)
        self._unschedulable: set[Key] = set()  # pods that fit nowhere last time

    def keys(self) -> Iterable[Key]:
        return [key_of(p) for p in self.store.iter_kind("Pod") if not p["spec"].get("nodeName")]

    def related(self, ev: WatchEvent) -> Iterable[Key]:
        obj = ev.object
        if obj.get("kind") == "Pod" and ev.type != "DELETED" and not obj["spec"].get("nodeName") \
                and not is_terminating(obj):
            return [key_of(obj)]  # only a pod still to bind: status writes of bound pods cost nothing
        if obj.get("kind") == "Node" or (obj.get("kind") == "Pod" and (ev.type == "DELETED" or _frees_room(obj))):
            return list(self._unschedulable)
        return ()

    def _snapshot(self, nodes: list[dict]) -> _Usage:
        if self._usage is None or self._usage[0] != self.store.rv:
            self._usage = (self.store.rv, _Usage(self.store.iter_kind("Pod"), (n["metadata"]["name"] for n in nodes)))
        return self._usage[1]

    def reconcile(self, key: Key) -> None:
        pod = self.store.peek(*key)
        self._unschedulable.discard(key)
        if pod is None or pod["spec"].get("nodeName") or is_terminating(pod):
            return
        nodes = list(self.store.iter_kind("Node"))
        usage = self._snapshot(nodes)
        reasons: Counter = Counter()
        fits = []
        for n in nodes:
            name = n["metadata"]["name"]
            r = why_not(pod, n, tuple(usage.used[name]))
            if r:
                reasons[r] += 1
            else:
                fits.append(n)
        if not fits:
            msg = f"0/{len(nodes)} nodes are available: " + ", ".join(
                f"{n} {r}" for r, n in sorted(reasons.items())) + "."
            self._unschedulable.add(key)
            self._mark_unschedulable(pod, msg)
            self._usage = (self.store.rv, usage)  # a pending pod's status holds no usage
            return
        owner = _owner(pod)
        node = min(fits, key=lambda n: (usage.siblings[(owner, n["metadata"]["name"])],
                                        usage.count[n["metadata"]["name"]], n["metadata"]["name"]))["metadata"]["name"]
        self._bind(pod, node)
        usage.add(pod, node)
        self._usage = (self.store.rv, usage)  # still true: the only writes since were this bind's

    def _bind(self, pod: dict, node: str) -> None:
        obj = copy.deepcopy(pod)
        obj["spec"]["nodeName"] = node
        st = obj.setdefault("status", {})
        st["conditions"] = set_condition(st.get("conditions") or [], "PodScheduled", "True",
                                         now=iso(self.clock.now()))
        self.store.update(obj, check_rv=False)
        self.objects.record_event(obj, "Scheduled",
                                  f"Successfully assigned {obj['metadata']['namespace']}/{obj['metadata']['name']} "
                                  f"to {node}", component="default-scheduler")

    def _mark_unschedulable(self, pod: dict, msg: str) -> None:
        st = copy.deepcopy(pod.get("status") or {})
        old = next((c for c in st.get("conditions") or [] if c["type"] == "PodScheduled"), None)
        if old and old.get("message") == msg:
            return
        st["phase"] = "Pending"
        st["conditions"] = set_condition(st.get("conditions") or [], "PodScheduled", "False", "Unschedulable", msg,
                                         now=iso(self.clock.now()))
        self.store.update_status("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"], st)
        self.objects.record_event(pod, "FailedScheduling", msg, type="Warning", component="default-scheduler")
