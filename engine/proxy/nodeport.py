"""NodePort (and LoadBalancer) listeners on localhost: kubedeck's kube-proxy.

Listeners are keyed by a frozen spec (address, port, protocol). Each reconcile keeps
the unchanged ones, re-routes a port whose Service or target changed without closing it,
stops the removed ones and starts the new ones. TCP listeners are bound here and served
by the proxy worker process (dataplane.py), which routes with `pick()` over its mirror of
the Endpoints; UDP ones are served on this loop. A port that cannot be bound is an error on that
Service only (an Event and `describe()`), never a crash.

Endpoint choice is a pure function over the current Endpoints object: round-robin over
ready addresses, or sticky per client IP with sessionAffinity: ClientIP. A pod leaves
the rotation the moment its Endpoints entry goes (not Ready, or terminating).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from .. import activity
from ..selectors import resolve_target_port
from .dataplane import bind_tcp
from .udp import UdpListener

log = logging.getLogger("kubedeck.proxy")


@dataclass(frozen=True)
class ListenerSpec:
    address: str
    port: int
    protocol: str


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    port: int
    target: object  # int or named port
    affinity: int = 0  # sessionAffinity: ClientIP, for this many seconds since the client's last pick


def affinity_seconds(spec: dict) -> int | None:
    """sessionAffinity: ClientIP's timeout (Kubernetes' default 3 hours), or None."""
    if spec.get("sessionAffinity") != "ClientIP":
        return None
    cfg = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
    return int(cfg.get("timeoutSeconds") or 10800)


def ready_backends(endpoints: dict | None, port_name: str, target, store=None) -> list[tuple[str, int]]:
    """(ip, port) pairs of ready addresses for one Service port."""
    if not endpoints:
        return []
    out = []
    for sub in endpoints.get("subsets") or []:
        ports = sub.get("ports") or []
        port = next((p["port"] for p in ports if p.get("name", "") == port_name), None)
        if port is None and len(ports) == 1:
            port = ports[0]["port"]
        if port is None:
            continue
        out.extend((a["ip"], port) for a in sub.get("addresses") or [])
    return sorted(set(out))


def endpoint_pods(endpoints: dict | None) -> dict[str, tuple[str, str]]:
    """ip -> (namespace, name) of the ready pods an Endpoints object lists."""
    out = {}
    for sub in (endpoints or {}).get("subsets") or ():
        for a in sub.get("addresses") or ():
            ref = a.get("targetRef") or {}
            if ref.get("kind") == "Pod":
                out[a["ip"]] = (ref.get("namespace") or endpoints["metadata"].get("namespace", ""), ref["name"])
    return out


class NodePortProxy:
    def __init__(self, store, *, address: str = "", dataplane=None, events=None,
                 bound_changed: Callable[[], None] | None = None):
        """`store` gives the Services and Endpoints (in the worker: its mirror, and only
        `pick` and the UDP flows are used there). In the engine: `address` to listen on,
        the `dataplane` that serves the TCP listeners, `events` (ObjectService.record_event)
        for a port that cannot be bound, and `bound_changed`, called when the set of bound
        TCP ports changes (the kernel NodePorts follow it)."""
        self.store = store
        self.address = address
        self.dataplane = dataplane
        self.events = events
        self.bound_changed = bound_changed
        self.listeners: dict[ListenerSpec, tuple[ServicePort, object]] = {}  # socket, or UDP transport
        self.errors: dict[tuple[str, str], str] = {}
        self.conns: set = set()
        self._rr: dict[ServicePort, itertools.count] = {}
        self._affinity: dict[tuple[ServicePort, str], tuple[tuple[str, int], float]] = {}  # -> (backend, expiry)
        self._affinity_limit = 4096
        # in the worker: told when a client gets a (new) sticky endpoint, see `remember`
        self.sticky_changed: Callable[[ServicePort, str, tuple[str, int], float], None] | None = None

    def describe(self) -> dict:
        out = {f"{sp.namespace}/{sp.name}:{sp.port}": f"{ls.address}:{ls.port}"
               for ls, (sp, _) in self.listeners.items()}
        for (ns, name), err in self.errors.items():
            out[f"{ns}/{name}"] = f"error: {err}"
        return out

    def wanted(self) -> dict[ListenerSpec, ServicePort]:
        out = {}
        for svc in self.store.iter_kind("Service"):
            if svc["spec"].get("type") not in ("NodePort", "LoadBalancer"):
                continue
            for p in svc["spec"].get("ports") or []:
                proto = p.get("protocol", "TCP")
                if not p.get("nodePort") or proto not in ("TCP", "UDP"):
                    continue
                spec = ListenerSpec(self.address, int(p["nodePort"]), proto)
                out[spec] = ServicePort(svc["metadata"]["namespace"], svc["metadata"]["name"], p.get("name", ""),
                                        int(p["port"]), p.get("targetPort", p["port"]),
                                        affinity_seconds(svc["spec"]) or 0)
        return out

    async def run(self) -> None:
        await self.reconcile()
        async for ev in self.store.watch():
            kind = ev.object.get("kind")
            if kind == "Service":
                await self.reconcile()
            elif kind == "Endpoints":
                self.retain_udp_flows()

    def bound_tcp(self) -> list[tuple[int, ServicePort]]:
        """(nodePort, ServicePort) of the TCP listeners bound now: the ports the host's
        kernel may forward (agent/nodeport_kernel.py)."""
        return [(spec.port, sp) for spec, (sp, _) in self.listeners.items() if spec.protocol == "TCP"]

    async def reconcile(self) -> None:
        before = self.bound_tcp()
        await self._reconcile()
        if self.bound_changed is not None and self.bound_tcp() != before:
            self.bound_changed()

    async def _reconcile(self) -> None:
        want = self.wanted()
        for spec in list(self.listeners):
            sp, handle = self.listeners[spec]
            if want.get(spec) != sp and sp.affinity:  # its clients' stickiness goes with the port:
                # a new Service there must not inherit it (nor seed it into the kernel's sets)
                self._affinity = {k: v for k, v in self._affinity.items() if k[0] != sp}
            if spec not in want:
                del self.listeners[spec]
                self._close(spec, handle)
            elif want[spec] != sp:  # same port, new Service or target: re-route, keep listening
                if spec.protocol == "UDP":  # closing and re-binding at once could meet EADDRINUSE
                    handle.get_protocol().pick = self._udp_pick(want[spec])
                else:
                    self.dataplane.listen(self._key(spec), handle, {"role": "nodeport", "sp": asdict(want[spec])})
                self.listeners[spec] = (want[spec], handle)
        self.retain_udp_flows()
        self.errors.clear()
        for spec, sp in want.items():
            if spec in self.listeners:
                continue
            try:
                if spec.protocol == "UDP":
                    handle, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                        lambda sp=sp: UdpListener(self._udp_pick(sp)), local_addr=(spec.address, spec.port))
                else:
                    handle = self.dataplane.reclaim(self._key(spec)) or bind_tcp(spec.address, spec.port)
                    self.dataplane.listen(self._key(spec), handle, {"role": "nodeport", "sp": asdict(sp)})
            except OSError as e:
                msg = f"nodePort {spec.port}/{spec.protocol} cannot be bound on {spec.address}: {e.strerror or e}"
                self.errors[(sp.namespace, sp.name)] = msg
                svc = self.store.peek("Service", sp.namespace, sp.name)
                if svc and self.events:
                    self.events(svc, "FailedToBindNodePort", msg, type="Warning", component="kube-proxy")
                log.error("Service %s/%s: %s", sp.namespace, sp.name, msg)
                continue
            self.listeners[spec] = (sp, handle)
            log.info("Service %s/%s listening on %s %s:%d", sp.namespace, sp.name, spec.protocol, spec.address, spec.port)

    def _udp_pick(self, sp: ServicePort):
        return lambda tried, peer: self.pick(sp, tried, peer)

    def retain_udp_flows(self) -> None:
        for spec, (sp, handle) in self.listeners.items():
            if spec.protocol == "UDP":
                eps = self.store.peek("Endpoints", sp.namespace, sp.name)
                handle.get_protocol().retain(set(ready_backends(eps, sp.port_name, sp.target)))

    @staticmethod
    def _key(spec: ListenerSpec) -> str:
        return f"nodeport:{spec.address}:{spec.port}/{spec.protocol}"

    def _close(self, spec: ListenerSpec, handle) -> None:
        if spec.protocol == "UDP":
            handle.close()
        else:
            self.dataplane.unlisten(self._key(spec))  # closes our copy too

    def pick(self, sp: ServicePort, tried: set, client_ip: str | None = None) -> tuple[str, int] | None:
        """Round-robin over ready endpoints; with ClientIP affinity, the same endpoint
        for a client as long as it stays ready and the client came back within the
        timeout (kube-proxy's `recent` match: the clock restarts at every connection)."""
        eps = self.store.peek("Endpoints", sp.namespace, sp.name)
        backends = [b for b in ready_backends(eps, sp.port_name, sp.target) if b not in tried]
        if not backends:
            return None
        chosen = None
        if sp.affinity and client_ip:
            now = time.monotonic()
            sticky, until = self._affinity.get((sp, client_ip), (None, 0.0))
            if sticky in backends and until > now:
                chosen = sticky
        if chosen is None:
            n = next(self._rr.setdefault(sp, itertools.count()))
            chosen = backends[n % len(backends)]
        if sp.affinity and client_ip:
            if len(self._affinity) > self._affinity_limit:  # forget the clients whose affinity ran out
                self._affinity = {k: v for k, v in self._affinity.items() if v[1] > now}
                self._affinity_limit = max(4096, 2 * len(self._affinity))
            self._affinity[(sp, client_ip)] = (chosen, now + sp.affinity)
            if chosen != sticky and self.sticky_changed is not None:
                self.sticky_changed(sp, client_ip, chosen, now + sp.affinity)
        return chosen

    def remember(self, key: str, client_ip: str, backend: tuple[str, int], until: float) -> None:
        """The worker's report: on TCP listener `key`, `client_ip` was given `backend`
        until `until` (time.monotonic, the same clock in both processes). Kept so that the
        kernel's rules, when they take the port over, keep the client where it was
        (`clients`). The worker reports a new endpoint only, not each connection's refresh
        of the timeout: with a short timeout a remembered client may have expired here."""
        found = self._listener(key)
        if found is not None:
            self._affinity[(found[1], client_ip)] = (backend, until)

    def clients(self, sp: ServicePort) -> dict[tuple[str, int], list[tuple[str, float]]]:
        """Per endpoint of `sp`: the clients sticking to it and their seconds left."""
        now, out = time.monotonic(), {}
        for (port, client_ip), (backend, until) in list(self._affinity.items()):
            if port == sp and until > now:
                out.setdefault(backend, []).append((client_ip, until - now))
        return out

    def served(self, key: str, backend: tuple[str, int], at: float) -> None:
        """The worker's report: TCP listener `key` spliced its first connection to
        `backend` at `at` (a first per endpoint, see worker.py): into the activity stream."""
        found = self._listener(key)
        if found is not None:
            spec, sp = found
            pod = endpoint_pods(self.store.peek("Endpoints", sp.namespace, sp.name)).get(backend[0])
            if pod is not None:
                activity.RING.served(*pod, at, f"NodePort {spec.port} of Service {sp.name} (proxy worker)")

    def _listener(self, key: str) -> tuple[ListenerSpec, ServicePort] | None:
        """The listener (and its ServicePort) the worker calls `key`, if it is still ours."""
        for spec, (sp, _) in self.listeners.items():
            if self._key(spec) == key:
                return spec, sp
        return None

    async def close(self) -> None:
        for spec, (_, handle) in self.listeners.items():
            self._close(spec, handle)
        self.listeners.clear()


__all__ = ["NodePortProxy", "endpoint_pods", "ready_backends", "resolve_target_port"]
