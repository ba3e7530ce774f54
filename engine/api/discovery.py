"""API discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`), built
from the kinds table, so Kubernetes clients can find what this server serves."""

from __future__ import annotations

from collections import defaultdict

from ..manifests.kinds import KINDS

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
SUBRESOURCES = {"Pod": ["log", "exec", "portforward", "status"], "Deployment": ["scale", "status"],
                "ReplicaSet": ["scale", "status"], "StatefulSet": ["scale", "status"]}


def _by_group_version() -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for kind, info in KINDS.items():
        out[info.api_version].append(kind)
    return out


def core_versions() -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}


def api_groups() -> dict:
    groups = sorted({gv.split("/")[0] for gv in _by_group_version() if "/" in gv})
    out = []
    for g in groups:
        versions = sorted(gv for gv in _by_group_version() if gv.startswith(g + "/"))
        vs = [{"groupVersion": gv, "version": gv.split("/")[1]} for gv in versions]
        out.append({"name": g, "versions": vs, "preferredVersion": vs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}


def resource_list(group_version: str) -> dict | None:
    kinds = _by_group_version().get(group_version)
    if not kinds:
        return None
    resources = []
    for kind in sorted(kinds):
        info = KINDS[kind]
        resources.append({"name": info.plural, "singularName": kind.lower(), "namespaced": info.namespaced,
                          "kind": kind, "verbs": VERBS})
        for sub in SUBRESOURCES.get(kind, []):
            resources.append({"name": f"{info.plural}/{sub}", "singularName": "", "namespaced": info.namespaced,
                              "kind": kind, "verbs": ["get", "create"] if sub in ("exec", "portforward") else ["get"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}
