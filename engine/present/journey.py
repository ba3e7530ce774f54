"""An object's journey: the ordered hops of what happened to it, across components.

Pure functions over "actions", plain dicts `{"at", "start", "component", "instance",
"verb", "kind", "namespace", "name", "detail"}` (times in seconds since the epoch). Two
sources make them:
* `from_activity`: a kubedeck engine's activity stream (`/kubedeck/v1/activity`), which
  holds store writes, the folder sync's applies (starting at the file's save), the
  kubelet's status writes, the container runtime's runs, the endpoint controller's and
  kube-proxy's work, and every Event under its reporting component;
* `from_events`: Events alone, so the same view works on any cluster, with fewer hops
  (times from `eventTime`, else `firstTimestamp`, whole seconds on older reporters).

`pod_journey` follows a pod back to what made it (the ReplicaSet's `SuccessfulCreate`,
the Deployment's `ScalingReplicaSet`, the file that changed the Deployment) and forward
to traffic (scheduled, container started, Ready, Endpoints, proxy rules, and the first
request kube-proxy sent it through a NodePort: `kube-proxy served`, whose time is the
connection's own, recorded after the fact, so actions are sorted by time first).
`object_journey` is every action about any other object, in order. A hop's `duration`
is the time since the hop before it: the gap a component took to act.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

KUBELET_VERBS = ("Pulling", "Pulled", "Created", "Started", "Unhealthy", "BackOff", "Failed", "Killing")


@dataclass(frozen=True)
class Hop:
    at: float
    component: str
    what: str
    #: the action's own length when it has a start and an end (a container run, a rule load)
    took: float | None = None


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def from_activity(items: list[dict]) -> list[dict]:
    """Activity entries as actions, in time order (the ring is in recording order)."""
    return sorted(({**i, "at": i["end"]} for i in items), key=lambda a: a["at"])


def from_events(events: list[dict]) -> list[dict]:
    out = []
    for ev in events:
        at = parse_time(ev.get("eventTime")) or parse_time(ev.get("firstTimestamp")) \
            or parse_time((ev.get("metadata") or {}).get("creationTimestamp"))
        if at is None:
            continue
        inv = ev.get("involvedObject") or ev.get("regarding") or {}
        src = ev.get("source") or {}
        out.append({"at": at, "start": at, "component": src.get("component") or ev.get("reportingComponent")
                    or ev.get("reportingController") or "", "instance": src.get("host", ""),
                    "verb": ev.get("reason", ""), "kind": inv.get("kind", ""), "namespace": inv.get("namespace", ""),
                    "name": inv.get("name", ""), "detail": ev.get("message") or ev.get("note") or ""})
    out.sort(key=lambda a: a["at"])
    return out


def _first(actions, pred, after: float = float("-inf")) -> dict | None:
    return next((a for a in actions if a["at"] >= after and pred(a)), None)


def _last(actions, pred, before: float = float("inf")) -> dict | None:
    found = None
    for a in actions:
        if a["at"] > before:
            break
        if pred(a):
            found = a
    return found


def _about(a: dict, kind: str, ns: str, name: str) -> bool:
    return a["kind"] == kind and a["name"] == name and (a["namespace"] or "") == (ns or "")


def _origin(actions, kind: str, ns: str, name: str, before: float) -> list[Hop]:
    """The file save (when the folder sync says) and the API write of the object at the
    head of the chain, before `before`."""
    hops = []
    applied = _last(actions, lambda a: a["component"] == "folder-sync" and _about(a, kind, ns, name), before)
    write_pred = lambda a: a["component"] == "etcd" and a["verb"] in ("ADDED", "MODIFIED") and _about(a, kind, ns, name)
    if applied is not None:
        hops.append(Hop(applied["start"], "you", f"saved {applied['detail']}"))
        write = _first(actions, write_pred, applied["start"])
    else:
        write = _last(actions, write_pred, before)
    if write is not None and write["at"] <= before:
        hops.append(Hop(write["at"], "kube-apiserver", f"stored {kind} {name} in etcd ({write['verb'].lower()})",
                        write["at"] - write["start"]))
    return hops


def pod_journey(pod: dict, actions: list[dict], services: list[str] = ()) -> list[Hop]:
    """The hops of one pod, from the save that caused it to the first request it was
    sent through a NodePort. `actions` sorted by time; `services`: names of the Services
    selecting it."""
    meta = pod.get("metadata") or {}
    ns, name = meta.get("namespace", "default"), meta.get("name", "")
    created_by = _last(actions, lambda a: a["verb"] == "SuccessfulCreate" and (
        str(a["detail"]).endswith(f"Created pod: {name}") or f"Pod {name} in " in str(a["detail"])))
    hops: list[Hop] = []
    if created_by is not None:
        head = (created_by["kind"], created_by["name"], created_by["at"])
        if created_by["kind"] == "ReplicaSet":
            rs = created_by["name"]
            scaled = _last(actions, lambda a: a["verb"] == "ScalingReplicaSet" and f"replica set {rs} " in
                           f"{a['detail']} ", created_by["at"])
            if scaled is not None:
                head = (scaled["kind"], scaled["name"], scaled["at"])
                hops.append(Hop(scaled["at"], scaled["component"], scaled["detail"]))
        hops[:0] = _origin(actions, head[0], created_by["namespace"], head[1], head[2])
        hops.append(Hop(created_by["at"], created_by["component"], created_by["detail"]))
    else:
        hops += _origin(actions, "Pod", ns, name, float("inf"))
    mine = [a for a in actions if _about(a, "Pod", ns, name)]
    after = hops[-1].at if hops else float("-inf")
    scheduled = _first(mine, lambda a: a["verb"] == "Scheduled", after)
    if scheduled is not None:
        hops.append(Hop(scheduled["at"], scheduled["component"], scheduled["detail"]))
        after = scheduled["at"]
    ready = _first(mine, lambda a: a["component"] == "kubelet" and a["verb"] == "status" and a["detail"] == "Ready",
                   after)
    ready_at = ready["at"] if ready else _ready_time(pod)
    seen = set()
    for a in mine:
        if a["at"] < after or (ready_at is not None and a["at"] > ready_at):
            continue
        if a["component"] == "container-runtime":
            hops.append(Hop(a["at"], "container-runtime", f"created and started container {a['detail']}",
                            a["at"] - a["start"]))
        elif a["component"] == "kubelet" and a["verb"] in KUBELET_VERBS and (a["verb"], a["detail"]) not in seen:
            seen.add((a["verb"], a["detail"]))
            hops.append(Hop(a["at"], "kubelet", f"{a['verb']}: {a['detail']}"))
    if ready_at is None:
        return _ordered(hops)
    hops.append(Hop(ready_at, "kubelet", "readiness passed: pod Ready"))
    for svc in services:
        eps = _first(actions, lambda a, svc=svc: a["component"] in ("endpoint-controller", "endpoints-controller")
                     and _about(a, "Endpoints", ns, svc), ready_at)
        if eps is None:
            continue
        hops.append(Hop(eps["at"], eps["component"], f"added the pod to Endpoints {svc}"))
        rules = _first(actions, lambda a, svc=svc: a["component"] == "kube-proxy" and _about(a, "Service", ns, svc),
                       eps["at"])
        if rules is not None:
            hops.append(Hop(rules["at"], "kube-proxy", f"loaded the rules of Service {svc}", rules["at"] - rules["start"]))
    served = _first(mine, lambda a: a["component"] == "kube-proxy" and a["verb"] == "served", ready_at)
    if served is not None:
        hops.append(Hop(served["at"], "kube-proxy", f"first request served through {served['detail']}"))
    return _ordered(hops)


def _ready_time(pod: dict) -> float | None:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready" and c.get("status") == "True":
            return parse_time(c.get("lastTransitionTime"))
    return None


def _ordered(hops: list[Hop]) -> list[Hop]:
    return sorted(hops, key=lambda h: h.at)  # stable: equal times keep the causal order


def object_journey(kind: str, namespace: str, name: str, actions: list[dict]) -> list[Hop]:
    """Every action about one object, in order (any kind)."""
    hops = []
    for a in actions:
        if not _about(a, kind, namespace, name):
            continue
        if a["component"] == "folder-sync":
            hops.append(Hop(a["start"], "you", f"saved {a['detail']}"))
            hops.append(Hop(a["at"], "folder-sync", f"applied {a['detail']}"))
        elif a["component"] == "etcd":
            hops.append(Hop(a["at"], "kube-apiserver", f"{a['verb'].lower()} in etcd", a["at"] - a["start"]))
        else:
            hops.append(Hop(a["at"], a["component"], f"{a['verb']}: {a['detail']}" if a["detail"] else a["verb"],
                            a["at"] - a["start"] if a["at"] > a["start"] else None))
    return _ordered(hops)


def render(hops: list[Hop]) -> list[tuple[str, str, str, str]]:
    """(time since the first hop, this hop's duration, component, what) per hop."""
    if not hops:
        return []
    t0 = hops[0].at
    rows, prev = [], t0
    for h in hops:
        took = f" (took {h.took * 1000:.0f} ms)" if h.took and h.took >= 0.0005 else ""
        rows.append((f"+{(h.at - t0) * 1000:.0f} ms", f"{(h.at - prev) * 1000:.0f} ms", h.component, h.what + took))
        prev = h.at
    return rows
