"""Streaming subresources of pods: `log`, `exec` and `portforward`.

They need the node agent (container ids, Docker, log readers), which starts after the
API, so `agent` is a callable that returns it, or None while Docker is off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from ..store import Store, StoreError
from .paths import Target
from .status import fail


class Streams:
    def __init__(self, store: Store, agent: Callable[[], object | None]) -> None:
        self.store = store
        self.agent = agent

    def _agent(self):
        agent = self.agent()
        if agent is None:
            raise StoreError(503, "ServiceUnavailable", "the node agent is not running (Docker is off)")
        return agent

    async def exec(self, request: web.Request, t: Target) -> web.StreamResponse:
        """WebSocket exec in Kubernetes' v4 channel protocol (see agent/exec.py)."""
        from ..agent.exec import serve_exec

        q = request.query
        pod = self.store.get("Pod", t.namespace or "default", t.name)
        if pod is None:
            raise StoreError.not_found("Pod", t.name)
        cmd = q.getall("command", [])
        if not cmd:
            raise StoreError(400, "BadRequest", "you must specify at least one command for the container")
        cid = self._agent().container_id(pod, q.get("container"))
        if not cid:
            raise StoreError(400, "BadRequest", f'container not found or not running in pod "{t.name}"')
        ws = web.WebSocketResponse(protocols=("v4.channel.k8s.io", "channel.k8s.io"), max_msg_size=0)
        await ws.prepare(request)
        await serve_exec(self._agent().docker, cid, cmd, tty=q.get("tty") in ("1", "true"),
                         stdin=q.get("stdin") in ("1", "true"), ws=ws)
        return ws

    async def portforward(self, request: web.Request, t: Target) -> web.StreamResponse:
        from .portforward import serve_portforward

        pod = self.store.get("Pod", t.namespace or "default", t.name)
        if pod is None:
            raise StoreError.not_found("Pod", t.name)
        ip = (pod.get("status") or {}).get("podIP")
        if not ip or (pod["status"].get("phase") != "Running"):
            raise StoreError(400, "BadRequest", f'unable to forward port because pod is not running. Current status={pod["status"].get("phase")}')
        ports = [p for p in request.query.get("ports", "").split(",") if p.strip()]
        if len(ports) != 1 or not ports[0].isdigit():
            raise StoreError(400, "BadRequest", "give exactly one numeric port in ?ports=")
        ws = web.WebSocketResponse(protocols=("v4.channel.k8s.io", "portforward.k8s.io"), max_msg_size=0)
        await ws.prepare(request)
        await serve_portforward(ip, int(ports[0]), ws)
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
