"""Server side of port-forward, in both of Kubernetes' shapes.

WebSocket channels (kubedeck's own client, the Python client): `GET
.../pods/NAME/portforward?ports=8080` upgrades to a WebSocket (subprotocol
`v4.channel.k8s.io`) for one connection. Channel 0 carries data, channel 1 errors; the
first message on each channel is the port number (2 bytes, little endian).

SPDY (kubectl: upgraded directly up to 1.30, tunnelled in a WebSocket from 1.31): one
session for the whole `kubectl port-forward`; per local connection kubectl opens an
`error` and a `data` stream with the same `requestID` and `port` headers. Once both are
there the engine looks the pod up again (a pod that is gone or was replaced is an error
on the error stream, as from the kubelet; kubectl then drops the session with "lost
connection to pod"), connects to its IP and splices the data stream. The pod's EOF is a
FIN on the data stream and then on the error stream, which kubectl waits for; the
client's FIN half-closes the pod connection; its RST ends the splice.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from contextlib import suppress

from aiohttp import WSMsgType, web

from .spdy_session import CHUNK, Session, Stream

DATA, ERROR = 0, 1
PROTOCOL = "portforward.k8s.io"


async def serve_portforward(ip: str, port: int, ws: web.WebSocketResponse) -> None:
    prefix = struct.pack("<H", port)
    await ws.send_bytes(bytes([DATA]) + prefix)
    await ws.send_bytes(bytes([ERROR]) + prefix)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), 5)
    except (TimeoutError, OSError) as e:
        await ws.send_bytes(bytes([ERROR]) + f"error forwarding port {port} to pod: {e}".encode())
        await ws.close()
        return

    async def pod_to_ws() -> None:
        while data := await reader.read(65536):
            await ws.send_bytes(bytes([DATA]) + data)

    async def ws_to_pod() -> None:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY and msg.data[:1] == bytes([DATA]) and len(msg.data) > 1:
                writer.write(msg.data[1:])
                await writer.drain()
        with suppress(OSError):
            writer.write_eof()

    tasks = [asyncio.create_task(pod_to_ws()), asyncio.create_task(ws_to_pod())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        with suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        await ws.close()


async def serve_spdy_portforward(session: Session, resolve: Callable[[int], Awaitable[str]]) -> None:
    """Serve every forwarded connection of one SPDY session until the client leaves.
    `resolve(port)` gives the pod IP to connect to, or raises LookupError (its message
    goes to the client)."""
    run = asyncio.create_task(session.run())
    pending: dict[str, dict[str, Stream]] = {}
    forwards: set[asyncio.Task] = set()
    try:
        while (s := await session.accept()) is not None:
            kind = (s.header("streamType") or "").lower()
            rid = s.header("requestID")
            if rid is None:  # clients before requestID: the data stream follows its error stream
                rid = str(s.id if kind == "error" else s.id - 2)
            pair = pending.setdefault(rid, {})
            if kind not in ("error", "data") or kind in pair:
                await s.reset()
                continue
            pair[kind] = s
            if len(pair) == 2:
                del pending[rid]
                task = asyncio.create_task(_forward(pair["error"], pair["data"], resolve))
                forwards.add(task)
                task.add_done_callback(forwards.discard)
    finally:
        for t in [*forwards, run]:
            t.cancel()
        await asyncio.gather(*forwards, run, return_exceptions=True)
        session.close()


async def _forward(err: Stream, data: Stream, resolve: Callable[[int], Awaitable[str]]) -> None:
    port_s = data.header("port") or ""
    try:
        if not port_s.isdigit() or not 0 < int(port_s) < 65536:
            raise LookupError(f"invalid port {port_s!r}")
        port = int(port_s)
        ip = await resolve(port)
        reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), 5)
    except (TimeoutError, LookupError, OSError) as e:
        with suppress(ConnectionError):
            await err.write(str(e or "connection timed out").encode() if isinstance(e, LookupError)
                            else f"error forwarding port {port_s} to pod: {e or 'connection timed out'}".encode())
        await err.close()
        await data.close()
        return

    async def up() -> None:
        while chunk := await data.read():
            writer.write(chunk)
            await writer.drain()
        if not data.was_reset:
            with suppress(OSError):
                writer.write_eof()

    async def down() -> None:
        while chunk := await reader.read(CHUNK):
            await data.write(chunk)
        await data.close()
        await err.close()
    tasks = {asyncio.create_task(up()), asyncio.create_task(down())}
    try:
        while tasks:
            done, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if any(t.exception() for t in done) or data.was_reset:
                break  # a broken side or the client's RST: nothing more can pass
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        await err.close()
        await data.close()
