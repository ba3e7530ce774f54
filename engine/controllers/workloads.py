"""StatefulSet, DaemonSet and Job controllers, each keyed by its own kind.

Their pods wake them through ownerReferences and come from the store's owner index;
Node events wake every DaemonSet. A Job requeues itself for the time-based parts of its
spec: the back-off before a failed pod's replacement, activeDeadlineSeconds, and
ttlSecondsAfterFinished.
"""

from __future__ import annotations

import copy
from typing import Iterable

from ..clock import Clock, iso
from ..selectors import matches_selector
from ..store import Store, StoreError, WatchEvent
from .base import Controller, Key, Objects
from .podutil import (is_ready, is_terminating, owned_by, parse_time, pod_from_template,
                      set_condition, template_hash)
from .scheduler import _affinity_ok, tolerates

REV = "controller-revision-hash"
# what the DaemonSet controller adds to its pods: daemons stay on cordoned, not-ready and
# unreachable nodes (a cordon or a node failure does not remove them)
DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def daemon_fits(pod: dict, node: dict, running: bool = False) -> bool:
    """Whether a daemon pod belongs on node: selector, required affinity and taints only.
    A pod already running there stays despite NoSchedule taints (only NoExecute evicts)."""
    labels = node["metadata"].get("labels") or {}
    if not matches_selector(pod["spec"].get("nodeSelector") or {}, labels) or not _affinity_ok(pod, labels):
        return False
    effects = ("NoExecute",) if running else ("NoSchedule", "NoExecute")
    return all(tolerates(pod, t) for t in node["spec"].get("taints") or [] if t.get("effect") in effects)


def _owned_pods(store: Store, owner: dict) -> list[dict]:
    uid = owner["metadata"]["uid"]
    return [p for p in store.dependents(uid, "Pod") if owned_by(p, uid)]


class _Workload(Controller):
    """A controller keyed by its own kind that skips objects being deleted."""

    def __init__(self, store: Store, objects: Objects):
        super().__init__(store)
        self.objects = objects

    def reconcile(self, key: Key) -> float | None:
        obj = self.store.peek(*key)
        if obj is None or is_terminating(obj):
            return None
        return self.sync(obj)

    def sync(self, obj: dict) -> float | None:
        raise NotImplementedError


class StatefulSetController(_Workload):
    kinds = ("StatefulSet",)
    component = "statefulset-controller"

    def _pod(self, sts: dict, i: int, rev: str) -> dict:
        name = sts["metadata"]["name"]
        ns = sts["metadata"]["namespace"]
        pod = pod_from_template(sts["spec"]["template"], owner=sts, name=f"{name}-{i}",
                                extra_labels={REV: rev, "statefulset.kubernetes.io/pod-name": f"{name}-{i}",
                                              "apps.kubernetes.io/pod-index": str(i)})
        pod["spec"]["hostname"] = f"{name}-{i}"
        if sts["spec"].get("serviceName"):
            pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
        vols = pod["spec"].setdefault("volumes", [])
        for tmpl in sts["spec"].get("volumeClaimTemplates") or []:
            claim = f"{tmpl['metadata']['name']}-{name}-{i}"
            vols[:] = [v for v in vols if v.get("name") != tmpl["metadata"]["name"]]
            vols.append({"name": tmpl["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim}})
            if not self.store.peek("PersistentVolumeClaim", ns, claim):
                pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": claim, "namespace": ns,
                                    "labels": dict((sts["spec"]["selector"].get("matchLabels") or {}))},
                       "spec": copy.deepcopy(tmpl.get("spec") or {}), "status": {"phase": "Bound"}}
                try:
                    self.store.create(pvc)
                except StoreError:
                    pass
        return pod

    def sync(self, sts: dict) -> None:
        spec, meta = sts["spec"], sts["metadata"]
        replicas = int(spec.get("replicas", 1))
        rev = f"{meta['name']}-{template_hash(spec['template'])}"
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        pods = {p["metadata"]["name"]: p for p in _owned_pods(self.store, sts)}
        by_ord = {}
        for name, p in pods.items():
            suffix = name.rsplit("-", 1)[-1]
            if suffix.isdigit():
                by_ord[int(suffix)] = p
        # failed pods are replaced, as the StatefulSet controller does
        for p in list(by_ord.values()):
            if (p.get("status") or {}).get("phase") in ("Failed", "Succeeded") and not is_terminating(p):
                self.objects.delete("Pod", meta["namespace"], p["metadata"]["name"])
        for i in range(replicas):
            p = by_ord.get(i)
            if p is None:
                try:
                    self.store.create(self._pod(sts, i, rev))
                    self.objects.record_event(sts, "SuccessfulCreate", f"create Pod {meta['name']}-{i} in StatefulSet {meta['name']} successful", component=self.component)
                except StoreError:
                    pass
                if ordered:
                    break
                continue
            if ordered and not is_ready(p):
                break
        else:
            extra = sorted((i for i in by_ord if i >= replicas), reverse=True)
            for i in extra[:1] if ordered else extra:
                if not is_terminating(by_ord[i]):
                    self.objects.delete("Pod", meta["namespace"], by_ord[i]["metadata"]["name"])
            strategy = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
            live = [by_ord.get(i) for i in range(replicas)]
            if strategy == "RollingUpdate" and not extra and all(p is not None and is_ready(p) for p in live):
                stale = [p for p in live if (p["metadata"].get("labels") or {}).get(REV) != rev]
                if stale:  # reverse ordinal order, one at a time
                    self.objects.delete("Pod", meta["namespace"], stale[-1]["metadata"]["name"])
        live = [p for i, p in by_ord.items() if i < replicas and not is_terminating(p)]
        status = {"observedGeneration": meta.get("generation", 1), "replicas": len(live),
                  "readyReplicas": sum(1 for p in live if is_ready(p)),
                  "availableReplicas": sum(1 for p in live if is_ready(p)),
                  "currentReplicas": sum(1 for p in live if (p["metadata"].get("labels") or {}).get(REV) == rev),
                  "updatedReplicas": sum(1 for p in live if (p["metadata"].get("labels") or {}).get(REV) == rev),
                  "currentRevision": rev, "updateRevision": rev}
        self.store.update_status("StatefulSet", meta["namespace"], meta["name"], status)


class DaemonSetController(_Workload):
    kinds = ("DaemonSet",)
    component = "daemonset-controller"

    def related(self, ev: WatchEvent) -> Iterable[Key]:
        return self.keys() if ev.object.get("kind") == "Node" else ()

    def sync(self, ds: dict) -> None:
        nodes = list(self.store.iter_kind("Node"))
        meta = ds["metadata"]
        rev = template_hash(ds["spec"]["template"])
        probe = {"spec": copy.deepcopy(ds["spec"]["template"].get("spec") or {}), "metadata": {}}
        probe["spec"]["tolerations"] = (probe["spec"].get("tolerations") or []) + DAEMON_TOLERATIONS
        eligible = {n["metadata"]["name"] for n in nodes if daemon_fits(probe, n)}
        keep = {n["metadata"]["name"] for n in nodes if daemon_fits(probe, n, running=True)}
        pods = [p for p in _owned_pods(self.store, ds) if not is_terminating(p)]
        on = {}
        for p in pods:
            node = p["spec"].get("nodeName")
            if node not in keep or node in on:
                self.objects.delete("Pod", meta["namespace"], p["metadata"]["name"])
            else:
                on[node] = p
        for node in sorted(eligible - set(on)):  # new daemons only where every taint is tolerated
            pod = pod_from_template(ds["spec"]["template"], owner=ds, generate_name=f"{meta['name']}-",
                                    extra_labels={REV: rev})
            pod["spec"]["nodeName"] = node
            pod["spec"]["tolerations"] = probe["spec"]["tolerations"]
            self.store.create(pod)
        stale = [p for p in on.values() if (p["metadata"].get("labels") or {}).get(REV) != rev]
        if stale and all(is_ready(p) for p in on.values()):
            self.objects.delete("Pod", meta["namespace"], stale[0]["metadata"]["name"])
        status = {"desiredNumberScheduled": len(eligible | set(on)), "currentNumberScheduled": len(on),
                  "numberReady": sum(1 for p in on.values() if is_ready(p)),
                  "numberAvailable": sum(1 for p in on.values() if is_ready(p)),
                  "updatedNumberScheduled": len(on) - len(stale), "numberMisscheduled": 0,
                  "observedGeneration": meta.get("generation", 1)}
        self.store.update_status("DaemonSet", meta["namespace"], meta["name"], status)


class JobController(_Workload):
    kinds = ("Job",)
    component = "job-controller"

    def __init__(self, store: Store, objects: Objects, clock: Clock):
        super().__init__(store, objects)
        self.clock = clock

    def sync(self, job: dict) -> float | None:
        """Returns the seconds until the Job's next time-based step, if it has one."""
        spec, meta = job["spec"], job["metadata"]
        now = self.clock.now()
        status = copy.deepcopy(job.get("status") or {})
        conds = status.get("conditions") or []
        finished = next((c for c in conds if c["type"] in ("Complete", "Failed") and c["status"] == "True"), None)
        if finished:
            ttl = spec.get("ttlSecondsAfterFinished")
            if ttl is None:
                return None
            expires = parse_time(finished.get("lastTransitionTime")) + int(ttl)
            if expires > now:
                return expires - now
            self.objects.delete("Job", meta["namespace"], meta["name"])
            return None
        pods = _owned_pods(self.store, job)
        phase = lambda p: (p.get("status") or {}).get("phase")
        active = [p for p in pods if phase(p) not in ("Succeeded", "Failed") and not is_terminating(p)]
        succeeded = sum(1 for p in pods if phase(p) == "Succeeded")
        failed = sum(1 for p in pods if phase(p) == "Failed") + sum(
            cs.get("restartCount", 0) for p in pods for cs in (p.get("status") or {}).get("containerStatuses") or [])
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1))
        backoff = int(spec.get("backoffLimit", 6))
        status.setdefault("startTime", iso(now))
        waits = []
        reason = None
        if failed > backoff:
            reason = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        ads = spec.get("activeDeadlineSeconds")
        if ads is not None:
            if parse_time(status["startTime"]) + int(ads) <= now:
                reason = ("DeadlineExceeded", "Job was active longer than specified deadline")
            waits.append(parse_time(status["startTime"]) + int(ads) - now)
        done = succeeded >= (completions if completions is not None else 1) and (completions is not None or not active)
        if reason:
            for p in active:
                self.objects.delete("Pod", meta["namespace"], p["metadata"]["name"])
            status["conditions"] = set_condition(conds, "Failed", "True", *reason, now=iso(now))
            self.objects.record_event(job, reason[0], reason[1], type="Warning", component=self.component)
            active, waits = [], []
        elif done:
            status["conditions"] = set_condition(conds, "Complete", "True", now=iso(now))
            status["completionTime"] = iso(now)
            self.objects.record_event(job, "Completed", "Job completed", component=self.component)
            waits = []
        else:
            want = parallelism if completions is None and not succeeded else min(
                parallelism, (completions or 1) - succeeded)
            labels = {"job-name": meta["name"], "batch.kubernetes.io/job-name": meta["name"],
                      "controller-uid": meta["uid"]}
            last_fail = max((parse_time(((p.get("status") or {}).get("containerStatuses") or [{}])[0]
                                        .get("state", {}).get("terminated", {}).get("finishedAt"))
                             for p in pods if phase(p) == "Failed"), default=0)
            delay = min(10 * 2 ** max(0, failed - 1), 360) if failed else 0
            if last_fail + delay > now and len(active) < want:
                waits.append(last_fail + delay - now)  # the back-off before a replacement
            else:
                for _ in range(max(0, want - len(active))):
                    pod = pod_from_template(spec["template"], owner=job, generate_name=f"{meta['name']}-",
                                            extra_labels=labels)
                    created = self.store.create(pod)
                    active.append(created)
                    self.objects.record_event(job, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}", component=self.component)
        status.update({"active": len(active), "succeeded": succeeded, "failed": failed})
        for k in ("active", "succeeded", "failed"):
            if not status[k]:
                status.pop(k)
        self.store.update_status("Job", meta["namespace"], meta["name"], status)
        return min(waits) if waits else None
