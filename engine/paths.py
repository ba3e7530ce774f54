"""Kubernetes REST paths to (kind, namespace, name, subresource), pure and socket-free."""

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


def path_for(kind: str, namespace: str | None = None, name: str | None = None) -> str:
    api_version, plural, namespaced = KINDS[kind][0], KINDS[kind][1], KINDS[kind][2]
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespaced and namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    return base + (f"/{name}" if name else "")
