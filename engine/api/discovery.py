"""API discovery documents, built from the kinds table, so Kubernetes clients find what
this server serves: the legacy lists (`/api`, `/apis`, `/api/v1`, `/apis/{g}/{v}`) and
aggregated discovery (`apidiscovery.k8s.io` v2, and v2beta1 for kubectl 1.27-1.29),
which kubectl asks for first and which saves it a request per group.

Short names, categories and subresources are Kubernetes' own: kubectl resolves `deploy`,
`svc` or `get all` only from what discovery says.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

from ..manifests.kinds import KINDS, OTHER_VERSIONS
from . import metrics_api, review_api

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def verbs_of(kind: str) -> list[str]:
    """A kind's verbs: every kind's, but Namespaces have no deletecollection (as upstream)."""
    return [v for v in VERBS if v != "deletecollection"] if kind == "Namespace" else VERBS

SHORT_NAMES = {
    "Pod": ["po"], "Service": ["svc"], "Deployment": ["deploy"], "ReplicaSet": ["rs"],
    "StatefulSet": ["sts"], "DaemonSet": ["ds"], "ConfigMap": ["cm"], "Namespace": ["ns"],
    "Node": ["no"], "Event": ["ev"], "Ingress": ["ing"], "PersistentVolumeClaim": ["pvc"],
    "Endpoints": ["ep"], "CronJob": ["cj"], "ServiceAccount": ["sa"], "PersistentVolume": ["pv"],
    "LimitRange": ["limits"], "ResourceQuota": ["quota"], "ReplicationController": ["rc"],
    "HorizontalPodAutoscaler": ["hpa"], "PodDisruptionBudget": ["pdb"], "PriorityClass": ["pc"],
    "StorageClass": ["sc"], "CustomResourceDefinition": ["crd", "crds"], "NetworkPolicy": ["netpol"],
    "CertificateSigningRequest": ["csr"],
}
#: `kubectl get all`
CATEGORY_ALL = {"Pod", "Service", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job",
                "CronJob", "ReplicationController", "HorizontalPodAutoscaler"}
#: subresource -> (verbs, response kind; None: the resource's own kind)
_SUB = {
    "status": (["get", "patch", "update"], None),
    "scale": (["get", "patch", "update"], ("autoscaling", "v1", "Scale")),
    "log": (["get"], ("", "v1", "Pod")),
    "exec": (["create", "get"], ("", "v1", "PodExecOptions")),
    "attach": (["create", "get"], ("", "v1", "PodAttachOptions")),
    "portforward": (["create", "get"], ("", "v1", "PodPortForwardOptions")),
    "eviction": (["create"], ("policy", "v1", "Eviction")),
    "binding": (["create"], ("", "v1", "Binding")),
    "token": (["create"], ("authentication.k8s.io", "v1", "TokenRequest")),
}
SUBRESOURCES = {
    "Pod": ["attach", "binding", "eviction", "exec", "log", "portforward", "status"],
    "Deployment": ["scale", "status"], "ReplicaSet": ["scale", "status"], "StatefulSet": ["scale", "status"],
    "DaemonSet": ["status"], "Job": ["status"], "CronJob": ["status"], "Service": ["status"],
    "Node": ["status"], "Namespace": ["status"], "PersistentVolumeClaim": ["status"], "Ingress": ["status"],
    "ServiceAccount": ["token"],
}

AGGREGATED = ("apidiscovery.k8s.io/v2", "apidiscovery.k8s.io/v2beta1")


def _by_group_version() -> dict[str, list[str]]:
    """group/version -> its kinds; the stored versions first, so each group's preferred
    version comes first (`_groups`)."""
    out: dict[str, list[str]] = defaultdict(list)
    for kind, info in KINDS.items():
        out[info.api_version].append(kind)
    for kind, versions in OTHER_VERSIONS.items():
        for gv in versions:
            out[gv].append(kind)
    return out


def core_versions() -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}


def _groups() -> dict[str, list[str]]:
    """group -> its versions, the preferred (stored) one first: one per group, but
    autoscaling's v2 and v1 (OTHER_VERSIONS)."""
    stored = {info.api_version for info in KINDS.values()}
    out: dict[str, list[str]] = defaultdict(list)
    for gv in sorted(_by_group_version(), key=lambda gv: (gv.split("/")[0], gv not in stored, gv)):
        if "/" in gv:
            g, v = gv.split("/")
            out[g].append(v)
    return out


def api_groups() -> dict:
    out = []
    for g, versions in _groups().items():
        vs = [{"groupVersion": f"{g}/{v}", "version": v} for v in versions]
        out.append({"name": g, "versions": vs, "preferredVersion": vs[0]})
    out.append(metrics_api.api_group())
    out.extend(review_api.api_groups())
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}


def resource_list(group_version: str) -> dict | None:
    kinds = _by_group_version().get(group_version)
    if not kinds:
        return review_api.resource_list(group_version)
    resources = []
    for kind in sorted(kinds):
        info = KINDS[kind]
        r = {"name": info.plural, "singularName": kind.lower(), "namespaced": info.namespaced,
             "kind": kind, "verbs": verbs_of(kind)}
        if kind in SHORT_NAMES:
            r["shortNames"] = SHORT_NAMES[kind]
        if kind in CATEGORY_ALL:
            r["categories"] = ["all"]
        resources.append(r)
        for sub in SUBRESOURCES.get(kind, []):
            verbs, rk = _SUB[sub]
            entry = {"name": f"{info.plural}/{sub}", "singularName": "", "namespaced": info.namespaced,
                     "kind": rk[2] if rk else kind, "verbs": verbs}
            if rk and rk[0]:
                entry.update(group=rk[0], version=rk[1])
            resources.append(entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def wants_aggregated(accept: str) -> str | None:
    """The aggregated discovery version the client asked for first, if any."""
    for part in accept.split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as", "APIGroupDiscoveryList") \
                == "APIGroupDiscoveryList" and f"apidiscovery.k8s.io/{params.get('v')}" in AGGREGATED:
            return f"apidiscovery.k8s.io/{params['v']}"
    return None


def aggregated_content_type(api_version: str) -> str:
    v = api_version.split("/")[1]
    return f"application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"


@lru_cache(maxsize=4)
def aggregated(api_version: str, *, core: bool) -> dict:
    """`/api` (core) or `/apis` (every named group) as an APIGroupDiscoveryList."""
    groups = {"": ["v1"]} if core else _groups()
    items = []
    for g, versions in groups.items():
        vs = []
        for v in versions:
            gv = f"{g}/{v}" if g else v
            vs.append({"version": v, "freshness": "Current",
                       "resources": [_aggregated_resource(k, g, v) for k in sorted(_by_group_version()[gv])]})
        items.append({"metadata": {"name": g, "creationTimestamp": None}, "versions": vs})
    if not core:
        items.append(metrics_api.aggregated_group())
        items.extend(review_api.aggregated_groups())
    return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items}


def _aggregated_resource(kind: str, group: str, version: str) -> dict:
    info = KINDS[kind]
    r = {"resource": info.plural, "responseKind": {"group": group, "version": version, "kind": kind},
         "scope": "Namespaced" if info.namespaced else "Cluster", "singularResource": kind.lower(),
         "verbs": verbs_of(kind)}
    if kind in SHORT_NAMES:
        r["shortNames"] = SHORT_NAMES[kind]
    if kind in CATEGORY_ALL:
        r["categories"] = ["all"]
    subs = []
    for sub in SUBRESOURCES.get(kind, []):
        verbs, rk = _SUB[sub]
        g, v, k = rk if rk else (group, version, kind)
        subs.append({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": k}, "verbs": verbs})
    if subs:
        r["subresources"] = subs
    return r

