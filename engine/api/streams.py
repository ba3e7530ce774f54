"""Streaming subresources of pods: `log`, `exec`, `attach` and `portforward`.

They need the node agent (container ids, Docker, log readers), which starts after the
API, so `agent` is a callable that returns it, or None while Docker is off. exec and
attach speak WebSocket channels (v4, v5) or SPDY/3.1; port-forward speaks SPDY (raw or
tunnelled in a WebSocket) or kubedeck's WebSocket channels: `upgrade.py` tells them
apart, `remotecommand.py` and `portforward.py` serve them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

from ..store import Store, StoreError
from ..paths import Target
from .status import fail
from .upgrade import (
    SPDY_TUNNEL_PREFIX,
    accept_spdy,
    accept_spdy_tunnel,
    upgrade_kind,
    ws_protocols,
)

log = logging.getLogger(__name__)


def _flag(q, name: str) -> bool:
    return q.get(name) in ("1", "true")


class Streams:
    def __init__(self, store: Store, agent: Callable[[], object | None]) -> None:
        self.store = store
        self.agent = agent

    def _agent(self):
        agent = self.agent()
        if agent is None:
            raise StoreError(503, "ServiceUnavailable", "the node agent is not running (Docker is off)")
        return agent

    def _running_container(self, t: Target, container: str | None) -> tuple[dict, str]:
        pod = self.store.get("Pod", t.namespace or "default", t.name)
        if pod is None:
            raise StoreError.not_found("Pod", t.name)
        cid = self._agent().container_id(pod, container)
        if not cid:
            raise StoreError(400, "BadRequest", f'container not found or not running in pod "{t.name}"')
        return pod, cid

    async def exec(self, request: web.Request, t: Target) -> web.StreamResponse:
        """Run a command in a container, over any of the stream protocols (upgrade.py)."""
        from ..agent.exec import run_exec

        q = request.query
        cmd = q.getall("command", [])
        if not cmd:
            raise StoreError(400, "BadRequest", "you must specify at least one command for the container")
        _, cid = self._running_container(t, q.get("container"))
        tty, stdin = _flag(q, "tty"), _flag(q, "stdin")
        docker = self._agent().docker
        return await self._command(request, lambda io: run_exec(docker, cid, cmd, tty=tty, stdin=stdin, io=io))

    async def attach(self, request: web.Request, t: Target) -> web.StreamResponse:
        """Attach to a container's main process (its stdin only if the pod spec opens it)."""
        from ..agent.exec import run_attach

        q = request.query
        _, cid = self._running_container(t, q.get("container"))
        stdin = _flag(q, "stdin")
        docker = self._agent().docker
        return await self._command(request, lambda io: run_attach(docker, cid, stdin=stdin, io=io))

    async def _command(self, request: web.Request, run) -> web.StreamResponse:
        from .remotecommand import (
            SPDY_PROTOCOLS,
            WS_PROTOCOLS,
            SpdyChannels,
            WsChannels,
            expected_streams,
            linger,
            spdy_streams,
        )

        if upgrade_kind(request) == "websocket":
            ws = web.WebSocketResponse(protocols=WS_PROTOCOLS, max_msg_size=0)
            await ws.prepare(request)
            await run(WsChannels(ws))
            return ws
        session, _, resp = await accept_spdy(request, SPDY_PROTOCOLS)
        reading = asyncio.create_task(session.run())
        try:
            streams = await spdy_streams(session, expected_streams(request.query, tty=_flag(request.query, "tty")))
            await run(SpdyChannels(session, streams))
        except (StoreError, ConnectionError) as e:
            log.info("exec/attach over SPDY ended early: %s", e)
        finally:
            await linger(session, reading)
        return resp

    async def portforward(self, request: web.Request, t: Target) -> web.StreamResponse:
        from .portforward import PROTOCOL, serve_portforward, serve_spdy_portforward

        pod = self.store.get("Pod", t.namespace or "default", t.name)
        if pod is None:
            raise StoreError.not_found("Pod", t.name)
        phase = (pod.get("status") or {}).get("phase")
        if not pod["status"].get("podIP") or phase != "Running":
            raise StoreError(400, "BadRequest", f"unable to forward port because pod is not running. Current status={phase}")
        uid = pod["metadata"]["uid"]

        async def resolve(port: int) -> str:
            """The pod as it is now: the one the session began with, still running."""
            now = self.store.get("Pod", t.namespace or "default", t.name)
            ip = ((now or {}).get("status") or {}).get("podIP")
            if not now or now["metadata"]["uid"] != uid or now["status"].get("phase") != "Running" or not ip:
                raise LookupError(f"error forwarding port {port} to pod {t.name}, uid {uid}: "
                                  "the pod is gone or no longer running")
            return ip

        kind = upgrade_kind(request)
        protocols = ws_protocols(request) if kind == "websocket" else []
        if kind == "spdy" or any(p.startswith(SPDY_TUNNEL_PREFIX) for p in protocols):
            if kind == "spdy":
                session, _, resp = await accept_spdy(request, (PROTOCOL,))
                await serve_spdy_portforward(session, resolve)
                return resp
            session, ws, _ = await accept_spdy_tunnel(request, protocols, (PROTOCOL,))
            await serve_spdy_portforward(session, resolve)
            return ws
        ports = [p for p in request.query.get("ports", "").split(",") if p.strip()]
        if len(ports) != 1 or not ports[0].isdigit():
            raise StoreError(400, "BadRequest", "give exactly one numeric port in ?ports=")
        ws = web.WebSocketResponse(protocols=("v4.channel.k8s.io", "portforward.k8s.io"), max_msg_size=0)
        await ws.prepare(request)
        await serve_portforward(await resolve(int(ports[0])), int(ports[0]), ws)
        return ws

    async def logs(self, request: web.Request, t: Target) -> web.StreamResponse:
        q = request.query
        ns = t.namespace or "default"
        pod = self.store.get("Pod", ns, t.name)
        if pod is None:
            raise StoreError.not_found("Pod", t.name)
        tail = q.get("tailLines")
        stream = self._agent().logs(pod, container=q.get("container"),
                                   follow=q.get("follow") in ("1", "true"),
                                   tail=int(tail) if tail else None,
                                   timestamps=q.get("timestamps") in ("1", "true"),
                                   previous=q.get("previous") in ("1", "true"),
                                   since_seconds=int(q["sinceSeconds"]) if q.get("sinceSeconds") else None)
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        first = True
        try:
            async for chunk in _until_hangup(stream, request):
                if first:
                    await resp.prepare(request)
                    first = False
                await resp.write(chunk)
        except StoreError as e:
            if first:
                return fail(e.code, e.reason, e.message)
        except (ConnectionResetError, asyncio.CancelledError):
            return resp
        finally:
            await stream.aclose()  # stops the Docker reader, even for a container gone quiet
        if first:
            await resp.prepare(request)
        return resp


async def _until_hangup(stream, request: web.Request, check: float = 1.0):
    """The stream's items until it ends or the client hangs up. aiohttp does not cancel a
    handler when its client goes, and a quiet container sends nothing that would fail, so
    the connection is looked at whenever no item came for `check` seconds."""
    it = stream.__aiter__()
    nxt = asyncio.ensure_future(it.__anext__())
    try:
        while True:
            done, _ = await asyncio.wait({nxt}, timeout=check)
            if not done:
                if request.transport is None or request.transport.is_closing():
                    return
                continue
            try:
                item = nxt.result()
            except StopAsyncIteration:
                return
            yield item
            nxt = asyncio.ensure_future(it.__anext__())
    finally:
        if not nxt.done():
            nxt.cancel()  # runs the stream's own cleanup (Docker reader stopped) ...
            await asyncio.wait({nxt})  # ... before anyone closes the stream itself
