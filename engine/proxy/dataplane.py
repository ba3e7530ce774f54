"""The engine's side of the proxy data plane: one worker process moves the bytes.

Why a process: NodePort and Ingress traffic is many small reads and writes, and on the
engine's loop it competes with controllers, the API and the agent for one interpreter.
The worker (worker.py) runs only the data path, on uvloop, and uses a second core.

Who owns what:
- The engine binds every TCP listener itself, so a port that cannot be bound is still an
  error on that one Service, reported here; it then hands a duplicate descriptor to the
  worker, which accepts on it. The engine keeps its copy: a restarted worker gets the
  same listening sockets again, and connections waiting in the backlog are not lost.
- The worker keeps a mirror of the objects the data path reads (Services, Endpoints,
  Ingresses, IngressClasses, TLS Secrets), fed from the store's watch. Routing is the
  same code as in the engine (nodeport.py, ingress.py), reading the mirror.
- Problems (Events, status) are decided in the engine only. The worker reports one
  thing back: a NodePort's first connection to each endpoint (`served`), which the
  engine's NodePortProxy turns into the activity stream's `kube-proxy served` action.
- UDP NodePorts stay on the engine's loop (datagrams are rare in local work).

If the worker dies, it is started again and given the listeners and the mirror anew;
open connections through it are lost, listeners never close.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import time
from collections import deque
from collections.abc import Callable

from . import wire

log = logging.getLogger("kubedeck.proxy")
MIRRORED = ("Service", "Endpoints", "Ingress", "IngressClass", "Secret")
QUEUE_LIMIT = 64 << 20  # bytes waiting for a worker that does not read: it is restarted
RETIRE_SECONDS = 10.0  # a closed listener is kept this long, so the same port can come back


def bind_tcp(address: str, port: int, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket (SO_REUSEADDR, non-blocking); OSError when it cannot bind."""
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def mirrored(obj: dict) -> bool:
    kind = obj.get("kind")
    if kind != "Secret":
        return kind in MIRRORED
    keys = {**(obj.get("data") or {}), **(obj.get("stringData") or {})}
    return "tls.crt" in keys  # only certificates travel to the worker


def for_worker(obj: dict) -> dict:
    """What the worker gets of an object: a Secret only as type and certificate pair."""
    if obj.get("kind") != "Secret":
        return obj
    pick = ("tls.crt", "tls.key")
    return {"kind": "Secret", "metadata": obj["metadata"], "type": obj.get("type"),
            "data": {k: v for k, v in (obj.get("data") or {}).items() if k in pick},
            "stringData": {k: v for k, v in (obj.get("stringData") or {}).items() if k in pick}}


class DataPlane:
    def __init__(self, store) -> None:
        """`store` is mirrored to the worker; `on_served(key, backend, at)` receives the
        worker's first-connection-per-endpoint reports (the NodePort proxy's `served`)."""
        self.store = store
        self.on_served: Callable[[str, tuple[str, int], float], None] | None = None
        self.on_sticky: Callable[[str, str, tuple[str, int], float], None] | None = None  # NodePortProxy.remember
        self.listeners: dict[str, tuple[socket.socket, dict]] = {}
        self.retired: dict[str, socket.socket] = {}  # closed listeners kept a moment (unlisten)
        self.sock: socket.socket | None = None
        self.reader: wire.Reader | None = None
        self.outq: deque[tuple[bytes, tuple[int, ...]]] = deque()  # packets the worker has not taken yet
        self.queued = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.synced_rv = 0
        self.restarts = 0
        self.closing = False

    # ---- engine-facing API -----------------------------------------------------------
    def listen(self, key: str, sock: socket.socket, meta: dict) -> None:
        """Serve `sock` in the worker as `meta` says; the same key again re-routes it."""
        self.listeners[key] = (sock, meta)
        self._send({"op": "listen", "key": key, **meta}, (sock.fileno(),))

    def unlisten(self, key: str) -> None:
        """Stop serving `key`. The engine's copy of the socket is kept RETIRE_SECONDS: the
        worker may still hold its copy for a moment, and a Service that comes back on the
        same port (delete and re-create, a type switch) gets this socket instead of a
        bind() that would fail with 'address in use'."""
        entry = self.listeners.pop(key, None)
        if entry:
            self._send({"op": "close", "key": key})
            old = self.retired.pop(key, None)
            if old:
                old.close()
            self.retired[key] = entry[0]
            asyncio.get_running_loop().call_later(RETIRE_SECONDS, self._expire, key, entry[0])

    def reclaim(self, key: str) -> socket.socket | None:
        """A retired listening socket for `key`, still bound, or None."""
        return self.retired.pop(key, None)

    def _expire(self, key: str, sock: socket.socket) -> None:
        if self.retired.get(key) is sock:
            del self.retired[key]
            sock.close()

    def describe(self) -> dict:
        return {"pid": self.proc.pid if self.proc else None, "restarts": self.restarts,
                "listeners": sorted(self.listeners)}

    # ---- worker lifecycle ------------------------------------------------------------
    async def run(self) -> None:
        """Mirror the store into the worker, and start it again whenever it exits."""
        mirror = asyncio.get_running_loop().create_task(self._mirror(self.store.rv))
        try:
            delay = 0.1
            while not self.closing:
                started = time.monotonic()
                try:
                    await self._spawn()
                    rc = await self.proc.wait()
                except OSError as e:  # cannot start a process now (descriptors, memory)
                    rc = f"not started: {e}"
                if self.closing:
                    break
                self.restarts += 1
                log.error("proxy worker exited (%s); starting it again", rc)
                if time.monotonic() - started > 30:
                    delay = 0.1  # it ran a good while: this is not a crash loop
                await asyncio.sleep(delay)  # back off a worker that dies at once
                delay = min(delay * 2, 5.0)
        finally:
            mirror.cancel()

    async def _spawn(self) -> None:
        ours, theirs = wire.pair()
        ours.setblocking(False)  # never stall the engine's loop: packets queue (_send)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "kubedeck.engine.proxy.worker", str(theirs.fileno()),
                pass_fds=(theirs.fileno(),), stdin=asyncio.subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._detach()
        self.sock, self.reader = ours, wire.Reader(ours)
        asyncio.get_running_loop().add_reader(ours.fileno(), self._from_worker)
        self.synced_rv = self.store.rv
        for kind in MIRRORED:
            for obj in self.store.iter_kind(kind):
                if mirrored(obj):
                    self._send({"op": "put", "obj": for_worker(obj)})
        self._send({"op": "synced"})
        for key, (sock, meta) in self.listeners.items():
            self._send({"op": "listen", "key": key, **meta}, (sock.fileno(),))
        log.info("proxy worker pid %d serving %d listeners", self.proc.pid, len(self.listeners))

    async def _mirror(self, rv: int) -> None:
        while True:
            try:
                async for ev in self.store.watch(rv):
                    rv = ev.rv
                    obj = ev.object
                    if ev.rv <= self.synced_rv or obj.get("kind") not in MIRRORED:
                        continue  # the worker's snapshot already has it
                    if ev.type == "DELETED" or not mirrored(obj):
                        m = obj["metadata"]
                        self._send({"op": "delete", "obj": {"kind": obj["kind"], "metadata": {
                            "name": m["name"], "namespace": m.get("namespace")}}})
                    else:
                        self._send({"op": "put", "obj": for_worker(obj)})
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - never leave the worker on a frozen mirror
                log.exception("proxy worker mirror failed; resyncing the worker")
                rv = self.store.rv
                self._kill()  # restarted with a full snapshot

    def _send(self, msg: dict, fds: tuple[int, ...] = ()) -> None:
        """Queue a message for the worker; packets go out as its socket takes them."""
        if self.sock is None:
            return
        pkts = wire.packets(msg)
        for i, pkt in enumerate(pkts):
            self.outq.append((pkt, fds if i == len(pkts) - 1 else ()))
            self.queued += len(pkt)
        if self.queued > QUEUE_LIMIT:
            log.warning("proxy worker is not reading (%d bytes waiting); restarting it", self.queued)
            self._kill()
            return
        self._flush()

    def _flush(self) -> None:
        sock = self.sock
        while self.outq and sock is not None:
            pkt, fds = self.outq[0]
            try:
                wire.send_packet(sock, pkt, fds)
            except BlockingIOError:
                asyncio.get_running_loop().add_writer(sock.fileno(), self._flush)
                return
            except OSError as e:  # worker gone: it is restarted with a full sync
                log.warning("proxy worker not reachable (%s); restarting it", e)
                self._kill()
                return
            self.outq.popleft()
            self.queued -= len(pkt)
        if sock is not None:
            asyncio.get_running_loop().remove_writer(sock.fileno())

    def _from_worker(self) -> None:
        msgs = self.reader.read()
        if msgs is None:  # the worker is gone: run() starts another
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            return
        for msg, fds in msgs:
            for fd in fds:
                os.close(fd)
            if msg.get("op") == "served" and self.on_served is not None:
                self.on_served(msg["key"], tuple(msg["backend"]), float(msg["at"]))
            elif msg.get("op") == "sticky" and self.on_sticky is not None:
                self.on_sticky(msg["key"], msg["client"], tuple(msg["backend"]), float(msg["until"]))

    def _detach(self) -> None:
        """Forget the current worker's socket and whatever was queued for it."""
        if self.sock is not None:
            asyncio.get_running_loop().remove_writer(self.sock.fileno())
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None
        self.outq.clear()
        self.queued = 0

    def _kill(self) -> None:
        if self.proc and self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass

    async def close(self) -> None:
        self.closing = True
        self._detach()  # EOF: the worker closes its listeners and exits
        if self.proc and self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), 3)
            except asyncio.TimeoutError:
                self._kill()
        for sock in [s for s, _ in self.listeners.values()] + list(self.retired.values()):
            sock.close()
        self.listeners.clear()
        self.retired.clear()
