"""kubectl's printers for the kinds kubedeck stores and lists but does not act on:
autoscaling, policy, RBAC bindings, storage, scheduling, flow control, admission, leases,
certificates, ReplicationController, PodTemplate, ControllerRevision, ResourceQuota, and
the aggregator's APIService.

Columns and cells as the API server's printers make them (`printers.go`, and
kube-aggregator's APIService table); fields the server would default (an HPA's
`minReplicas` 1, a FlowSchema's `matchingPrecedence` 1000, a CSIDriver's
`attachRequired` true and `Persistent` mode) get that default here, since kubedeck keeps
objects as written. Role, ClusterRole, LimitRange and CustomResourceDefinition have no
printer in Kubernetes either: they keep the default table (NAME, CREATED AT).
"""

from __future__ import annotations

from datetime import datetime

from . import format as fmt
from .columns import (
    AGE,
    CONTAINERS,
    IMAGES,
    Column,
    Printer,
    containers_and_images,
    created,
    name,
    name_column,
    register,
)
from .descriptions import DOC


def _spec(obj: dict) -> dict:
    return obj.get("spec") or {}


def _status(obj: dict) -> dict:
    return obj.get("status") or {}


def _age(obj: dict, now: datetime) -> str:
    return fmt.age(created(obj), now)


def _columns(*defs: tuple) -> tuple[Column, ...]:
    """`("Header", doc-or-text[, type[, priority]])` tuples; "Age" and "Name" as everywhere."""
    out = []
    for d in defs:
        if d == "Name":
            out.append(name_column())
        elif d == "Age":
            out.append(AGE)
        else:
            header, text, *rest = d
            out.append(Column(header, type=rest[0] if rest else "string", priority=rest[1] if len(rest) > 1 else 0,
                              description=DOC.get(text, text)))
    return tuple(out)


# -- autoscaling/v2 HorizontalPodAutoscaler ----------------------------------------------

def _hpa_metrics(hpa: dict) -> list[dict]:
    spec = _spec(hpa)
    if "metrics" not in spec and spec.get("targetCPUUtilizationPercentage") is not None:  # autoscaling/v1
        return [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": spec["targetCPUUtilizationPercentage"]}}}]
    return spec.get("metrics") or []


def _hpa_target(spec: dict, status: dict | None) -> str:
    """One metric of kubectl's `formatHPAMetrics`: `current/target`, `<unknown>` before
    the first reading; resource metrics named (`cpu: 40%/80%`)."""
    kind = spec.get("type") or ""
    key = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods",
           "Object": "object", "External": "external"}.get(kind)
    if key is None:
        return "<unknown type>"
    source = spec.get(key) or {}
    target, current = source.get("target") or {}, ((status or {}).get(key) or {}).get("current") or {}

    def pair(field: str, suffix: str = "") -> str:
        have = current.get(field)
        return f"{'<unknown>' if have is None else have}{suffix}/{target.get(field)}{suffix}"
    if kind in ("Resource", "ContainerResource"):
        prefix = f"{source.get('name', '')}: "
        if target.get("averageValue") is not None:
            return prefix + pair("averageValue")
        have = current.get("averageUtilization")
        want = target.get("averageUtilization")
        return f"{prefix}{'<unknown>' if have is None else f'{have}%'}/{'<auto>' if want is None else f'{want}%'}"
    if kind == "Pods" or target.get("averageValue") is not None:
        return pair("averageValue") + (" (avg)" if kind != "Pods" else "")
    return pair("value")


def hpa_targets(hpa: dict) -> str:
    metrics = _hpa_metrics(hpa)
    if not metrics:
        return "<none>"
    statuses = _status(hpa).get("currentMetrics") or []
    shown = [_hpa_target(m, statuses[i] if i < len(statuses) else None) for i, m in enumerate(metrics)]
    text = ", ".join(shown[:2])
    return f"{text} + {len(shown) - 2} more..." if len(shown) > 2 else text


def _hpa_cells(hpa: dict, now: datetime) -> list:
    spec, ref = _spec(hpa), _spec(hpa).get("scaleTargetRef") or {}
    return [name(hpa), f"{ref.get('kind', '')}/{ref.get('name', '')}", hpa_targets(hpa),
            str(spec.get("minReplicas", 1)), str(spec.get("maxReplicas", "")),
            str(_status(hpa).get("currentReplicas", 0)), _age(hpa, now)]


register(Printer("HorizontalPodAutoscaler", _columns(
    "Name", ("Reference", "hpa.scaleTargetRef"), ("Targets", "hpa.metrics"), ("MinPods", "hpa.minReplicas"),
    ("MaxPods", "hpa.maxReplicas"), ("Replicas", "hpa.currentReplicas"), "Age"), _hpa_cells))


# -- policy, networking, RBAC ---------------------------------------------------------------

def _pdb_cells(pdb: dict, now: datetime) -> list:
    spec = _spec(pdb)
    return [name(pdb), str(spec.get("minAvailable", "N/A")), str(spec.get("maxUnavailable", "N/A")),
            int(_status(pdb).get("disruptionsAllowed") or 0), _age(pdb, now)]


register(Printer("PodDisruptionBudget", _columns(
    "Name", ("Min Available", "The minimum number of pods that must be available."),
    ("Max Unavailable", "The maximum number of pods that may be unavailable."),
    ("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time.", "integer"), "Age"),
    _pdb_cells))

register(Printer("NetworkPolicy", _columns("Name", ("Pod-Selector", "netpol.podSelector"), "Age"),
                 lambda np, now: [name(np), fmt.selector_string(_spec(np).get("podSelector")) or "<none>",
                                  _age(np, now)]))


def _subjects(binding: dict, kind: str) -> str:
    found = [(f"{s.get('namespace', '')}:{s.get('name', '')}" if kind == "ServiceAccount" else s.get("name", ""))
             for s in binding.get("subjects") or [] if s.get("kind") == kind]
    return ", ".join(found)


def _binding_cells(binding: dict, now: datetime) -> list:
    ref = binding.get("roleRef") or {}
    return [name(binding), f"{ref.get('kind', '')}/{ref.get('name', '')}", _age(binding, now),
            _subjects(binding, "User"), _subjects(binding, "Group"), _subjects(binding, "ServiceAccount")]


for _kind, _doc, _what in (("RoleBinding", "rb.roleRef", "roleBinding"),
                           ("ClusterRoleBinding", "crb.roleRef", "clusterRoleBinding")):
    register(Printer(_kind, _columns(
        "Name", ("Role", _doc), "Age", ("Users", f"Users in the {_what}", "string", 1),
        ("Groups", f"Groups in the {_what}", "string", 1),
        ("ServiceAccounts", f"ServiceAccounts in the {_what}", "string", 1)), _binding_cells))


# -- core v1 kinds without a controller here ------------------------------------------------

def _rc_cells(rc: dict, now: datetime) -> list:
    spec, status = _spec(rc), _status(rc)
    return [name(rc), int(spec.get("replicas", 1)), int(status.get("replicas") or 0),
            int(status.get("readyReplicas") or 0), _age(rc, now),
            *containers_and_images((spec.get("template") or {}).get("spec")), fmt.format_labels(spec.get("selector"))]


register(Printer("ReplicationController", (
    *_columns("Name", ("Desired", "rc.replicas", "integer"), ("Current", "rc.status.replicas", "integer"),
              ("Ready", "rc.readyReplicas", "integer"), "Age"),
    CONTAINERS, IMAGES, Column("Selector", priority=1, description=DOC["rc.selector"])), _rc_cells))


def _pod_template_cells(pt: dict, now: datetime) -> list:
    template = pt.get("template") or {}
    return [name(pt), *containers_and_images(template.get("spec")),
            fmt.format_labels((template.get("metadata") or {}).get("labels"))]


register(Printer("PodTemplate", _columns(
    "Name", ("Containers", "Names of each container in the template."),
    ("Images", "Images referenced by each container in the template."),
    ("Pod Labels", "The labels for the pod template.")), _pod_template_cells))


def _quota_cells(quota: dict, now: datetime) -> list:
    """kubectl's `printResourceQuota`: `used/hard` per resource, `limits.*` apart."""
    hard, used = _status(quota).get("hard") or {}, _status(quota).get("used") or {}
    requests, limits = [], []
    for resource in sorted(hard):
        (limits if resource.split(".")[0] == "limits" and "." in resource else requests).append(
            f"{resource}: {used.get(resource, '0')}/{hard[resource]}")
    return [name(quota), _age(quota, now), ", ".join(requests), ", ".join(limits)]


register(Printer("ResourceQuota", _columns(
    "Name", "Age", ("Request", "Request represents a minimum amount of cpu/memory that a container may consume."),
    ("Limit", "Limits control the maximum amount of cpu/memory that a container may use independent of "
     "contention on the node.")), _quota_cells))


def _pv_cells(pv: dict, now: datetime) -> list:
    from .core import access_modes

    spec, status, meta = _spec(pv), _status(pv), pv.get("metadata") or {}
    claim = spec.get("claimRef")
    klass = (meta.get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class") \
        or spec.get("storageClassName") or ""
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase") or "Pending"
    return [name(pv), str((spec.get("capacity") or {}).get("storage", "")), access_modes(spec.get("accessModes")),
            spec.get("persistentVolumeReclaimPolicy") or "Retain", phase,
            f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else "", klass,
            spec.get("volumeAttributesClassName") or "<unset>", status.get("reason", ""), _age(pv, now),
            spec.get("volumeMode") or "Filesystem"]


register(Printer("PersistentVolume", _columns(
    "Name", ("Capacity", "pv.capacity"), ("Access Modes", "pv.accessModes"), ("Reclaim Policy", "pv.reclaimPolicy"),
    ("Status", "pv.phase"), ("Claim", "pv.claimRef"), ("StorageClass", "StorageClass of the pv"),
    ("VolumeAttributesClass", "VolumeAttributesClass of the pv"), ("Reason", "pv.reason"), "Age",
    ("VolumeMode", "pv.volumeMode", "string", 1)), _pv_cells))


# -- apps, coordination, scheduling, node ----------------------------------------------------

def _revision_cells(cr: dict, now: datetime) -> list:
    owner = next((o for o in (cr.get("metadata") or {}).get("ownerReferences") or [] if o.get("controller")), None)
    controller = "<none>"
    if owner:
        group = owner.get("apiVersion", "").rpartition("/")[0]
        controller = f"{owner.get('kind', '').lower()}{'.' + group if group else ''}/{owner.get('name', '')}"
    return [name(cr), controller, str(cr.get("revision", 0)), _age(cr, now)]


register(Printer("ControllerRevision", _columns(
    "Name", ("Controller", "Controller of the object"), ("Revision", "cr.revision"), "Age"), _revision_cells))

register(Printer("Lease", _columns("Name", ("Holder", "lease.holderIdentity"), "Age"),
                 lambda lease, now: [name(lease), _spec(lease).get("holderIdentity") or "<unknown>",
                                     _age(lease, now)]))

register(Printer("PriorityClass", _columns(
    "Name", ("Value", "pc.value", "integer"), ("Global-Default", "pc.globalDefault", "boolean"), "Age",
    ("PreemptionPolicy", "pc.preemptionPolicy")),
    lambda pc, now: [name(pc), int(pc.get("value") or 0), bool(pc.get("globalDefault")), _age(pc, now),
                     pc.get("preemptionPolicy") or "PreemptLowerPriority"]))

register(Printer("RuntimeClass", _columns("Name", ("Handler", "rtc.handler"), "Age"),
                 lambda rc, now: [name(rc), rc.get("handler", ""), _age(rc, now)]))


# -- storage ------------------------------------------------------------------------------------

def _storage_class_cells(sc: dict, now: datetime) -> list:
    annotations = (sc.get("metadata") or {}).get("annotations") or {}
    default = "true" in (annotations.get("storageclass.kubernetes.io/is-default-class"),
                         annotations.get("storageclass.beta.kubernetes.io/is-default-class"))
    return [name(sc) + (" (default)" if default else ""), sc.get("provisioner", ""),
            sc.get("reclaimPolicy") or "Delete", sc.get("volumeBindingMode") or "Immediate",
            bool(sc.get("allowVolumeExpansion")), _age(sc, now)]


register(Printer("StorageClass", _columns(
    "Name", ("Provisioner", "sc.provisioner"), ("ReclaimPolicy", "sc.reclaimPolicy"),
    ("VolumeBindingMode", "sc.volumeBindingMode"), ("AllowVolumeExpansion", "sc.allowVolumeExpansion"), "Age"),
    _storage_class_cells))


def _csi_driver_cells(driver: dict, now: datetime) -> list:
    spec = _spec(driver)
    audiences = [t.get("audience", "") for t in spec.get("tokenRequests") or []]
    return [name(driver), spec.get("attachRequired", True), bool(spec.get("podInfoOnMount")),
            bool(spec.get("storageCapacity")), ",".join(audiences) or "<unset>", bool(spec.get("requiresRepublish")),
            ",".join(spec.get("volumeLifecycleModes") or ["Persistent"]), _age(driver, now)]


register(Printer("CSIDriver", _columns(
    "Name", ("AttachRequired", "csi.attachRequired", "boolean"), ("PodInfoOnMount", "csi.podInfoOnMount", "boolean"),
    ("StorageCapacity", "csi.storageCapacity", "boolean"), ("TokenRequests", "csi.tokenRequests"),
    ("RequiresRepublish", "csi.requiresRepublish", "boolean"), ("Modes", "csi.volumeLifecycleModes"), "Age"),
    _csi_driver_cells))

register(Printer("VolumeAttachment", (
    name_column(), Column("Attacher", format="name", description=DOC["va.attacher"]),
    *_columns(("PV", "va.persistentVolumeName"), ("Node", "va.nodeName"), ("Attached", "va.attached", "boolean"),
              "Age")),
    lambda va, now: [name(va), _spec(va).get("attacher", ""),
                     (_spec(va).get("source") or {}).get("persistentVolumeName") or "",
                     _spec(va).get("nodeName", ""), bool(_status(va).get("attached")), _age(va, now)]))


# -- certificates, admission, flow control, aggregation -------------------------------------------

def _csr_cells(csr: dict, now: datetime) -> list:
    spec, status = _spec(csr), _status(csr)
    conditions = [c.get("type", "") for c in status.get("conditions") or []]
    if status.get("certificate"):
        conditions.append("Issued")
    seconds = spec.get("expirationSeconds")
    return [name(csr), _age(csr, now), spec.get("signerName", ""), spec.get("username", ""),
            fmt.human_duration(seconds) if seconds else "<none>", ",".join(conditions) or "Pending"]


register(Printer("CertificateSigningRequest", _columns(
    "Name", "Age", ("SignerName", "csr.signerName"), ("Requestor", "csr.request"),
    ("RequestedDuration", "csr.expirationSeconds"), ("Condition", "csr.conditions")), _csr_cells))

for _kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
    register(Printer(_kind, _columns(
        "Name", ("Webhooks", "Webhooks indicates the number of webhooks registered in this configuration",
                 "integer"), "Age"),
        lambda wh, now: [name(wh), len(wh.get("webhooks") or []), _age(wh, now)]))


def _flow_schema_cells(fs: dict, now: datetime) -> list:
    spec = _spec(fs)
    dangling = next((c.get("status", "?") for c in _status(fs).get("conditions") or []
                     if c.get("type") == "Dangling"), "?")
    return [name(fs), (spec.get("priorityLevelConfiguration") or {}).get("name", ""),
            int(spec.get("matchingPrecedence", 1000)), (spec.get("distinguisherMethod") or {}).get("type") or "<none>",
            _age(fs, now), dangling]


register(Printer("FlowSchema", _columns(
    "Name", ("PriorityLevel", "fs.priorityLevel"), ("MatchingPrecedence", "fs.matchingPrecedence"),
    ("DistinguisherMethod", "fs.distinguisherMethod"), "Age",
    ("MissingPL", "references a broken or non-existent PriorityLevelConfiguration")), _flow_schema_cells))


def _priority_level_cells(plc: dict, now: datetime) -> list:
    spec = _spec(plc)
    limited = spec.get("limited")
    cells = ["<none>"] * 4
    if limited is not None:
        queuing = (limited.get("limitResponse") or {}).get("queuing")
        cells = [limited.get("nominalConcurrencyShares", 30), *(
            [queuing.get("queues", 64), queuing.get("handSize", 8), queuing.get("queueLengthLimit", 50)]
            if queuing else ["<none>"] * 3)]
    return [name(plc), spec.get("type", ""), *cells, _age(plc, now)]


register(Printer("PriorityLevelConfiguration", _columns(
    "Name", ("Type", "plc.type"), ("NominalConcurrencyShares", "plc.nominalConcurrencyShares"),
    ("Queues", "plc.queues"), ("HandSize", "plc.handSize"), ("QueueLengthLimit", "plc.queueLengthLimit"), "Age"),
    _priority_level_cells))


def _api_service_cells(svc: dict, now: datetime) -> list:
    ref = _spec(svc).get("service")
    available = next((c for c in _status(svc).get("conditions") or [] if c.get("type") == "Available"), None)
    state = "Unknown"
    if available:
        state = available.get("status", "Unknown")
        if state != "True" and available.get("reason"):
            state = f"{state} ({available['reason']})"
    return [name(svc), f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else "Local", state, _age(svc, now)]


register(Printer("APIService", _columns(
    "Name", ("Service", "The reference to the service that hosts this API endpoint."),
    ("Available", "Whether this service is available."), "Age"), _api_service_cells))
