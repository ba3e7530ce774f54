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
- Problems (Events, status) are decided in the engine only; the worker reports nothing.
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

from . import wire

log = logging.getLogger("kubedeck.proxy")
MIRRORED = ("Service", "Endpoints", "Ingress", "IngressClass", "Secret")


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


class DataPlane:
    def __init__(self, cluster) -> None:
        self.c = cluster
        self.listeners: dict[str, tuple[socket.socket, dict]] = {}
        self.sock: socket.socket | None = None
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
        entry = self.listeners.pop(key, None)
        if entry:
            self._send({"op": "close", "key": key})
            entry[0].close()

    def describe(self) -> dict:
        return {"pid": self.proc.pid if self.proc else None, "restarts": self.restarts,
                "listeners": sorted(self.listeners)}

    # ---- worker lifecycle ------------------------------------------------------------
    async def run(self) -> None:
        """Mirror the store into the worker, and start it again whenever it exits."""
        mirror = asyncio.get_running_loop().create_task(self._mirror(self.c.store.rv))
        try:
            delay = 0.1
            while not self.closing:
                await self._spawn()
                rc = await self.proc.wait()
                if self.closing:
                    break
                self.restarts += 1
                log.error("proxy worker exited with status %s; starting it again", rc)
                await asyncio.sleep(delay)  # back off a worker that dies at once
                delay = min(delay * 2, 5.0)
        finally:
            mirror.cancel()

    async def _spawn(self) -> None:
        ours, theirs = wire.pair()
        ours.settimeout(10)  # a worker that stops reading is killed, not waited on forever
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kubedeck.engine.proxy.worker", str(theirs.fileno()),
            pass_fds=(theirs.fileno(),), stdin=asyncio.subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        theirs.close()
        old, self.sock = self.sock, ours
        if old:
            old.close()
        self.synced_rv = self.c.store.rv
        for kind in MIRRORED:
            for obj in self.c.store.iter_kind(kind):
                if mirrored(obj):
                    self._send({"op": "put", "obj": obj})
        self._send({"op": "synced"})
        for key, (sock, meta) in self.listeners.items():
            self._send({"op": "listen", "key": key, **meta}, (sock.fileno(),))
        log.info("proxy worker pid %d serving %d listeners", self.proc.pid, len(self.listeners))

    async def _mirror(self, rv: int) -> None:
        async for ev in self.c.store.watch(rv):
            obj = ev.object
            if ev.rv <= self.synced_rv or obj.get("kind") not in MIRRORED:
                continue  # the worker's snapshot already has it
            if ev.type == "DELETED" or not mirrored(obj):
                self._send({"op": "delete", "obj": obj})
            else:
                self._send({"op": "put", "obj": obj})

    def _send(self, msg: dict, fds: tuple[int, ...] = ()) -> None:
        if self.sock is None:
            return
        try:
            wire.send(self.sock, msg, fds)
        except OSError as e:  # worker gone or stuck: it is (re)started with a full sync
            log.warning("proxy worker not reachable (%s); restarting it", e)
            self._kill()

    def _kill(self) -> None:
        if self.proc and self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass

    async def close(self) -> None:
        self.closing = True
        if self.sock:
            self.sock.close()  # EOF: the worker closes its listeners and exits
            self.sock = None
        if self.proc and self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), 3)
            except asyncio.TimeoutError:
                self._kill()
        for sock, _ in self.listeners.values():
            sock.close()
        self.listeners.clear()
