"""Deployment controller: one ReplicaSet per pod template, rolled as Kubernetes rolls them.

RollingUpdate follows pkg/controller/deployment/rolling.go: scale the new ReplicaSet up
while all pods stay within replicas + maxSurge, and scale old ones down only as far as
keeps replicas - maxUnavailable pods available (old pods that are not available may go
at once). maxSurge rounds up, maxUnavailable rounds down, and if both come out 0,
maxUnavailable becomes 1. Recreate scales old ReplicaSets to 0 and waits for their pods
to be gone before the new one starts. Each reconcile does what it can and the next event
continues: nothing here is edge-triggered.

Keyed by Deployment. Its ReplicaSets wake it through their ownerReferences, and so do
their pods (`related`: a pod's ReplicaSet's Deployment, found by uid); ReplicaSets and
pods come from the store's owner index. A rollout that is progressing requeues itself
for its progress deadline.
"""

from __future__ import annotations

import copy
from typing import Iterable

from ..clock import Clock, iso
from ..store import Store, StoreError, WatchEvent
from .base import Controller, Key, Objects, key_for
from .podutil import (is_available, is_terminating, owned_by, owner_ref, parse_time,
                      resolve_int_or_percent, set_condition, template_hash)

REVISION = "deployment.kubernetes.io/revision"
HASH = "pod-template-hash"


class DeploymentController(Controller):
    kinds = ("Deployment",)
    component = "deployment-controller"
    woken_interval = 0.1  # its ReplicaSets' and pods' writes, as the ReplicaSet controller

    def __init__(self, store: Store, objects: Objects, clock: Clock):
        super().__init__(store)
        self.objects = objects
        self.clock = clock

    def related(self, ev: WatchEvent) -> Iterable[Key]:
        if ev.object.get("kind") != "Pod":
            return
        for ref in ev.object["metadata"].get("ownerReferences") or []:
            rs = self.store.by_uid(ref.get("uid")) if ref.get("kind") == "ReplicaSet" else None
            for owner in (rs or {}).get("metadata", {}).get("ownerReferences") or []:
                if owner.get("kind") == "Deployment":
                    yield key_for("Deployment", rs["metadata"].get("namespace"), owner.get("name", ""))

    def reconcile(self, key: Key) -> float | None:
        d = self.store.peek(*key)
        if d is None or is_terminating(d):
            return None
        return self.sync(d)

    def _owned(self, d: dict) -> list[dict]:
        uid = d["metadata"]["uid"]
        return [rs for rs in self.store.dependents(uid, "ReplicaSet") if owned_by(rs, uid)]

    def _pods(self, rs: dict, terminating: bool = False) -> list[dict]:
        uid = rs["metadata"]["uid"]
        return [p for p in self.store.dependents(uid, "Pod")
                if owned_by(p, uid) and (terminating or not is_terminating(p))]

    def sync(self, d: dict) -> float | None:
        spec = d["spec"]
        replicas = int(spec.get("replicas", 1))
        template = spec["template"]
        h = template_hash(template, (d.get("status") or {}).get("collisionCount", 0))
        rss = self._owned(d)
        new = next((rs for rs in rss if rs["metadata"].get("labels", {}).get(HASH) == h), None)
        old = [rs for rs in rss if rs is not new]
        max_rev = max([int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")) for rs in rss] or [0])
        if new is None:
            new = self._create_rs(d, h, max_rev + 1, 0 if old else replicas)
            if new is None:
                return None
        elif int((new["metadata"].get("annotations") or {}).get(REVISION, "0")) < max_rev:
            new = copy.deepcopy(new)  # rolled back to an older template: it becomes newest
            new["metadata"].setdefault("annotations", {})[REVISION] = str(max_rev + 1)
            new = self.store.update(new, check_rv=False)
        if not spec.get("paused"):
            strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
            if strategy == "Recreate":
                self._recreate(d, new, old, replicas)
            else:
                self._rolling(d, new, old, replicas)
        self._cleanup(d, old)
        return self._status(d, new, old, replicas)

    def _create_rs(self, d: dict, h: str, revision: int, replicas: int) -> dict | None:
        template = copy.deepcopy(d["spec"]["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH] = h
        selector = copy.deepcopy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[HASH] = h
        name = f"{d['metadata']['name']}-{h}"
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": name, "namespace": d["metadata"]["namespace"],
                           "labels": {**(template["metadata"].get("labels") or {})},
                           "annotations": {REVISION: str(revision),
                                           "deployment.kubernetes.io/desired-replicas": str(d["spec"].get("replicas", 1))},
                           "ownerReferences": [owner_ref(d)]},
              "spec": {"replicas": replicas, "selector": selector, "template": template,
                       "minReadySeconds": d["spec"].get("minReadySeconds", 0)}}
        try:
            out = self.store.create(rs)
        except StoreError:
            return None
        if replicas > 0:  # as Kubernetes: a new ReplicaSet made at 0 (surge to come) is no scale-up
            self.objects.record_event(d, "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {replicas}",
                                      component=self.component)
        return out

    def _scale(self, d: dict, rs: dict, n: int) -> None:
        if int(rs["spec"].get("replicas", 0)) == n:
            return
        before = int(rs["spec"].get("replicas", 0))
        obj = copy.deepcopy(self.store.peek("ReplicaSet", rs["metadata"]["namespace"], rs["metadata"]["name"]))
        if obj is None:
            return
        obj["spec"]["replicas"] = n
        self.store.update(obj, check_rv=False)
        word = "up" if n > before else "down"
        self.objects.record_event(d, "ScalingReplicaSet",
                                  f"Scaled {word} replica set {rs['metadata']['name']} from {before} to {n}", component=self.component)

    def _recreate(self, d: dict, new: dict, old: list[dict], replicas: int) -> None:
        for rs in old:
            self._scale(d, rs, 0)
        if any(self._pods(rs, terminating=True) for rs in old):
            return  # wait until every old pod is gone, terminating ones included
        self._scale(d, new, replicas)

    def _rolling(self, d: dict, new: dict, old: list[dict], replicas: int) -> None:
        ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
        surge = resolve_int_or_percent(ru.get("maxSurge", "25%"), replicas, round_up=True)
        unavail = resolve_int_or_percent(ru.get("maxUnavailable", "25%"), replicas, round_up=False)
        if surge == 0 and unavail == 0:
            unavail = 1
        active_old = [rs for rs in old if int(rs["spec"].get("replicas", 0)) > 0]
        if not active_old:
            self._scale(d, new, replicas)
            return
        mrs = int(d["spec"].get("minReadySeconds", 0))
        total = sum(int(rs["spec"].get("replicas", 0)) for rs in [new, *old])
        # scale up the new ReplicaSet within maxSurge
        new_n = int(new["spec"].get("replicas", 0))
        if new_n < replicas and total < replicas + surge:
            up = min(replicas - new_n, replicas + surge - total)
            self._scale(d, new, new_n + up)
            total += up
            new_n += up
        # scale down old ones, never below replicas - maxUnavailable available pods
        min_available = replicas - unavail
        new_pods = self._pods(new)
        now = self.clock.now()
        new_unavailable = new_n - sum(1 for p in new_pods if is_available(p, mrs, now))
        budget = total - min_available - new_unavailable
        for rs in sorted(active_old, key=lambda r: parse_time(r["metadata"].get("creationTimestamp"))):
            if budget <= 0:
                # old pods that are not available can always be removed
                pods = self._pods(rs)
                bad = sum(1 for p in pods if not is_available(p, mrs, now))
                n = int(rs["spec"].get("replicas", 0))
                if bad and n > 0 and len(pods) >= n:
                    self._scale(d, rs, n - min(bad, n))
                continue
            n = int(rs["spec"].get("replicas", 0))
            down = min(n, budget)
            self._scale(d, rs, n - down)
            budget -= down

    def _cleanup(self, d: dict, old: list[dict]) -> None:
        limit = int(d["spec"].get("revisionHistoryLimit", 10))
        idle = [rs for rs in old if int(rs["spec"].get("replicas", 0)) == 0 and not self._pods(rs)]
        idle.sort(key=lambda r: int((r["metadata"].get("annotations") or {}).get(REVISION, "0")))
        for rs in idle[: max(0, len(idle) - limit)]:
            try:
                self.store.delete("ReplicaSet", rs["metadata"]["namespace"], rs["metadata"]["name"])
            except StoreError:
                pass

    def _status(self, d: dict, new: dict, old: list[dict], replicas: int) -> float | None:
        """Write the status; seconds until the progress deadline could pass, if it can."""
        now = self.clock.now()
        all_rs = [new, *old]
        st = lambda rs, f: int((rs.get("status") or {}).get(f, 0))
        cur = self.store.peek("ReplicaSet", new["metadata"]["namespace"], new["metadata"]["name"]) or new
        status = dict(d.get("status") or {})
        total = sum(st(rs, "replicas") for rs in all_rs)
        available = sum(st(rs, "availableReplicas") for rs in all_rs)
        updated = st(cur, "replicas")
        ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
        unavail = resolve_int_or_percent(ru.get("maxUnavailable", "25%"), replicas, round_up=False)
        conds = status.get("conditions") or []
        conds = set_condition(conds, "Available", "True" if available >= replicas - unavail else "False",
                              "MinimumReplicasAvailable" if available >= replicas - unavail
                              else "MinimumReplicasUnavailable",
                              "Deployment has minimum availability." if available >= replicas - unavail
                              else "Deployment does not have minimum availability.", iso(now))
        complete = updated == replicas and total == replicas and available >= replicas
        ready = sum(st(rs, "readyReplicas") for rs in all_rs)
        prev = d.get("status") or {}
        # progress as DeploymentProgressing counts it: more updated/ready/available pods, fewer old
        progressed = (updated > prev.get("updatedReplicas", 0) or ready > prev.get("readyReplicas", 0)
                      or available > prev.get("availableReplicas", 0)
                      or total - updated < prev.get("replicas", 0) - prev.get("updatedReplicas", 0))
        prog = next((c for c in conds if c["type"] == "Progressing"), None)
        deadline = int(d["spec"].get("progressDeadlineSeconds", 600))
        rs_name = new["metadata"]["name"]
        if complete:
            conds = set_condition(conds, "Progressing", "True", "NewReplicaSetAvailable",
                                  f'ReplicaSet "{rs_name}" has successfully progressed.', iso(now))
        elif not prog or progressed or prog.get("reason") == "NewReplicaSetAvailable" \
                or rs_name not in prog.get("message", ""):
            conds = set_condition(conds, "Progressing", "True", "ReplicaSetUpdated",
                                  f'ReplicaSet "{rs_name}" is progressing.', iso(now))
            for c in conds:
                if c["type"] == "Progressing":
                    c["lastUpdateTime"] = iso(now)
        elif prog.get("reason") == "ReplicaSetUpdated" and \
                parse_time(prog.get("lastUpdateTime") or prog.get("lastTransitionTime")) + deadline < now:
            conds = set_condition(conds, "Progressing", "False", "ProgressDeadlineExceeded",
                                  f'ReplicaSet "{rs_name}" has timed out progressing.', iso(now))
            self.objects.record_event(d, "ProgressDeadlineExceeded", f"Deployment {d['metadata']['name']} "
                                      "has timed out progressing.", type="Warning", component=self.component)
        status.update({"observedGeneration": d["metadata"].get("generation", 1), "replicas": total,
                       "updatedReplicas": updated,
                       "readyReplicas": ready,
                       "availableReplicas": available,
                       "unavailableReplicas": max(0, replicas - available), "conditions": conds})
        self.store.update_status("Deployment", d["metadata"]["namespace"], d["metadata"]["name"], status)
        prog = next((c for c in conds if c["type"] == "Progressing"), None)
        if prog and prog["status"] == "True" and prog["reason"] == "ReplicaSetUpdated":
            # + 1: the deadline is passed strictly after it, and timestamps are whole seconds
            return parse_time(prog.get("lastUpdateTime") or prog.get("lastTransitionTime")) + deadline + 1 - now
        return None
