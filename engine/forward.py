"""Client side of port-forward, shared by the CLI and the TUI (API only, no engine internals).

A local listener (127.0.0.1 by default); each accepted connection picks a target pod
through the API and opens its own port-forward WebSocket. For a Service or Deployment
the pod is chosen per connection among the ready ones, so, unlike kubectl's, a forward
survives the pod being replaced.
"""

from __future__ import annotations

import asyncio
import random
import struct
from contextlib import suppress

import aiohttp

from .paths import path_for
from .selectors import matches_selector, resolve_target_port
from .state import Connection

DATA, ERROR = 0, 1


def _ready(pod: dict) -> bool:
    st = pod.get("status") or {}
    return st.get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp") and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])


class Forwarder:
    def __init__(self, *, kind: str, namespace: str, name: str, remote_port: int, url: str = "",
                 token: str = "", local_port: int = 0, address: str = "127.0.0.1", ca: str | None = None,
                 connection=None):
        # `connection`: a kubeconfig context's (kubeconnect.py); else the engine's url/token/CA
        self._conn = connection or Connection(url, token, ca)
        self.url, self.kind, self.ns, self.name = self._conn.url, kind, namespace, name
        self._ssl = self._conn.ssl()
        self.remote_port, self.local_port, self.address = remote_port, local_port, address
        self.session: aiohttp.ClientSession | None = None
        self.server: asyncio.AbstractServer | None = None
        self.conns: set[asyncio.Task] = set()
        self.errors: list[str] = []

    async def start(self) -> int:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self._ssl))
        self.server = await asyncio.start_server(self._handle, self.address, self.local_port)
        self.local_port = self.server.sockets[0].getsockname()[1]
        return self.local_port

    async def stop(self) -> None:
        if self.server:
            self.server.close()
        for t in list(self.conns):
            t.cancel()
        if self.session:
            await self.session.close()

    async def _get(self, path: str, **params) -> dict:
        async with self.session.get(self.url + path, params=params, headers=self._conn.headers()) as r:
            body = await r.json()
            if r.status >= 400:
                raise LookupError(body.get("message", f"HTTP {r.status}"))
            return body

    async def target(self) -> tuple[str, int]:
        """(pod name, container port) for a new connection."""
        if self.kind == "Pod":
            return self.name, self.remote_port
        if self.kind == "Service":
            svc = await self._get(path_for("Service", self.ns, self.name))
            sp = next((p for p in svc["spec"].get("ports") or [] if p["port"] == self.remote_port), None)
            if sp is None:
                raise LookupError(f"Service {self.name} does not have a service port {self.remote_port}")
            selector, target = svc["spec"].get("selector") or {}, sp.get("targetPort", sp["port"])
        else:
            dep = await self._get(path_for(self.kind, self.ns, self.name))
            selector, target = dep["spec"]["selector"], self.remote_port
        pods = (await self._get(path_for("Pod", self.ns)))["items"]
        ready = [p for p in pods if _ready(p) and matches_selector(selector, p["metadata"].get("labels") or {})]
        if not ready:
            raise LookupError(f"no ready pod for {self.kind.lower()}/{self.name}")
        pod = random.choice(ready)
        port = resolve_target_port(pod, target)
        if port is None:
            raise LookupError(f"pod {pod['metadata']['name']} has no port named {target!r}")
        return pod["metadata"]["name"], port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.conns.add(task)
        try:
            pod, port = await self.target()
            ws = await self.session.ws_connect(self.url + path_for("Pod", self.ns, pod) + "/portforward",
                                               params={"ports": str(port)}, protocols=("v4.channel.k8s.io",),
                                               max_msg_size=0, headers=self._conn.headers())
        except (LookupError, aiohttp.ClientError) as e:
            self.errors.append(str(e))
            writer.close()
            self.conns.discard(task)
            return

        async def up() -> None:
            while data := await reader.read(65536):
                await ws.send_bytes(bytes([DATA]) + data)

        async def down() -> None:
            seen = set()
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                    continue
                ch, payload = msg.data[0], msg.data[1:]
                if ch not in seen:  # the first frame per channel is the port number
                    seen.add(ch)
                    if len(payload) == 2 and struct.unpack("<H", payload)[0] == port:
                        continue
                if ch == DATA:
                    writer.write(payload)
                    await writer.drain()
                elif ch == ERROR and payload:
                    self.errors.append(payload.decode(errors="replace"))
        tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            await ws.close()
            with suppress(OSError):
                writer.close()
            self.conns.discard(task)
