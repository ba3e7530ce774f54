"""Server side of port-forward: a WebSocket per connection, Kubernetes' channel style.

`GET .../pods/NAME/portforward?ports=8080` upgrades to a WebSocket (subprotocol
`v4.channel.k8s.io`). Channel 0 carries data, channel 1 errors; the first message on
each channel is the port number (2 bytes, little endian), as kubectl's WebSocket
port-forward expects. The engine connects to the pod's IP and splices bytes.
"""

from __future__ import annotations

import asyncio
import struct
from contextlib import suppress

from aiohttp import WSMsgType, web

DATA, ERROR = 0, 1


async def serve_portforward(ip: str, port: int, ws: web.WebSocketResponse) -> None:
    prefix = struct.pack("<H", port)
    await ws.send_bytes(bytes([DATA]) + prefix)
    await ws.send_bytes(bytes([ERROR]) + prefix)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), 5)
    except (OSError, asyncio.TimeoutError) as e:
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
