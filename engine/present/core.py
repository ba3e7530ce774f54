"""kubectl's printers for the core (`v1`) kinds kubedeck serves.

Pod, Node, Service, Endpoints, ConfigMap, Secret, PersistentVolumeClaim, Namespace,
Event and ServiceAccount: column names, types, priorities and cell rules as in
`printers.go` (`printPod`, `printNode`, ...), with `format.py` holding the shared rules.
"""

from __future__ import annotations

from datetime import datetime

from . import format as fmt
from .columns import AGE, Column, Printer, created, name, name_column, register
from .descriptions import DOC


def _pod_cells(pod: dict, now: datetime) -> list:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    summary = fmt.pod_summary(pod, now)
    ips = status.get("podIPs") or ([{"ip": status["podIP"]}] if status.get("podIP") else [])
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        ready = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
        gates_text = f"{ready}/{len(gates)}"
    return [name(pod), summary.ready, summary.status, summary.restarts_text, fmt.age(created(pod), now),
            (ips[0].get("ip") if ips else "") or "<none>", spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", gates_text]


def _pod_conditions(pod: dict) -> list[dict]:
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return []


POD = register(Printer("Pod", (
    name_column(),
    Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", description="The aggregate status of the containers in this pod."),
    Column("Restarts", description="The number of times the containers in this pod have been restarted "
           "and when the last container in this pod has restarted."),
    AGE,
    Column("IP", priority=1, description=DOC["podIP"]),
    Column("Node", priority=1, description=DOC["nodeName"]),
    Column("Nominated Node", priority=1, description=DOC["nominatedNodeName"]),
    Column("Readiness Gates", priority=1, description=DOC["readinessGates"]),
), _pod_cells, _pod_conditions))


def _node_cells(node: dict, now: datetime) -> list:
    info = (node.get("status") or {}).get("nodeInfo") or {}
    return [name(node), fmt.node_status(node), fmt.node_roles(node), fmt.age(created(node), now),
            info.get("kubeletVersion", ""), fmt.node_address(node, "InternalIP"),
            fmt.node_address(node, "ExternalIP"), info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>", info.get("containerRuntimeVersion") or "<unknown>"]


NODE = register(Printer("Node", (
    name_column(),
    Column("Status", description="The status of the node"),
    Column("Roles", description="The roles of the node"),
    AGE,
    Column("Version", description=DOC["node.kubeletVersion"]),
    Column("Internal-IP", priority=1, description=DOC["node.addresses"]),
    Column("External-IP", priority=1, description=DOC["node.addresses"]),
    Column("OS-Image", priority=1, description=DOC["node.osImage"]),
    Column("Kernel-Version", priority=1, description=DOC["node.kernelVersion"]),
    Column("Container-Runtime", priority=1, description=DOC["node.containerRuntimeVersion"]),
), _node_cells))


def _service_cells(svc: dict, now: datetime) -> list:
    spec = svc.get("spec") or {}
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [name(svc), spec.get("type") or "ClusterIP", cluster_ips[0] if cluster_ips else "<none>",
            fmt.service_external_ip(svc), fmt.service_ports(svc), fmt.age(created(svc), now),
            fmt.format_labels(spec.get("selector"))]


SERVICE = register(Printer("Service", (
    name_column(),
    Column("Type", description=DOC["svc.type"]),
    Column("Cluster-IP", description=DOC["svc.clusterIP"]),
    Column("External-IP", description=DOC["svc.externalIPs"]),
    Column("Port(s)", description=DOC["svc.ports"]),
    AGE,
    Column("Selector", priority=1, description=DOC["svc.selector"]),
), _service_cells))


def endpoints_text(endpoints: dict) -> str:
    """kubectl's `formatEndpoints`: up to three `ip:port` of ready addresses, then `+ N more...`."""
    subsets = endpoints.get("subsets") or []
    if not subsets:
        return "<none>"
    shown, count = [], 0
    for subset in subsets:
        addresses = [a.get("ip", "") for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        for port in ports or [None]:
            count += len(addresses)
            for ip in addresses:
                if len(shown) < 3:
                    host = f"[{ip}]" if ":" in ip else ip
                    shown.append(ip if port is None else f"{host}:{port.get('port')}")
    more = count - len(shown)
    return ",".join(shown) + (f" + {more} more..." if more > 0 else "")


register(Printer("Endpoints", (
    name_column(), Column("Endpoints", description=DOC["ep.subsets"]), AGE,
), lambda ep, now: [name(ep), endpoints_text(ep), fmt.age(created(ep), now)]))

register(Printer("ConfigMap", (
    name_column(), Column("Data", description=DOC["cm.data"]), AGE,
), lambda cm, now: [name(cm), len(cm.get("data") or {}) + len(cm.get("binaryData") or {}), fmt.age(created(cm), now)]))


def _secret_keys(secret: dict) -> int:
    # The API server folds stringData into data on write; a stored object may still hold both.
    return len({*(secret.get("data") or {}), *(secret.get("stringData") or {})})


register(Printer("Secret", (
    name_column(), Column("Type", description=DOC["secret.type"]),
    Column("Data", description=DOC["secret.data"]), AGE,
), lambda s, now: [name(s), s.get("type") or "Opaque", _secret_keys(s), fmt.age(created(s), now)]))

register(Printer("Namespace", (
    name_column(), Column("Status", description="The status of the namespace"), AGE,
), lambda ns, now: [name(ns), (ns.get("status") or {}).get("phase") or "Active", fmt.age(created(ns), now)]))

register(Printer("ServiceAccount", (
    name_column(), Column("Secrets", description=DOC["sa.secrets"]), AGE,
), lambda sa, now: [name(sa), len(sa.get("secrets") or []), fmt.age(created(sa), now)]))


def access_modes(modes: list | None) -> str:
    """`GetAccessModesAsString`: RWO, ROX, RWX, RWOP in that order, once each."""
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    return ",".join(s for m, s in short.items() if m in (modes or []))


def _pvc_cells(pvc: dict, now: datetime) -> list:
    meta, spec, status = pvc.get("metadata") or {}, pvc.get("spec") or {}, pvc.get("status") or {}
    bound = bool(spec.get("volumeName"))
    klass = (meta.get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class") \
        or spec.get("storageClassName") or ""
    return [name(pvc), "Terminating" if meta.get("deletionTimestamp") else status.get("phase") or "Pending",
            spec.get("volumeName", ""), str((status.get("capacity") or {}).get("storage", "")) if bound else "",
            access_modes(status.get("accessModes")) if bound else "", klass,
            spec.get("volumeAttributesClassName") or "<unset>", fmt.age(created(pvc), now),
            spec.get("volumeMode") or "<unset>"]


register(Printer("PersistentVolumeClaim", (
    name_column(),
    Column("Status", description=DOC["pvc.phase"]),
    Column("Volume", description=DOC["pvc.volumeName"]),
    Column("Capacity", description=DOC["pvc.capacity"]),
    Column("Access Modes", description=DOC["pvc.accessModes"]),
    Column("StorageClass", description="StorageClass of the pvc"),
    Column("VolumeAttributesClass", description="VolumeAttributesClass of the pvc"),
    AGE,
    Column("VolumeMode", priority=1, description=DOC["pvc.volumeMode"]),
), _pvc_cells))


def _event_cells(ev: dict, now: datetime) -> list:
    first = fmt.age(ev.get("firstTimestamp") or ev.get("eventTime"), now)
    last = fmt.age(ev["lastTimestamp"], now) if ev.get("lastTimestamp") else first
    count = ev.get("count") or 1
    if ev.get("series"):
        last = fmt.age(ev["series"].get("lastObservedTime"), now)
        count = ev["series"].get("count") or count
    inv, source = ev.get("involvedObject") or {}, ev.get("source") or {}
    target = inv.get("kind", "").lower() + (f"/{inv['name']}" if inv.get("name") else "")
    component = source.get("component") or ev.get("reportingComponent") or ev.get("reportingController") or ""
    host = source.get("host") or ev.get("reportingInstance") or ""
    return [last, ev.get("type", ""), ev.get("reason", ""), target, inv.get("fieldPath", ""),
            f"{component}, {host}" if host else component, (ev.get("message") or "").strip(),
            first, int(count), name(ev)]


EVENT = register(Printer("Event", (
    Column("Last Seen", description=DOC["ev.lastTimestamp"]),
    Column("Type", description=DOC["ev.type"]),
    Column("Reason", description=DOC["ev.reason"]),
    Column("Object", description=DOC["ev.involvedObject"]),
    Column("Subobject", priority=1, description=DOC["ev.fieldPath"]),
    Column("Source", priority=1, description=DOC["ev.source"]),
    Column("Message", description=DOC["ev.message"]),
    Column("First Seen", priority=1, description=DOC["ev.firstTimestamp"]),
    Column("Count", priority=1, description=DOC["ev.count"]),
    name_column(priority=1),
), _event_cells))
