"""Pure functions that turn Kubernetes objects into the strings kubectl shows.

The rules follow kubectl's printers (`pkg/printers/internalversion/printers.go`): ages as
`duration.HumanDuration`, a pod's READY/STATUS/RESTARTS, a node's STATUS, a Service's
ports and external address, label selectors. The column printers (`core.py`,
`workloads.py`, `network.py`), the CLI and the TUI all call these, so one rule has one
home and is unit-tested without an app. Quantities come from `kubedeck.engine.quantity`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

from ..quantity import pod_requests, quantity_or_zero

MASK = "••••••"

#: Pod status text -> health class (maps to theme variables `$pod-<health>`).
FAILED_REASONS = {
    "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
    "CreateContainerError", "InvalidImageName", "RunContainerError", "Error", "OOMKilled",
    "Failed", "Evicted", "ContainerStatusUnknown", "Unknown",
}


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)  # 3.11 reads the trailing Z
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """apimachinery's `duration.HumanDuration`: 45s, 3m20s, 12m, 5h30m, 10h, 3d4h, 20d, 2y."""
    secs = int(seconds)
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        return f"{minutes}m" if secs % 60 == 0 else f"{minutes}m{secs % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d" if hours % 24 == 0 else f"{days}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return f"{days // 365}y" if days % 365 == 0 else f"{days // 365}y{days % 365}d"
    return f"{days // 365}y"


def since(timestamp: str | None, now: datetime) -> float | None:
    when = parse_time(timestamp)
    if when is None:
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return (now - when).total_seconds()


def age(timestamp: str | None, now: datetime) -> str:
    """kubectl's AGE cell (`translateTimestampSince`): `<unknown>` without a timestamp."""
    seconds = since(timestamp, now)
    return "<unknown>" if seconds is None else human_duration(seconds)


# -- pods ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PodSummary:
    ready: str  # "1/2"
    status: str  # "Running", "CrashLoopBackOff", "Init:0/1", "Terminating", ...
    restarts: int
    restarts_text: str  # "3 (5m ago)" as kubectl shows it


def _restartable(init: dict | None) -> bool:
    return bool(init) and init.get("restartPolicy") == "Always"


def _condition_true(status: dict, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or [])


def pod_summary(pod: dict, now: datetime) -> PodSummary:
    """READY, STATUS and RESTARTS exactly as kubectl's `printPod` derives them."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    meta = pod.get("metadata") or {}
    inits = {c.get("name"): c for c in spec.get("initContainers") or []}
    total = len(spec.get("containers") or []) + sum(1 for c in inits.values() if _restartable(c))
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in status.get("conditions") or []):
        reason = "SchedulingGated"
    ready = restarts = sidecar_restarts = 0
    last, sidecar_last = "", ""  # RFC 3339 strings in UTC compare in time order

    def finished(cs: dict) -> str:
        return ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or ""

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):
        restarts += int(cs.get("restartCount") or 0)
        last = max(last, finished(cs))
        sidecar = _restartable(inits.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += int(cs.get("restartCount") or 0)
            sidecar_last = max(sidecar_last, finished(cs))
        state = cs.get("state") or {}
        term, waiting = state.get("terminated"), state.get("waiting")
        if term and int(term.get("exitCode") or 0) == 0:
            continue
        if sidecar and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        initializing = True
        if term:
            reason = "Init:" + (term.get("reason") or (f"Signal:{term['signal']}" if term.get("signal")
                                                       else f"ExitCode:{term.get('exitCode', 0)}"))
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        break
    if not initializing or _condition_true(status, "Initialized"):
        restarts, last = sidecar_restarts, sidecar_last
        running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            last = max(last, finished(cs))
            state = cs.get("state") or {}
            term = state.get("terminated")
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term is not None:
                reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode', 0)}"
            elif cs.get("ready") and "running" in state:
                running = True
                ready += 1
        if reason == "Completed" and running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"
    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    text = str(restarts)
    if restarts and last:
        text = f"{restarts} ({age(last, now)} ago)"
    return PodSummary(f"{ready}/{total}", reason, restarts, text)


def pod_health(status: str) -> str:
    """Health class for a pod STATUS string: running, pending, failed or succeeded."""
    if status == "Running":
        return "running"
    if status in ("Completed", "Succeeded"):
        return "succeeded"
    if status in FAILED_REASONS or status.startswith(("Init:Error", "Init:Crash", "ExitCode", "Signal")):
        return "failed"
    return "pending"


# -- nodes -----------------------------------------------------------------------------

def fmt_cpu(cores: float) -> str:
    """Whole cores as "4", fractions as millicores "250m"."""
    if cores and float(cores).is_integer():
        return str(int(cores))
    return f"{round(cores * 1000)}m"


def fmt_memory(num_bytes: float) -> str:
    for suffix, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if num_bytes >= size:
            exact = num_bytes % size == 0 or num_bytes >= 10 * size
            return f"{num_bytes / size:.0f}{suffix}" if exact else f"{num_bytes / size:.1f}{suffix}"
    return f"{num_bytes:.0f}"


#: id(pod) -> (pod, its nodeName, counted, cpu, memory) for node_usage
_pods_seen: dict[int, tuple[dict, str | None, bool, float, float]] = {}


def _pod_usage(pod: dict) -> tuple[dict, str | None, bool, float, float]:
    counted = (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    cpu, mem = pod_requests(pod) if counted else (0.0, 0.0)
    return pod, (pod.get("spec") or {}).get("nodeName"), counted, cpu, mem


def node_usage(node: dict, pods) -> list[str]:
    """PODS, CPU and MEM cells: non-terminated pods on the node, requests/allocatable.

    What each pod adds is remembered while the pod is the same object: the TUI's nodes
    pane calls this for every node whenever a pod changes, and parsing every quantity
    again took ~50 ms at 5,000 pods. A changed pod is a new object (a watch event brings
    one; callers never change an object in place). The entry holds the pod, so its id
    is not reused while remembered."""
    name = (node.get("metadata") or {}).get("name")
    count, cpu, mem, listed = 0, 0.0, 0.0, 0
    seen = _pods_seen
    for pod in pods:
        listed += 1
        entry = seen.get(id(pod))
        if entry is None or entry[0] is not pod:
            entry = seen[id(pod)] = _pod_usage(pod)
        if entry[2] and entry[1] == name:
            count, cpu, mem = count + 1, cpu + entry[3], mem + entry[4]
    if len(seen) > 2 * listed + 1000:  # mostly pods gone since: start again
        seen.clear()
    status = node.get("status") or {}
    alloc = status.get("allocatable") or status.get("capacity") or {}
    return [
        str(count),
        f"{fmt_cpu(cpu)}/{fmt_cpu(quantity_or_zero(alloc.get('cpu')))}",
        f"{fmt_memory(mem)}/{fmt_memory(quantity_or_zero(alloc.get('memory')))}",
    ]


def node_status(node: dict) -> str:
    """`Ready`, `NotReady` or `Unknown`, with `,SchedulingDisabled` when cordoned."""
    parts = ["Unknown"]
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            parts = ["Ready" if cond.get("status") == "True" else "NotReady"]
    if (node.get("spec") or {}).get("unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def node_roles(node: dict) -> str:
    roles = set()
    for key, value in ((node.get("metadata") or {}).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key.split("/", 1)[1]:
            roles.add(key.split("/", 1)[1])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or "<none>"


def node_address(node: dict, kind: str) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == kind:
            return address.get("address", "")
    return "<none>"


# -- services --------------------------------------------------------------------------

def service_ports(svc: dict) -> str:
    parts = []
    for port in (svc.get("spec") or {}).get("ports") or []:
        text = str(port.get("port", ""))
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        parts.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def load_balancer_address(status: dict | None) -> str:
    """IPs (else hostnames) of a `status.loadBalancer`, sorted and de-duplicated."""
    found = {i.get("ip") or i.get("hostname") for i in ((status or {}).get("loadBalancer") or {}).get("ingress") or []}
    return ",".join(sorted(a for a in found if a))


def service_external_ip(svc: dict) -> str:
    spec = svc.get("spec") or {}
    external = list(spec.get("externalIPs") or [])
    kind = spec.get("type") or "ClusterIP"
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        lb = load_balancer_address(svc.get("status"))
        if external:
            return ",".join([*(lb.split(",") if lb else []), *external])
        return lb or "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def service_url(svc: dict) -> str:
    """Where to reach the Service from this machine: a NodePort URL; for an ExternalName,
    the name it stands for (kubectl's EXTERNAL-IP column)."""
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return spec.get("externalName", "")
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        for port in spec.get("ports") or []:
            if port.get("nodePort"):
                return f"http://127.0.0.1:{port['nodePort']}"
    return ""


# -- labels ----------------------------------------------------------------------------

def format_labels(labels: dict | None) -> str:
    """`labels.FormatLabels`: sorted `k=v` joined by commas, `<none>` when empty."""
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "<none>"


def selector_string(selector: dict | None) -> str:
    """A LabelSelector as `labels.Selector.String()`: requirements sorted by key."""
    reqs = [(k, f"{k}={v}") for k, v in ((selector or {}).get("matchLabels") or {}).items()]
    for expr in (selector or {}).get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator"), sorted(expr.get("values") or [])
        text = {"In": f"{key} in ({','.join(values)})", "NotIn": f"{key} notin ({','.join(values)})",
                "Exists": key, "DoesNotExist": f"!{key}"}.get(op, "<error>")
        reqs.append((key, text))
    return ",".join(text for _, text in sorted(reqs, key=lambda r: r[0]))


def labels_match(labels: dict, selector: str) -> bool:
    """Match `a=b,c!=d,e` style label selectors (equality and existence only)."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


# -- secrets ---------------------------------------------------------------------------

def masked_secret(secret: dict, reveal: bool = False) -> dict:
    """A copy of a Secret with values masked, or base64-decoded when `reveal`. A
    `stringData` still on the object is folded into `data` (its keys win), as the API
    server does on every write: a Secret shown never has a `stringData` field."""
    copy = {k: v for k, v in secret.items() if k != "stringData"}
    values = {k: _b64(v) if reveal else MASK for k, v in (secret.get("data") or {}).items()}
    values.update({k: str(v) if reveal else MASK for k, v in (secret.get("stringData") or {}).items()})
    if values or "data" in secret:
        copy["data"] = values
    annotations = secret.get("metadata", {}).get("annotations") or {}
    if "kubectl.kubernetes.io/last-applied-configuration" in annotations and not reveal:
        meta = dict(copy["metadata"])
        meta["annotations"] = {**annotations, "kubectl.kubernetes.io/last-applied-configuration": MASK}
        copy["metadata"] = meta
    return copy


def _b64(value: str) -> str:
    try:
        return base64.b64decode(value).decode("utf-8", "replace")
    except (ValueError, TypeError):
        return value
