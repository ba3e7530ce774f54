"""The client side of exec/attach as `agent.exec.Channels`, for each wire protocol.

- WebSocket `v4.channel.k8s.io` / `v5.channel.k8s.io`: binary messages whose first byte
  is the channel (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize). v5 adds a close
  signal, `[255, channel]`: kubectl >= 1.30 closes stdin with it. kubedeck's own client
  speaks v4 and closes stdin with an empty channel-0 message.
- SPDY/3.1 (kubectl <= 1.29): the client opens one stream per channel, its kind in the
  `streamType` header. As the kubelet does, the server waits for the streams the query
  asked for (error always; stdin, stdout, stderr unless tty, resize with tty); resize
  carries a series of JSON objects; a FIN on stdin closes it. After the Status on the
  error stream every stream gets its FIN, and the client, having read them, closes the
  connection (closing it first could lose frames still queued in spdystream).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import suppress

from aiohttp import WSMsgType, web

from ..agent.exec import ERROR, RESIZE, STDERR, STDIN
from ..store import StoreError
from .spdy_session import Session, Stream

CLOSE_SIGNAL = 255
WS_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
SPDY_PROTOCOLS = ("v4.channel.k8s.io",)


class WsChannels:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.v5 = ws.ws_protocol == "v5.channel.k8s.io"

    async def output(self, channel: int, data: bytes) -> None:
        await self.ws.send_bytes(bytes([channel]) + data)

    async def inputs(self) -> AsyncIterator[tuple[int, bytes | None]]:
        async for msg in self.ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            ch, payload = msg.data[0], msg.data[1:]
            if ch == CLOSE_SIGNAL and self.v5:
                if payload[:1] == bytes([STDIN]):
                    yield STDIN, None
            elif ch == STDIN:
                if payload:
                    yield STDIN, payload
                elif not self.v5:  # kubedeck's v4 client: an empty frame closes stdin
                    yield STDIN, None
            elif ch == RESIZE:
                yield RESIZE, payload

    async def finish(self, status: dict) -> None:
        with suppress(ConnectionError):
            await self.ws.send_bytes(bytes([ERROR]) + json.dumps(status).encode())
        await self.ws.close()


class SpdyChannels:
    def __init__(self, session: Session, streams: dict[str, Stream]) -> None:
        self.session, self.streams = session, streams

    async def output(self, channel: int, data: bytes) -> None:
        s = self.streams.get("stderr" if channel == STDERR else "stdout") or self.streams.get("stdout")
        if s is not None:
            await s.write(data)

    async def inputs(self) -> AsyncIterator[tuple[int, bytes | None]]:
        queue: asyncio.Queue[tuple[int, bytes | None] | None] = asyncio.Queue(maxsize=4)

        async def stdin(s: Stream) -> None:
            while data := await s.read():
                await queue.put((STDIN, data))
            if not s.was_reset:
                await queue.put((STDIN, None))

        async def resize(s: Stream) -> None:
            buf, dec = "", json.JSONDecoder()
            while data := await s.read():
                buf += data.decode(errors="replace")
                while buf.strip():
                    try:
                        obj, end = dec.raw_decode(buf.lstrip())
                    except ValueError:
                        break  # an object split across frames
                    buf = buf.lstrip()[end:]
                    await queue.put((RESIZE, json.dumps(obj).encode()))

        async def gone() -> None:
            await self.session.ended.wait()
            await queue.put(None)
        tasks = [asyncio.create_task(gone())]
        if "stdin" in self.streams:
            tasks.append(asyncio.create_task(stdin(self.streams["stdin"])))
        if "resize" in self.streams:
            tasks.append(asyncio.create_task(resize(self.streams["resize"])))
        try:
            while (item := await queue.get()) is not None:
                yield item
        finally:
            for t in tasks:
                t.cancel()

    async def finish(self, status: dict) -> None:
        with suppress(ConnectionError):
            await self.streams["error"].write(json.dumps(status).encode())
        for s in self.streams.values():
            with suppress(ConnectionError):
                await s.close()


def expected_streams(q, *, tty: bool) -> set[str]:
    """The streams the kubelet waits for, from the request's query (stderr is off with a tty)."""
    def on(name: str) -> bool:
        return q.get(name) in ("1", "true")
    want = {"error"}
    want |= {n for n in ("stdin", "stdout") if on(n)}
    if on("stderr") and not tty:
        want.add("stderr")
    if tty:
        want.add("resize")
    return want


async def spdy_streams(session: Session, want: set[str], *, timeout: float = 30.0) -> dict[str, Stream]:
    """Collect the client's streams by `streamType` (400 if they do not all come)."""
    got: dict[str, Stream] = {}

    async def collect() -> None:
        while not want <= got.keys():
            s = await session.accept()
            if s is None:
                raise ConnectionResetError("client closed the connection")
            kind = (s.header("streamType") or "").lower()
            if kind in want and kind not in got:
                got[kind] = s
            else:
                await s.reset()
    try:
        await asyncio.wait_for(collect(), timeout)
    except TimeoutError:
        raise StoreError(400, "BadRequest", f"timed out waiting for client streams {sorted(want - got.keys())}") from None
    return got


async def linger(session: Session, run: asyncio.Task, *, timeout: float = 10.0) -> None:
    """After the last frame: wait for the client to hang up, then close."""
    with suppress(asyncio.TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(run), timeout)
    session.close()
    run.cancel()
    with suppress(asyncio.CancelledError):
        await run
