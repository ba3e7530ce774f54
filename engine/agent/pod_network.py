"""A pod's place on the cluster network, as the pod worker gives it to Docker: whether
it needs a pause sandbox, its DNS aliases, its DNS search path and its /etc/hosts entries. Pure: the pod and the
Services in, names out; no Docker and no store here.
"""

from __future__ import annotations

from typing import Iterable

from .. import in_cluster
from ..kubeproxy.services import service_names
from ..selectors import matches_selector


def needs_sandbox(pod: dict) -> bool:
    """A pause container holds the pod's network when several containers share it
    (init containers included), or when the environment needs the pod IP before the
    container starts. A pod of one container owns its network itself, which halves the
    Docker work per pod; its IP may then change when the container restarts."""
    spec = pod["spec"]
    if len(spec.get("containers") or []) > 1 or spec.get("initContainers") or spec.get("shareProcessNamespace"):
        return True
    for c in spec.get("containers") or []:
        for e in c.get("env") or []:
            path = (((e.get("valueFrom") or {}).get("fieldRef")) or {}).get("fieldPath", "")
            if path.startswith("status.podIP"):
                return True
    return False


def pod_aliases(pod: dict, services: Iterable[dict]) -> list[str]:
    """DNS names of this pod: POD.SUBDOMAIN, and the names of headless Services
    selecting it (they resolve to the pods themselves, as in Kubernetes)."""
    spec, meta = pod["spec"], pod["metadata"]
    ns = meta.get("namespace") or "default"
    out = []
    labels = meta.get("labels") or {}
    for svc in services:
        sel = svc["spec"].get("selector")
        if svc["metadata"]["namespace"] == ns and svc["spec"].get("clusterIP") == "None" \
                and sel and matches_selector(sel, labels):
            out += service_names(svc["metadata"]["name"], ns)
    if spec.get("subdomain"):
        host = spec.get("hostname") or meta["name"]
        # POD.SUBDOMAIN stays a bare alias too: a dotted name is looked up as is first
        out += [f"{host}.{n}" for n in [spec["subdomain"], *service_names(spec["subdomain"], ns)]]
    return out


def dns_search(ns: str) -> list[str]:
    """Kubernetes' search path: a bare Service name resolves in the pod's own namespace
    (`web` -> `web.NS.svc.cluster.local`, an alias of that Service's proxy)."""
    return [f"{ns}.svc.cluster.local", "svc.cluster.local", "cluster.local"]


def extra_hosts(pod: dict) -> list[str]:
    """The pod's /etc/hosts entries ("name:ip", Docker's extra_hosts): the API's names
    (in_cluster.py; the bare `kubernetes` only in `default`, where the search path would
    find it on a cluster, since /etc/hosts is read without the search path) and the pod's
    `hostAliases`."""
    names = list(in_cluster.DNS_NAMES[1:])
    if (pod["metadata"].get("namespace") or "default") == in_cluster.NAMESPACE:
        names.insert(0, in_cluster.NAME)
    out = [f"{n}:{in_cluster.SERVICE_IP}" for n in names]
    for alias in pod["spec"].get("hostAliases") or []:
        out += [f"{h}:{alias['ip']}" for h in alias.get("hostnames") or [] if alias.get("ip")]
    return out
