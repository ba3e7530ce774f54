"""The Kubernetes kinds kubedeck knows by name.

``KINDS`` maps a kind to ``KindInfo(api_version, plural, namespaced, acted_on)``.
``acted_on`` says whether kubedeck does something with objects of that kind
(runs them, proxies them, feeds them to pods); other kinds are valid Kubernetes
and are stored and served by the API, but have no effect, so the validator
warns about them.  Kinds that exist in Kubernetes but are missing here are
treated like the stored-only ones.

``KindInfo`` is a NamedTuple, so ``api_version, plural, namespaced, acted_on =
KINDS["Pod"]`` works.
"""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["KindInfo", "KINDS", "OTHER_VERSIONS", "kind_for_plural", "plural_for_kind", "group_of", "is_namespaced",
           "qualified_resource", "served_versions"]


class KindInfo(NamedTuple):
    api_version: str
    plural: str
    namespaced: bool
    acted_on: bool


KINDS: dict[str, KindInfo] = {
    # acted on
    "Pod": KindInfo("v1", "pods", True, True),
    "Deployment": KindInfo("apps/v1", "deployments", True, True),
    "ReplicaSet": KindInfo("apps/v1", "replicasets", True, True),
    "StatefulSet": KindInfo("apps/v1", "statefulsets", True, True),
    "DaemonSet": KindInfo("apps/v1", "daemonsets", True, True),
    "Job": KindInfo("batch/v1", "jobs", True, True),
    "CronJob": KindInfo("batch/v1", "cronjobs", True, True),
    "Service": KindInfo("v1", "services", True, True),
    "Endpoints": KindInfo("v1", "endpoints", True, True),
    "Ingress": KindInfo("networking.k8s.io/v1", "ingresses", True, True),
    "IngressClass": KindInfo("networking.k8s.io/v1", "ingressclasses", False, True),
    "ConfigMap": KindInfo("v1", "configmaps", True, True),
    "Secret": KindInfo("v1", "secrets", True, True),
    "PersistentVolumeClaim": KindInfo("v1", "persistentvolumeclaims", True, True),
    "Namespace": KindInfo("v1", "namespaces", False, True),
    "Node": KindInfo("v1", "nodes", False, True),
    "Event": KindInfo("v1", "events", True, True),
    "ServiceAccount": KindInfo("v1", "serviceaccounts", True, True),  # pods' tokens (engine/in_cluster.py)
    "HorizontalPodAutoscaler": KindInfo("autoscaling/v2", "horizontalpodautoscalers", True, True),
    # stored, not acted on
    "PersistentVolume": KindInfo("v1", "persistentvolumes", False, False),
    "LimitRange": KindInfo("v1", "limitranges", True, False),
    "ResourceQuota": KindInfo("v1", "resourcequotas", True, False),
    "ReplicationController": KindInfo("v1", "replicationcontrollers", True, False),
    "PodTemplate": KindInfo("v1", "podtemplates", True, False),
    "ControllerRevision": KindInfo("apps/v1", "controllerrevisions", True, False),
    "Role": KindInfo("rbac.authorization.k8s.io/v1", "roles", True, False),
    "RoleBinding": KindInfo("rbac.authorization.k8s.io/v1", "rolebindings", True, False),
    "ClusterRole": KindInfo("rbac.authorization.k8s.io/v1", "clusterroles", False, False),
    "ClusterRoleBinding": KindInfo("rbac.authorization.k8s.io/v1", "clusterrolebindings", False, False),
    "NetworkPolicy": KindInfo("networking.k8s.io/v1", "networkpolicies", True, False),

    "PodDisruptionBudget": KindInfo("policy/v1", "poddisruptionbudgets", True, False),
    "PriorityClass": KindInfo("scheduling.k8s.io/v1", "priorityclasses", False, False),
    "StorageClass": KindInfo("storage.k8s.io/v1", "storageclasses", False, False),
    "CSIDriver": KindInfo("storage.k8s.io/v1", "csidrivers", False, False),
    "VolumeAttachment": KindInfo("storage.k8s.io/v1", "volumeattachments", False, False),
    "Lease": KindInfo("coordination.k8s.io/v1", "leases", True, False),
    "EndpointSlice": KindInfo("discovery.k8s.io/v1", "endpointslices", True, False),
    "CustomResourceDefinition": KindInfo("apiextensions.k8s.io/v1", "customresourcedefinitions", False, False),
    "MutatingWebhookConfiguration": KindInfo("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", False, False),
    "ValidatingWebhookConfiguration": KindInfo("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations", False, False),
    "APIService": KindInfo("apiregistration.k8s.io/v1", "apiservices", False, False),
    "RuntimeClass": KindInfo("node.k8s.io/v1", "runtimeclasses", False, False),
    "FlowSchema": KindInfo("flowcontrol.apiserver.k8s.io/v1", "flowschemas", False, False),
    "PriorityLevelConfiguration": KindInfo("flowcontrol.apiserver.k8s.io/v1", "prioritylevelconfigurations", False, False),
    "CertificateSigningRequest": KindInfo("certificates.k8s.io/v1", "certificatesigningrequests", False, False),
}

# versions the API also serves a kind at, converting to and from the stored one
# (engine/api/versions.py): kubectl before 1.33 creates HPAs as autoscaling/v1
OTHER_VERSIONS: dict[str, tuple[str, ...]] = {"HorizontalPodAutoscaler": ("autoscaling/v1",)}
_BY_PLURAL = {(info.api_version, info.plural): kind for kind, info in KINDS.items()}
_BY_PLURAL.update({(gv, KINDS[kind].plural): kind for kind, gvs in OTHER_VERSIONS.items() for gv in gvs})


def served_versions(kind: str) -> tuple[str, ...]:
    """The group/versions the API serves `kind` at, the stored (preferred) one first."""
    return (KINDS[kind].api_version, *OTHER_VERSIONS.get(kind, ()))


def group_of(api_version: str) -> str:
    """``"apps/v1"`` -> ``"apps"``; ``"v1"`` -> ``""`` (the core group)."""
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def kind_for_plural(group_version: str, plural: str) -> str | None:
    """``("apps/v1", "deployments")`` -> ``"Deployment"``; None if unknown.

    The core group may be given as ``"v1"`` or ``"/v1"`` or ``"core/v1"``.
    """
    gv = group_version.lstrip("/")
    if gv.startswith("core/"):
        gv = gv[len("core/"):]
    return _BY_PLURAL.get((gv, plural.lower()))


def plural_for_kind(kind: str) -> str | None:
    """``"Ingress"`` -> ``"ingresses"``; None if the kind is not in KINDS."""
    info = KINDS.get(kind)
    return info.plural if info else None


def is_namespaced(kind: str, default: bool = True) -> bool:
    info = KINDS.get(kind)
    return info.namespaced if info else default


def qualified_resource(kind: str) -> str:
    """How the API server names a kind's resource in messages: `pods`, `deployments.apps`."""
    info = KINDS.get(kind)
    if info is None:
        return kind.lower() + "s"
    group = group_of(info.api_version)
    return f"{info.plural}.{group}" if group else info.plural
