"""Ingress routing as pure functions: Ingress objects in, a lookup table out.

Nothing here touches sockets or the store, so every rule of the Kubernetes Ingress
specification is tested on plain dicts (tests/unit/test_ingress_routing.py).

- Class: an Ingress is ours when `spec.ingressClassName` (or the legacy
  `kubernetes.io/ingress.class` annotation) names an IngressClass whose controller is
  `kubedeck.io/ingress`, or when it names no class and one of our classes carries
  `ingressclass.kubernetes.io/is-default-class: "true"`.
- Host: exact hosts first, then `*.suffix` wildcards (which match exactly one DNS label),
  then rules without a host. A host group whose paths do not match falls through to the
  next group, then to `defaultBackend`.
- Path: `Exact` is a string compare; `Prefix` (and `ImplementationSpecific`) matches by
  path elements, so `/foo` matches `/foo` and `/foo/bar` but not `/foobar`, and a trailing
  slash on either side is ignored. Longest matching path wins; at equal length Exact beats
  Prefix. Lookup walks up the request path one element at a time with dict probes, so its
  cost is the path depth, not the number of rules.
- Conflicts: two Ingresses claiming the same host + path + pathType (or both setting a
  defaultBackend) are resolved deterministically: oldest creationTimestamp, then
  namespace/name. The losers are reported so the caller can record a Warning Event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..labels import INGRESS_CONTROLLER as CONTROLLER

DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS = "kubernetes.io/ingress.class"


class Backend(NamedTuple):
    """A Service backend of an Ingress: a port number or a port name (a tuple: hashed in C)."""

    namespace: str
    service: str
    port: int | None = None
    port_name: str | None = None


@dataclass(frozen=True)
class Conflict:
    loser: tuple[str, str]   # (namespace, name) of the Ingress that lost
    winner: tuple[str, str]
    host: str
    path: str                # "" for defaultBackend

    def message(self) -> str:
        what = f"host {self.host or '*'} path {self.path}" if self.path else "defaultBackend"
        return f"{what} is already claimed by Ingress {self.winner[0]}/{self.winner[1]} (older); this rule is ignored"


def is_ours(ing: dict, classes: list[dict]) -> bool:
    meta = ing.get("metadata") or {}
    name = (ing.get("spec") or {}).get("ingressClassName") or (meta.get("annotations") or {}).get(LEGACY_CLASS)
    ours = [c for c in classes if (c.get("spec") or {}).get("controller") == CONTROLLER]
    if name:
        return any(c["metadata"]["name"] == name for c in ours)
    return any(((c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) or "").lower() == "true" for c in ours)


def backend_of(ing: dict, b: dict | None) -> Backend | None:
    svc = (b or {}).get("service")
    if not svc or not svc.get("name"):
        return None  # resource backends are not supported
    ns = ing["metadata"].get("namespace") or "default"
    port = svc.get("port") or {}
    number = port.get("number")
    return Backend(ns, svc["name"], int(number) if number is not None else None, port.get("name") or None)


def _norm_prefix(path: str) -> str:
    return path.rstrip("/")


def _age_key(ing: dict):
    m = ing["metadata"]
    return (m.get("creationTimestamp") or "", m.get("namespace") or "default", m["name"])


class HostRoutes:
    """Paths of one host group."""

    __slots__ = ("exact", "prefix")

    def __init__(self) -> None:
        self.exact: dict[str, Backend] = {}
        self.prefix: dict[str, Backend] = {}

    def match(self, path: str) -> Backend | None:
        b = self.exact.get(path)
        if b is not None:
            return b
        return self.prefix_match(path.rstrip("/")) if self.prefix else None

    def prefix_match(self, s: str) -> Backend | None:
        """The longest Prefix rule covering the normalised path `s` (no trailing slash),
        Exact rules aside."""
        prefix = self.prefix
        while True:
            b = prefix.get(s)
            if b is not None or not s:
                return b
            s = s[:max(s.rfind("/"), 0)]


class RouteTable:
    def __init__(self) -> None:
        self.exact_hosts: dict[str, HostRoutes] = {}
        self.wildcards: dict[str, HostRoutes] = {}  # suffix ("example.com") -> routes
        self.any_host = HostRoutes()
        self.default: Backend | None = None
        self.hosts: list[str] = []

    def _group(self, host: str) -> HostRoutes:
        if not host:
            return self.any_host
        if host.startswith("*."):
            return self.wildcards.setdefault(host[2:], HostRoutes())
        return self.exact_hosts.setdefault(host, HostRoutes())

    def match(self, host: str, path: str) -> Backend | None:
        """The backend for a request; host without port, lower case; path without query."""
        g = self.exact_hosts.get(host)
        if g is not None:
            b = g.match(path)
            if b is not None:
                return b
        if self.wildcards:
            dot = host.find(".")
            if dot > 0:
                g = self.wildcards.get(host[dot + 1:])
                if g is not None:
                    b = g.match(path)
                    if b is not None:
                        return b
        return self.any_host.match(path) or self.default


def build_table(ingresses: list[dict], classes: list[dict]) -> tuple[RouteTable, list[Conflict]]:
    """The routing table of every Ingress of ours, and the rules that lost a conflict."""
    table = RouteTable()
    conflicts: list[Conflict] = []
    owner: dict[tuple, tuple[str, str]] = {}
    hosts = set()
    for ing in sorted((i for i in ingresses if is_ours(i, classes) and not i["metadata"].get("deletionTimestamp")),
                      key=_age_key):
        me = (ing["metadata"].get("namespace") or "default", ing["metadata"]["name"])
        spec = ing.get("spec") or {}
        db = backend_of(ing, spec.get("defaultBackend"))
        if db is not None:
            if table.default is None:
                table.default, owner[("default",)] = db, me
            elif owner[("default",)] != me:
                conflicts.append(Conflict(me, owner[("default",)], "", ""))
        for rule in spec.get("rules") or []:
            host = (rule.get("host") or "").lower()
            if host:
                hosts.add(host)
            group = table._group(host)
            for p in ((rule.get("http") or {}).get("paths") or []):
                b = backend_of(ing, p.get("backend"))
                if b is None:
                    continue
                path = p.get("path") or "/"
                exact = p.get("pathType") == "Exact"
                key = (host, "E" if exact else "P", path if exact else _norm_prefix(path))
                where = group.exact if exact else group.prefix
                if key in owner:
                    if owner[key] != me:
                        conflicts.append(Conflict(me, owner[key], host, path))
                    continue
                owner[key] = me
                where[key[2]] = b
    table.hosts = sorted(hosts)
    return table, conflicts


def tls_hosts(ingresses: list[dict], classes: list[dict]) -> dict[str, tuple[str, str, tuple[str, str]]]:
    """host (may be `*.x`) -> (namespace, secretName, ingress) from `spec.tls`, oldest Ingress first.

    A tls entry without hosts covers the hosts of that Ingress's rules."""
    out: dict[str, tuple[str, str, tuple[str, str]]] = {}
    for ing in sorted((i for i in ingresses if is_ours(i, classes)), key=_age_key):
        ns = ing["metadata"].get("namespace") or "default"
        spec = ing.get("spec") or {}
        rule_hosts = [r["host"] for r in spec.get("rules") or [] if r.get("host")]
        for t in spec.get("tls") or []:
            if not t.get("secretName"):
                continue
            for h in t.get("hosts") or rule_hosts:
                out.setdefault(h.lower(), (ns, t["secretName"], (ns, ing["metadata"]["name"])))
    return out


def service_port(svc: dict | None, b: Backend) -> tuple[str, object] | None:
    """(port name, targetPort) of the Service port a backend names, or None."""
    if not svc:
        return None
    for p in (svc.get("spec") or {}).get("ports") or []:
        if (b.port is not None and int(p.get("port", -1)) == b.port) or (b.port_name and p.get("name") == b.port_name):
            return p.get("name", ""), p.get("targetPort", p.get("port"))
    return None


def split_host(host: bytes | str | None) -> str:
    """Host header -> lower-case host name without port (IPv6 literals kept bracketed)."""
    if not host:
        return ""
    if isinstance(host, bytes):
        host = host.decode("latin-1")
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[:end + 1] if end > 0 else host
    colon = host.rfind(":")
    return host[:colon] if colon >= 0 else host.rstrip(".")


class BoundedMemo(dict):
    """`fn(key)` memoised in a dict that is cleared when it grows past `limit` (the keys
    come from clients, so the memo must not grow without bound). A hit is one dict lookup."""

    def __init__(self, fn, limit: int = 1024) -> None:
        super().__init__()
        self.fn, self.limit = fn, limit

    def __missing__(self, key):
        if len(self) >= self.limit:
            self.clear()
        self[key] = value = self.fn(key)
        return value


HOSTS = BoundedMemo(split_host)  # raw Host header -> routing host
