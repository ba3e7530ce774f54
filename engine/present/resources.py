"""The resource views the TUI shows and the names the CLI accepts, over kubectl's columns.

`VIEWS` maps a view name (`pods`, `deployments`, ...) to a `ResourceKind`; `resolve()`
accepts kubectl's short names (`po`, `deploy`, `svc`, ...). A view's columns are its
kind's printer columns (`columns.py`, the ones `kubectl get` and the API's Table use),
picked by header, plus TUI extras computed by the same helpers: a Service's or an
Ingress's URL, a node's PODS/CPU/MEM (placeholders the app fills in from its pod cache,
since a row only sees its own object). `row()` returns the cell strings plus a health
class used to colour the row. NAMESPACE is added in front for namespaced kinds, as
kubectl adds it when listing all namespaces. Rows sort by namespace and name, except
where a kind has an `order` (events: newest first); `SEARCHED` are the columns a `/`
filter looks in besides the name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from . import format as fmt
from .columns import Printer, printer_for
from .describe import event_time

Row = tuple[list[str], str]  # cells, health ("running", "pending", "failed", "succeeded", "")
Extra = Callable[[dict, datetime], str]
Health = Callable[[dict, Mapping[str, object]], str]  # (object, printed cells by header)
Order = Callable[[dict], tuple]

#: Columns a `/` filter matches besides the name (events: `/NodeNotReady`, `/Back-off`).
SEARCHED = ("STATUS", "REASON", "OBJECT", "MESSAGE")


@dataclass(frozen=True)
class ResourceKind:
    plural: str
    kind: str
    group_version: str = "v1"
    namespaced: bool = True
    #: Headers shown, in order: the printer's (wide ones too) or keys of `extras`;
    #: None shows the printer's priority-0 columns.
    show: tuple[str, ...] | None = None
    extras: Mapping[str, Extra] = field(default_factory=dict)
    health: Health = field(default=lambda obj, printed: "")
    aliases: tuple[str, ...] = ()
    scalable: bool = False
    restartable: bool = False
    #: Sort key of rows, None for namespace then name.
    order: Order | None = None

    @property
    def printer(self) -> Printer:
        return printer_for(self.kind)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.show if self.show is not None else tuple(self.printer.headers(wide=False))

    @property
    def headers(self) -> tuple[str, ...]:
        return ("NAMESPACE", *self.columns) if self.namespaced else self.columns

    def row(self, obj: dict, now: datetime) -> Row:
        printed = self.printer.row(obj, now)
        cells = [str(self.extras[h](obj, now) if h in self.extras else printed[h]) for h in self.columns]
        if self.namespaced:
            cells = [(obj.get("metadata") or {}).get("namespace", ""), *cells]
        return cells, self.health(obj, printed)


def _pod_health(pod: dict, printed: Mapping[str, object]) -> str:
    return fmt.pod_health(str(printed["STATUS"]))


def _workload_health(obj: dict, printed: Mapping[str, object]) -> str:
    want = (obj.get("spec") or {}).get("replicas", 1)
    if want == 0 or (obj.get("status") or {}).get("readyReplicas", 0) >= want:
        return "running"
    return "pending"


def _ds_health(obj: dict, printed: Mapping[str, object]) -> str:
    s = obj.get("status") or {}
    return "running" if s.get("numberReady", 0) >= s.get("desiredNumberScheduled", 0) else "pending"


def _job_health(job: dict, printed: Mapping[str, object]) -> str:
    return {"Complete": "succeeded", "Failed": "failed", "Running": "running"}.get(str(printed["STATUS"]), "pending")


def _event_health(ev: dict, printed: Mapping[str, object]) -> str:
    return "failed" if ev.get("type") == "Warning" else ""


def _newest_first(ev: dict) -> tuple:
    """Events as `kubectl describe` orders them (time, then recording order), reversed."""
    when = fmt.parse_time(event_time(ev))
    rv = str((ev.get("metadata") or {}).get("resourceVersion") or "")
    return -(when.timestamp() if when else 0), -(int(rv) if rv.isdigit() else 0)


def _node_health(node: dict, printed: Mapping[str, object]) -> str:
    return "running" if str(printed["STATUS"]).startswith("Ready") else "failed"


def ingress_url(ing: dict, now: datetime) -> str:
    """The Ingress controller's address as a URL: first host (else the address) and the
    first port kubedeck published in `status.loadBalancer`."""
    hosts = [r["host"] for r in (ing.get("spec") or {}).get("rules") or [] if r.get("host")]
    lb = (((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [{}])[0]
    ports = [p["port"] for p in lb.get("ports") or []]
    return f"http://{hosts[0] if hosts else lb.get('ip', '')}:{ports[0]}/" if ports else ""


def _placeholder(obj: dict, now: datetime) -> str:
    return "-"


KINDS: tuple[ResourceKind, ...] = (
    ResourceKind("pods", "Pod", show=("NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"),
                 health=_pod_health, aliases=("po", "pod")),
    ResourceKind("deployments", "Deployment", "apps/v1", health=_workload_health,
                 aliases=("deploy", "deployment", "dp"), scalable=True, restartable=True),
    ResourceKind("replicasets", "ReplicaSet", "apps/v1", aliases=("rs", "replicaset"), scalable=True),
    ResourceKind("statefulsets", "StatefulSet", "apps/v1", health=_workload_health,
                 aliases=("sts", "statefulset"), scalable=True, restartable=True),
    ResourceKind("daemonsets", "DaemonSet", "apps/v1", health=_ds_health, aliases=("ds", "daemonset"),
                 restartable=True),
    ResourceKind("jobs", "Job", "batch/v1", health=_job_health, aliases=("job",)),
    ResourceKind("cronjobs", "CronJob", "batch/v1", aliases=("cj", "cronjob")),
    # URL right after PORT(S), so it stays in view in the narrow Services pane.
    ResourceKind("services", "Service",
                 show=("NAME", "TYPE", "CLUSTER-IP", "PORT(S)", "URL", "EXTERNAL-IP", "AGE"),
                 extras={"URL": lambda svc, now: fmt.service_url(svc)}, aliases=("svc", "service")),
    ResourceKind("ingresses", "Ingress", "networking.k8s.io/v1",
                 show=("NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "URL", "AGE"),
                 extras={"URL": ingress_url}, aliases=("ing", "ingress")),
    ResourceKind("ingressclasses", "IngressClass", "networking.k8s.io/v1", namespaced=False,
                 aliases=("ingressclass",)),
    ResourceKind("endpoints", "Endpoints", aliases=("ep",)),
    ResourceKind("endpointslices", "EndpointSlice", "discovery.k8s.io/v1", aliases=("endpointslice",)),
    ResourceKind("configmaps", "ConfigMap", aliases=("cm", "configmap")),
    ResourceKind("secrets", "Secret", aliases=("sec", "secret")),
    ResourceKind("events", "Event", health=_event_health, aliases=("ev", "event"), order=_newest_first),
    ResourceKind("namespaces", "Namespace", namespaced=False, aliases=("ns", "namespace")),
    ResourceKind("persistentvolumeclaims", "PersistentVolumeClaim", aliases=("pvc", "pvcs", "pvclaim")),
    # PODS/CPU/MEM first after STATUS (the app fills them in), for the narrow Nodes pane.
    ResourceKind("nodes", "Node", namespaced=False,
                 show=("NAME", "STATUS", "PODS", "CPU", "MEM", "ROLES", "AGE", "VERSION"),
                 extras={"PODS": _placeholder, "CPU": _placeholder, "MEM": _placeholder},
                 health=_node_health, aliases=("no", "node")),
)

VIEWS: dict[str, ResourceKind] = {k.plural: k for k in KINDS}
VIEWS["pvcs"] = VIEWS["persistentvolumeclaims"]
_ALIASES = {alias: k for k in KINDS for alias in k.aliases}

#: Names offered by `:` completion, in display order.
COMMANDS: tuple[str, ...] = (
    "pods", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs", "services",
    "ingresses", "configmaps", "secrets", "events", "namespaces", "pvcs", "nodes",
)


def resolve(name: str) -> ResourceKind | None:
    """The kind for a view name, plural or kubectl short name; `None` if unknown."""
    key = name.strip().lower()
    return VIEWS.get(key) or _ALIASES.get(key)
