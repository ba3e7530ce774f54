"""The resource kinds the TUI can show: how to reach them and which columns they have.

`VIEWS` maps a view name (`pods`, `deployments`, ...) to a `ResourceKind`; `resolve()`
accepts kubectl's short names (`po`, `deploy`, `svc`, ...). A kind's `row()` returns the
cell strings plus a health class used to colour the row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from . import format as fmt

Row = tuple[list[str], str]  # cells, health ("running", "pending", "failed", "succeeded", "")


@dataclass(frozen=True)
class ResourceKind:
    plural: str
    kind: str
    group_version: str = "v1"
    namespaced: bool = True
    columns: tuple[str, ...] = ("NAMESPACE", "NAME", "AGE")
    cells: Callable[[dict, datetime], list[str]] | None = None
    health: Callable[[dict], str] = field(default=lambda obj: "")
    aliases: tuple[str, ...] = ()
    scalable: bool = False
    restartable: bool = False

    def row(self, obj: dict, now: datetime) -> Row:
        meta = obj.get("metadata", {})
        if self.cells is None:
            cells = [meta.get("name", ""), fmt.age(meta.get("creationTimestamp"), now)]
        else:
            cells = self.cells(obj, now)
        if self.namespaced:
            cells = [meta.get("namespace", ""), *cells]
        return [str(c) for c in cells], self.health(obj)

    @property
    def headers(self) -> tuple[str, ...]:
        return ("NAMESPACE", *self.columns) if self.namespaced else self.columns


def _name(obj: dict) -> str:
    return obj.get("metadata", {}).get("name", "")


def _age(obj: dict, now: datetime) -> str:
    return fmt.age(obj.get("metadata", {}).get("creationTimestamp"), now)


def _pod_cells(pod: dict, now: datetime) -> list[str]:
    status = pod.get("status", {})
    return [
        _name(pod),
        fmt.pod_ready(pod),
        fmt.pod_status(pod),
        str(fmt.pod_restarts(pod)),
        _age(pod, now),
        pod.get("spec", {}).get("nodeName") or "<none>",
        status.get("podIP") or "<none>",
    ]


def _pod_health(pod: dict) -> str:
    return fmt.pod_health(fmt.pod_status(pod))


def _workload_cells(obj: dict, now: datetime) -> list[str]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    want = spec.get("replicas", 1)
    return [
        _name(obj),
        f"{status.get('readyReplicas', 0)}/{want}",
        str(status.get("updatedReplicas", 0)),
        str(status.get("availableReplicas", 0)),
        _age(obj, now),
    ]


def _workload_health(obj: dict) -> str:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    want = spec.get("replicas", 1)
    if want == 0 or status.get("readyReplicas", 0) >= want:
        return "running"
    return "pending"


def _rs_cells(obj: dict, now: datetime) -> list[str]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    return [
        _name(obj),
        str(spec.get("replicas", 1)),
        str(status.get("replicas", 0)),
        str(status.get("readyReplicas", 0)),
        _age(obj, now),
    ]


def _sts_cells(obj: dict, now: datetime) -> list[str]:
    want = obj.get("spec", {}).get("replicas", 1)
    return [_name(obj), f"{obj.get('status', {}).get('readyReplicas', 0)}/{want}", _age(obj, now)]


def _ds_cells(obj: dict, now: datetime) -> list[str]:
    s = obj.get("status", {})
    return [
        _name(obj),
        str(s.get("desiredNumberScheduled", 0)),
        str(s.get("currentNumberScheduled", 0)),
        str(s.get("numberReady", 0)),
        _age(obj, now),
    ]


def _ds_health(obj: dict) -> str:
    s = obj.get("status", {})
    return "running" if s.get("numberReady", 0) >= s.get("desiredNumberScheduled", 0) else "pending"


def _job_cells(obj: dict, now: datetime) -> list[str]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    return [
        _name(obj),
        f"{status.get('succeeded', 0)}/{spec.get('completions', 1)}",
        _job_status(obj),
        _age(obj, now),
    ]


def _job_status(obj: dict) -> str:
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed"):
            return cond["type"]
    return "Running" if obj.get("status", {}).get("active") else "Pending"


def _job_health(obj: dict) -> str:
    return {"Complete": "succeeded", "Failed": "failed", "Running": "running"}.get(
        _job_status(obj), "pending"
    )


def _svc_cells(svc: dict, now: datetime) -> list[str]:
    spec = svc.get("spec", {})
    return [
        _name(svc),
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        fmt.service_ports(svc),
        fmt.service_url(svc),
    ]


def _ing_cells(ing: dict, now: datetime) -> list[str]:
    spec = ing.get("spec", {})
    hosts = [r.get("host") for r in spec.get("rules") or [] if r.get("host")]
    lb = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [{}]
    address = lb[0].get("ip", "")
    ports = [p["port"] for p in lb[0].get("ports") or []]
    url = f"http://{hosts[0] if hosts else address}:{ports[0]}/" if ports else ""
    return [_name(ing), spec.get("ingressClassName") or "<none>", ",".join(hosts) or "*", address,
            ",".join(map(str, ports)), url, _age(ing, now)]


def _data_cells(obj: dict, now: datetime) -> list[str]:
    count = len(obj.get("data") or {}) + len(obj.get("stringData") or {})
    return [_name(obj), str(count), _age(obj, now)]


def _secret_cells(obj: dict, now: datetime) -> list[str]:
    count = len(obj.get("data") or {}) + len(obj.get("stringData") or {})
    return [_name(obj), obj.get("type", "Opaque"), str(count), _age(obj, now)]


def _event_cells(ev: dict, now: datetime) -> list[str]:
    inv = ev.get("involvedObject", {})
    last = ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("metadata", {}).get(
        "creationTimestamp"
    )
    return [
        fmt.age(last, now),
        ev.get("type", ""),
        ev.get("reason", ""),
        f"{inv.get('kind', '').lower()}/{inv.get('name', '')}",
        (ev.get("message") or "").replace("\n", " "),
    ]


def _event_health(ev: dict) -> str:
    return "failed" if ev.get("type") == "Warning" else ""


def _ns_cells(ns: dict, now: datetime) -> list[str]:
    return [_name(ns), ns.get("status", {}).get("phase", "Active"), _age(ns, now)]


def _pvc_cells(pvc: dict, now: datetime) -> list[str]:
    spec, status = pvc.get("spec", {}), pvc.get("status", {})
    size = (status.get("capacity") or spec.get("resources", {}).get("requests") or {}).get(
        "storage", ""
    )
    return [_name(pvc), status.get("phase", "Pending"), size, _age(pvc, now)]


def _node_cells(node: dict, now: datetime) -> list[str]:
    # PODS and requests are filled in by the app, which knows the pods.
    return [_name(node), fmt.node_ready(node), "-", "-", "-", _age(node, now)]


def _node_health(node: dict) -> str:
    return "running" if fmt.node_ready(node) == "Ready" else "failed"


KINDS: tuple[ResourceKind, ...] = (
    ResourceKind(
        "pods", "Pod",
        columns=("NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE", "IP"),
        cells=_pod_cells, health=_pod_health, aliases=("po", "pod"),
    ),
    ResourceKind(
        "deployments", "Deployment", "apps/v1",
        columns=("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"),
        cells=_workload_cells, health=_workload_health, aliases=("deploy", "deployment", "dp"),
        scalable=True, restartable=True,
    ),
    ResourceKind(
        "replicasets", "ReplicaSet", "apps/v1",
        columns=("NAME", "DESIRED", "CURRENT", "READY", "AGE"),
        cells=_rs_cells, aliases=("rs", "replicaset"), scalable=True,
    ),
    ResourceKind(
        "statefulsets", "StatefulSet", "apps/v1", columns=("NAME", "READY", "AGE"),
        cells=_sts_cells, health=_workload_health, aliases=("sts", "statefulset"),
        scalable=True, restartable=True,
    ),
    ResourceKind(
        "daemonsets", "DaemonSet", "apps/v1",
        columns=("NAME", "DESIRED", "CURRENT", "READY", "AGE"),
        cells=_ds_cells, health=_ds_health, aliases=("ds", "daemonset"), restartable=True,
    ),
    ResourceKind(
        "jobs", "Job", "batch/v1", columns=("NAME", "COMPLETIONS", "STATUS", "AGE"),
        cells=_job_cells, health=_job_health, aliases=("job",),
    ),
    ResourceKind(
        "services", "Service", columns=("NAME", "TYPE", "CLUSTER-IP", "PORTS", "URL"),
        cells=_svc_cells, aliases=("svc", "service"),
    ),
    ResourceKind(
        "ingresses", "Ingress", "networking.k8s.io/v1",
        columns=("NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "URL", "AGE"), cells=_ing_cells,
        aliases=("ing", "ingress"),
    ),
    ResourceKind(
        "configmaps", "ConfigMap", columns=("NAME", "DATA", "AGE"), cells=_data_cells,
        aliases=("cm", "configmap"),
    ),
    ResourceKind(
        "secrets", "Secret", columns=("NAME", "TYPE", "DATA", "AGE"), cells=_secret_cells,
        aliases=("sec", "secret"),
    ),
    ResourceKind(
        "events", "Event", columns=("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"),
        cells=_event_cells, health=_event_health, aliases=("ev", "event"),
    ),
    ResourceKind(
        "namespaces", "Namespace", namespaced=False, columns=("NAME", "STATUS", "AGE"),
        cells=_ns_cells, aliases=("ns", "namespace"),
    ),
    ResourceKind(
        "persistentvolumeclaims", "PersistentVolumeClaim",
        columns=("NAME", "STATUS", "CAPACITY", "AGE"), cells=_pvc_cells,
        aliases=("pvc", "pvcs", "pvclaim"),
    ),
    ResourceKind(
        "nodes", "Node", namespaced=False,
        columns=("NAME", "STATUS", "PODS", "CPU", "MEM", "AGE"),
        cells=_node_cells, health=_node_health, aliases=("no", "node"),
    ),
)

VIEWS: dict[str, ResourceKind] = {k.plural: k for k in KINDS}
VIEWS["pvcs"] = VIEWS["persistentvolumeclaims"]
_ALIASES = {alias: k for k in KINDS for alias in k.aliases}

#: Names offered by `:` completion, in display order.
COMMANDS: tuple[str, ...] = (
    "pods", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "services",
    "ingresses", "configmaps", "secrets", "events", "namespaces", "pvcs", "nodes",
)


def resolve(name: str) -> ResourceKind | None:
    """The kind for a view name, plural or kubectl short name; `None` if unknown."""
    key = name.strip().lower()
    return VIEWS.get(key) or _ALIASES.get(key)
