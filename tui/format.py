"""Pure functions that turn Kubernetes objects into the strings the TUI shows.

No Textual here, so every rule (pod status like kubectl, ages, quantities) is unit-tested
without an app.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone

MASK = "••••••"

#: Pod status text -> health class (maps to theme variables `$pod-<health>`).
FAILED_REASONS = {
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "RunContainerError",
    "Error",
    "OOMKilled",
    "Failed",
    "Evicted",
    "ContainerStatusUnknown",
    "Unknown",
}


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(timestamp: str | None, now: datetime) -> str:
    """kubectl-style short age: 45s, 12m, 3h, 5d."""
    when = parse_time(timestamp)
    if when is None:
        return "<unknown>"
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def _statuses(pod: dict) -> list[dict]:
    return pod.get("status", {}).get("containerStatuses") or []


def pod_ready(pod: dict) -> str:
    containers = pod.get("spec", {}).get("containers") or []
    ready = sum(1 for s in _statuses(pod) if s.get("ready"))
    return f"{ready}/{len(containers)}"


def pod_restarts(pod: dict) -> int:
    return sum(int(s.get("restartCount", 0)) for s in _statuses(pod))


def pod_status(pod: dict) -> str:
    """The STATUS column as kubectl derives it."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status", {})
    reason = status.get("reason")
    for init in status.get("initContainerStatuses") or []:
        state = init.get("state", {})
        term = state.get("terminated")
        if term and term.get("exitCode", 0) == 0:
            continue
        if term:
            return "Init:" + (term.get("reason") or f"ExitCode:{term.get('exitCode')}")
        waiting = state.get("waiting")
        if waiting and waiting.get("reason") not in (None, "PodInitializing"):
            return "Init:" + waiting["reason"]
        return "PodInitializing" if waiting else "Init:0/1"
    for cs in reversed(_statuses(pod)):
        state = cs.get("state", {})
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            term = state["terminated"]
            reason = term.get("reason") or (
                f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode')}"
            )
    if reason:
        return reason
    return status.get("phase") or "Pending"


def pod_health(status: str) -> str:
    """Health class for a pod STATUS string: running, pending, failed or succeeded."""
    if status == "Running":
        return "running"
    if status in ("Completed", "Succeeded"):
        return "succeeded"
    if status in FAILED_REASONS or status.startswith(("Init:Error", "Init:Crash", "ExitCode", "Signal")):
        return "failed"
    return "pending"


def parse_cpu(value: str | int | float | None) -> float:
    """CPU quantity in cores ("250m" -> 0.25)."""
    if value in (None, ""):
        return 0.0
    text = str(value)
    if text.endswith("m"):
        return float(text[:-1]) / 1000
    return float(text)


_MEM_SUFFIX = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
    "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
}


def parse_memory(value: str | int | float | None) -> float:
    """Memory quantity in bytes ("128Mi" -> 134217728)."""
    if value in (None, ""):
        return 0.0
    text = str(value)
    for suffix in sorted(_MEM_SUFFIX, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * _MEM_SUFFIX[suffix]
    return float(text)


def fmt_cpu(cores: float) -> str:
    """Whole cores as "4", fractions as millicores "250m"."""
    if cores and float(cores).is_integer():
        return str(int(cores))
    return f"{round(cores * 1000)}m"


def fmt_memory(num_bytes: float) -> str:
    for suffix, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if num_bytes >= size:
            return f"{num_bytes / size:.0f}{suffix}" if num_bytes % size == 0 or num_bytes >= 10 * size else f"{num_bytes / size:.1f}{suffix}"
    return f"{num_bytes:.0f}"


def pod_requests(pod: dict) -> tuple[float, float]:
    cpu = mem = 0.0
    for container in pod.get("spec", {}).get("containers") or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        cpu += parse_cpu(requests.get("cpu"))
        mem += parse_memory(requests.get("memory"))
    return cpu, mem


def node_usage(node: dict, pods) -> list[str]:
    """PODS, CPU and MEM cells: non-terminated pods on the node, requests/allocatable."""
    name = node.get("metadata", {}).get("name")
    count, cpu, mem = 0, 0.0, 0.0
    for pod in pods:
        if pod.get("spec", {}).get("nodeName") != name:
            continue
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            continue
        count += 1
        pod_cpu, pod_mem = pod_requests(pod)
        cpu, mem = cpu + pod_cpu, mem + pod_mem
    status = node.get("status", {})
    alloc = status.get("allocatable") or status.get("capacity") or {}
    return [
        str(count),
        f"{fmt_cpu(cpu)}/{fmt_cpu(parse_cpu(alloc.get('cpu')))}",
        f"{fmt_memory(mem)}/{fmt_memory(parse_memory(alloc.get('memory')))}",
    ]


def node_ready(node: dict) -> str:
    for cond in node.get("status", {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return "Ready" if cond.get("status") == "True" else "NotReady"
    return "Unknown"


def service_ports(svc: dict) -> str:
    parts = []
    for port in svc.get("spec", {}).get("ports") or []:
        text = str(port.get("port", ""))
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        parts.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def service_url(svc: dict) -> str:
    """Where to reach the Service from this machine: a NodePort URL; for an ExternalName,
    the name it stands for (kubectl's EXTERNAL-IP column)."""
    spec = svc.get("spec", {})
    if spec.get("type") == "ExternalName":
        return spec.get("externalName", "")
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        for port in spec.get("ports") or []:
            if port.get("nodePort"):
                return f"http://127.0.0.1:{port['nodePort']}"
    return ""


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


def masked_secret(secret: dict, reveal: bool = False) -> dict:
    """A copy of a Secret with values masked, or base64-decoded when `reveal`."""
    copy = dict(secret)
    for field in ("data", "stringData"):
        values = secret.get(field)
        if not values:
            continue
        if reveal:
            copy[field] = {
                k: (_b64(v) if field == "data" else v) for k, v in values.items()
            }
        else:
            copy[field] = {k: MASK for k in values}
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
