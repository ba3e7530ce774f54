"""Scheduler: binds each unscheduled pod to a node; never starts anything itself.

Filters as kube-scheduler's default plugins do (node unschedulable, nodeSelector,
required node affinity, taints vs tolerations, resource requests vs allocatable),
then spreads by choosing the feasible node with the fewest pods of the same owner
(kube-scheduler's default topology spreading), then the fewest pods overall. A pod that fits
nowhere gets PodScheduled=False/Unschedulable with kube-scheduler's message and is
retried on the next pass, so it is bound as soon as room appears.
"""

from __future__ import annotations

import copy
from collections import Counter

from ..quantity import parse_quantity, pod_requests
from ..selectors import matches_selector
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


class Scheduler:
    def __init__(self, cluster):
        self.c = cluster
        self.store = cluster.store

    def reconcile(self) -> None:
        pods = list(self.store.iter_kind("Pod"))
        pending = [p for p in pods if not p["spec"].get("nodeName") and not is_terminating(p)]
        if not pending:
            return
        nodes = list(self.store.iter_kind("Node"))
        used: dict[str, list[float]] = {n["metadata"]["name"]: [0.0, 0.0] for n in nodes}
        count: Counter = Counter()
        siblings: Counter = Counter()  # (owner uid, node): kube-scheduler's default spreading
        for p in pods:
            node = p["spec"].get("nodeName")
            if node in used and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                cpu, mem = pod_requests(p)
                used[node][0] += cpu
                used[node][1] += mem
                count[node] += 1
                if not is_terminating(p):
                    siblings[(_owner(p), node)] += 1
        for pod in pending:
            reasons: Counter = Counter()
            fits = []
            for n in nodes:
                name = n["metadata"]["name"]
                r = why_not(pod, n, tuple(used[name]))
                if r:
                    reasons[r] += 1
                else:
                    fits.append(n)
            if fits:
                owner = _owner(pod)
                node = min(fits, key=lambda n: (siblings[(owner, n["metadata"]["name"])],
                                                count[n["metadata"]["name"]], n["metadata"]["name"]))
                name = node["metadata"]["name"]
                siblings[(owner, name)] += 1
                self._bind(pod, name)
                cpu, mem = pod_requests(pod)
                used[name][0] += cpu
                used[name][1] += mem
                count[name] += 1
            else:
                msg = f"0/{len(nodes)} nodes are available: " + ", ".join(
                    f"{n} {r}" for r, n in sorted(reasons.items())) + "."
                self._unschedulable(pod, msg)

    def _bind(self, pod: dict, node: str) -> None:
        obj = copy.deepcopy(pod)
        obj["spec"]["nodeName"] = node
        st = obj.setdefault("status", {})
        st["conditions"] = set_condition(st.get("conditions") or [], "PodScheduled", "True")
        self.store.update(obj, check_rv=False)
        self.c.record_event(obj, "Scheduled",
                            f"Successfully assigned {obj['metadata']['namespace']}/{obj['metadata']['name']} to {node}",
                            component="default-scheduler")

    def _unschedulable(self, pod: dict, msg: str) -> None:
        st = copy.deepcopy(pod.get("status") or {})
        old = next((c for c in st.get("conditions") or [] if c["type"] == "PodScheduled"), None)
        if old and old.get("message") == msg:
            return
        st["phase"] = "Pending"
        st["conditions"] = set_condition(st.get("conditions") or [], "PodScheduled", "False", "Unschedulable", msg)
        self.store.update_status("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"], st)
        self.c.record_event(pod, "FailedScheduling", msg, type="Warning", component="default-scheduler")
