"""Kubernetes REST paths, both ways, pure and socket-free.

`parse_path` is what the API server routes by; `resource_path` builds the same shape for
any resource by plural and group/version (CRDs and any cluster's kinds included), and
`path_for` is the shortcut by kind name for the kinds kubedeck knows. Both API clients
(engine/client.py, and the TUI's async one) build every path with these two.
"""

from __future__ import annotations

from dataclasses import dataclass

from .manifests.kinds import KINDS, kind_for_plural


@dataclass(frozen=True)
class Target:
    group_version: str
    kind: str
    namespace: str | None  # None: all namespaces (or cluster-scoped)
    name: str | None
    subresource: str | None
    namespaced: bool


class BadPath(Exception):
    pass


def parse_path(path: str) -> Target:
    """`/api/v1/namespaces/default/pods/web/log` -> Target(v1, Pod, default, web, log)."""
    segs = [s for s in path.split("/") if s]
    if len(segs) >= 2 and segs[0] == "api":
        gv, rest = segs[1], segs[2:]
    elif len(segs) >= 3 and segs[0] == "apis":
        gv, rest = f"{segs[1]}/{segs[2]}", segs[3:]
    else:
        raise BadPath(path)
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if not rest:
        raise BadPath(path)
    plural, name = rest[0], (rest[1] if len(rest) > 1 else None)
    sub = "/".join(rest[2:]) or None
    kind = kind_for_plural(gv, plural)
    if kind is None:
        raise BadPath(path)
    return Target(gv, kind, ns, name, sub, KINDS[kind][2])


CORE = "v1"


def resource_path(
    plural: str, namespace: str | None = None, group_version: str = CORE, name: str | None = None
) -> str:
    """`/api/v1/...` for the core group, `/apis/g/v/...` otherwise; no namespace: all of them."""
    base = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
    path = f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"
    return f"{path}/{name}" if name else path


def path_for(kind: str, namespace: str | None = None, name: str | None = None) -> str:
    """`resource_path` by kind name; a cluster-scoped kind's namespace is ignored."""
    api_version, plural, namespaced = KINDS[kind][0], KINDS[kind][1], KINDS[kind][2]
    return resource_path(plural, namespace if namespaced else None, api_version, name)
