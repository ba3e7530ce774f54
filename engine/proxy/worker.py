"""The proxy worker process: NodePort and Ingress bytes, on uvloop when it is installed.

Started by dataplane.py as `python -m kubedeck.engine.proxy.worker FD`, where FD is its
end of the control socket. It never touches Docker, the API or the database: it
accepts on listening sockets the engine hands over and routes with the same code as the
engine (NodePortProxy.pick, IngressProxy.pick), reading a mirror of the objects the
engine sends. EOF on the control socket (the engine stopped or died) ends the process.

What it tells the engine: a NodePort's first connection to each endpoint
(`{"op": "served", "key", "backend", "at"}`, the x-ray journey's last hop). The cost
per connection is one set lookup; an endpoint that leaves its Endpoints (its pod gone or
not ready) is forgotten, so it is reported again when it comes back. And a ClientIP
affinity client's new endpoint (`{"op": "sticky", ...}`), so that the kernel's rules keep
the client there when they take the port over (kubeproxy/nodeport_kernel.py).
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import os
import signal
import socket
import sys
import time
from collections import defaultdict

from ..store import CLUSTER_SCOPED
from . import wire
from .ingress import IngressProxy
from .ingress_http import Client
from .nodeport import NodePortProxy, ServicePort
from .splice import ClientSide

log = logging.getLogger("kubedeck.proxy.worker")


class Mirror:
    """The slice of the store the data path reads: peek and iter_kind, as Store has."""

    def __init__(self) -> None:
        self.by_kind: dict[str, dict[tuple[str, str], dict]] = defaultdict(dict)

    @staticmethod
    def _key(kind: str, namespace: str | None, name: str) -> tuple[str, str]:
        return ("" if kind in CLUSTER_SCOPED else (namespace or "default"), name)

    def put(self, obj: dict) -> None:
        m = obj["metadata"]
        self.by_kind[obj["kind"]][self._key(obj["kind"], m.get("namespace"), m["name"])] = obj

    def delete(self, obj: dict) -> None:
        m = obj["metadata"]
        self.by_kind[obj["kind"]].pop(self._key(obj["kind"], m.get("namespace"), m["name"]), None)

    def peek(self, kind: str, namespace: str, name: str) -> dict | None:
        return self.by_kind[kind].get(self._key(kind, namespace, name))

    def iter_kind(self, kind: str) -> list[dict]:
        return list(self.by_kind[kind].values())


class Worker:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.reader = wire.Reader(control)
        self.store = Mirror()
        self.nodeport = NodePortProxy(self.store)
        self.nodeport.sticky_changed = self._sticky
        self.ingress = IngressProxy(self.store, control=False)
        self.routes: dict[str, ServicePort] = {}
        self.servers: dict[str, asyncio.AbstractServer] = {}
        self.keys: set[str] = set()  # listeners the engine wants served now
        self.seen: dict[str, set[tuple[str, int]]] = {}  # per NodePort listener: endpoints reported served
        self.synced = False
        self.done = asyncio.get_running_loop().create_future()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.ingress.start_worker()
        loop.add_reader(self.control.fileno(), self.on_control)
        await self.done
        for server in self.servers.values():
            server.close()
        await self.ingress.close()

    def on_control(self) -> None:
        msgs = self.reader.read()
        if msgs is None:  # the engine went away
            asyncio.get_running_loop().remove_reader(self.control.fileno())
            if not self.done.done():
                self.done.set_result(None)
            return
        for msg, fds in msgs:
            try:
                self.handle(msg, fds)
            except Exception:  # noqa: BLE001 - one bad message must not stop the traffic
                log.exception("proxy worker: cannot handle %s", msg.get("op"))
                if msg.get("op") != "listen":  # listen() disposes of its descriptor itself
                    for fd in fds:
                        os.close(fd)

    def handle(self, msg: dict, fds: list[int]) -> None:
        op = msg["op"]
        if op in ("put", "delete"):
            obj = msg["obj"]
            if obj["kind"] == "Endpoints" and self.seen:
                self._forget_gone(obj, deleted=op == "delete")
            (self.store.put if op == "put" else self.store.delete)(obj)
            if self.synced:
                self.ingress.on_change(obj)
        elif op == "synced":
            self.synced = True
            self.ingress.reevaluate(routes=True, tls=True)
        elif op == "listen":
            self.listen(msg, fds[0])
        elif op == "close":
            self.keys.discard(msg["key"])
            self.routes.pop(msg["key"], None)
            self.seen.pop(msg["key"], None)
            server = self.servers.pop(msg["key"], None)
            if server:
                server.close()  # stops accepting; open connections finish (graceful drain)

    def listen(self, msg: dict, fd: int) -> None:
        key = msg["key"]
        if msg["role"] == "nodeport":
            self.routes[key] = ServicePort(**msg["sp"])
        if key in self.keys:  # re-routed: keep accepting on the socket we have
            os.close(fd)
            return
        sock = socket.socket(fileno=fd)
        try:
            self._serve(key, msg, sock)
        except BaseException:
            sock.close()
            raise

    def _serve(self, key: str, msg: dict, sock: socket.socket) -> None:
        if msg["role"] == "nodeport":
            pick, conns, first = self.nodeport.pick, self.nodeport.conns, self._first_seen(key)

            def factory(key=key):
                return ClientSide(lambda tried, ip: pick(self.routes[key], tried, ip) if key in self.routes else None,
                                  conns.discard, first)
            ssl = None
        else:
            scheme, port, ingress = msg["scheme"].encode(), str(msg["port"]).encode(), self.ingress
            factory = lambda: Client(ingress, scheme, port)  # noqa: E731
            ssl = None
            if msg["scheme"] == "https":
                if ingress.certs is None:  # never serve the HTTPS port in clear text
                    raise RuntimeError("no certificate store: HTTPS listener not served")
                ssl = ingress.certs.default
        self.keys.add(key)
        loop = asyncio.get_running_loop()
        task = loop.create_task(loop.create_server(factory, sock=sock, backlog=1024, ssl=ssl,
                                                   ssl_handshake_timeout=10 if ssl else None))
        task.add_done_callback(lambda t, key=key: self._served(key, t))

    def _first_seen(self, key: str):
        """The `connected` callback of listener `key`'s connections: reports an endpoint's
        first one."""
        seen = self.seen.setdefault(key, set())

        def connected(backend: tuple[str, int]) -> None:
            if backend not in seen:
                seen.add(backend)
                self._report({"op": "served", "key": key, "backend": list(backend), "at": time.time()})
        return connected

    def _sticky(self, sp: ServicePort, client_ip: str, backend: tuple[str, int], until: float) -> None:
        """A client of a ClientIP-affinity NodePort got a new endpoint: the engine keeps it
        for the kernel's rules (NodePortProxy.remember)."""
        for key, routed in self.routes.items():
            if routed == sp:
                self._report({"op": "sticky", "key": key, "client": client_ip, "backend": list(backend),
                              "until": until})

    def _forget_gone(self, obj: dict, deleted: bool) -> None:
        """Endpoints `obj` changes (or goes): its addresses that left will be reported
        again on their next first connection."""
        m = obj["metadata"]
        old = self.store.peek("Endpoints", m.get("namespace"), m["name"])
        gone = _addresses(old) - (set() if deleted else _addresses(obj))
        if gone:
            for seen in self.seen.values():
                seen.difference_update([b for b in seen if b[0] in gone])

    def _report(self, msg: dict) -> None:
        try:
            for packet in wire.packets(msg):
                wire.send_packet(self.control, packet)
        except OSError:  # the engine is not reading (or gone): a lost report, never a stall
            pass

    def _served(self, key: str, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("proxy worker cannot serve %s: %s", key, task.exception())
            self.keys.discard(key)
            return
        if key not in self.keys:  # closed while it was starting
            task.result().close()
            return
        self.servers[key] = task.result()


def _addresses(endpoints: dict | None) -> set[str]:
    return {a["ip"] for sub in (endpoints or {}).get("subsets") or () for a in sub.get("addresses") or ()}


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s proxy-worker %(levelname)s %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the engine's; we end on EOF
    faulthandler.enable()  # a native crash leaves the Python stack in the engine's log
    control = socket.socket(fileno=int(argv[0]))
    control.setblocking(False)
    run = asyncio.run
    if os.environ.get("KUBEDECK_PROXY_LOOP", "uvloop") == "uvloop":
        try:
            import uvloop

            run = uvloop.run
        except ImportError:
            log.warning("uvloop is not installed: the proxy worker runs on asyncio's default loop")

    async def serve() -> None:
        await Worker(control).run()

    run(serve())
    # Listeners and connections are closed: skip the interpreter's teardown (~0.1 s),
    # which the engine's stop waits for.
    logging.shutdown()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
