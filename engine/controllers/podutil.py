"""Small shared facts about pods and owners, used by every workload controller."""

from __future__ import annotations

import copy
import json
import random
from datetime import datetime, timezone

from ..qos import qos_class

_ALNUM = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' rand.String alphabet (no vowels)


def rand_suffix(n: int = 5) -> str:
    return "".join(random.choice(_ALNUM) for _ in range(n))


def template_hash(template: dict, collision_count: int = 0) -> str:
    """A stable short hash of a pod template, like Kubernetes' pod-template-hash."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    h = 0x811C9DC5  # FNV-1a 32 bit, as ComputeHash uses
    for b in data + str(collision_count).encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    out = ""
    while h:
        h, r = divmod(h, len(_ALNUM))
        out += _ALNUM[r]
    return out or _ALNUM[0]


def owner_ref(owner: dict) -> dict:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def owned_by(obj: dict, owner_uid: str) -> bool:
    return any(r.get("uid") == owner_uid and r.get("controller")
               for r in obj["metadata"].get("ownerReferences") or [])


def pod_from_template(template: dict, *, owner: dict, name: str | None = None,
                      generate_name: str | None = None, extra_labels: dict | None = None) -> dict:
    tmeta = template.get("metadata") or {}
    meta: dict = {"namespace": owner["metadata"].get("namespace", "default"),
                  "labels": {**(tmeta.get("labels") or {}), **(extra_labels or {})},
                  "ownerReferences": [owner_ref(owner)]}
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    if name:
        meta["name"] = name
    else:
        meta["name"] = f"{generate_name}{rand_suffix()}"
        meta["generateName"] = generate_name
    spec = copy.deepcopy(template.get("spec") or {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
            "status": {"phase": "Pending", "qosClass": qos_class({"spec": spec})}}


def is_terminating(obj: dict) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def condition(obj: dict, ctype: str) -> dict | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def is_ready(pod: dict) -> bool:
    c = condition(pod, "Ready")
    return bool(c and c.get("status") == "True") and not is_terminating(pod)


def parse_time(ts: str | None) -> float:
    if not ts:
        return 0.0
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def until_available(pod: dict, min_ready_seconds: int, now: float) -> float | None:
    """None when the pod is not Ready; else the seconds until it has been Ready for
    min_ready_seconds at Unix time `now` (the controller's clock): <= 0 once available.
    One condition lookup, for the controllers that count a whole ReplicaSet at each event."""
    c = condition(pod, "Ready")
    if c is None or c.get("status") != "True" or is_terminating(pod):
        return None
    if not min_ready_seconds:
        return 0.0
    return parse_time(c.get("lastTransitionTime")) + min_ready_seconds - now


def is_available(pod: dict, min_ready_seconds: int, now: float) -> bool:
    """Ready for at least min_ready_seconds at Unix time `now` (the controller's clock)."""
    wait = until_available(pod, min_ready_seconds, now)
    return wait is not None and wait <= 0


def pod_rank(pod: dict) -> tuple:
    """Which pod to delete first on scale-down: unscheduled, pending, not ready, newest."""
    phase = (pod.get("status") or {}).get("phase")
    return (bool(pod["spec"].get("nodeName")), phase == "Running", is_ready(pod),
            -parse_time(pod["metadata"].get("creationTimestamp")))


def set_condition(conditions: list, ctype: str, status: str, reason: str = "", message: str = "",
                  now: str | None = None) -> list:
    """Return conditions with ctype set; lastTransitionTime changes only when status does."""
    from ..store import now_iso

    out = [dict(c) for c in conditions]
    for c in out:
        if c["type"] == ctype:
            if c["status"] != status:
                c["lastTransitionTime"] = now or now_iso()
            c["status"] = status
            c["reason"] = reason
            c["message"] = message
            return out
    out.append({"type": ctype, "status": status, "reason": reason, "message": message,
                "lastTransitionTime": now or now_iso()})
    return out


def resolve_int_or_percent(value, total: int, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    s = str(value)
    if s.endswith("%"):
        pct = int(s[:-1])
        q, r = divmod(pct * total, 100)
        return q + (1 if round_up and r else 0)
    return int(s)
