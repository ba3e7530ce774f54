"""`exec` into a container over a WebSocket, in Kubernetes' channel protocol.

The API upgrades `.../pods/NAME/exec?command=...` to a WebSocket with subprotocol
`v4.channel.k8s.io`: every binary message starts with a channel byte (0 stdin,
1 stdout, 2 stderr, 3 error/status, 4 resize). On the Docker side the exec's raw
socket is multiplexed (8-byte frame headers) unless a TTY is allocated. The final
channel-3 message is a Status carrying the exit code, as kubectl expects.
"""

from __future__ import annotations

import asyncio
import json
import socket
from contextlib import suppress

from aiohttp import WSMsgType, web

STDIN, STDOUT, STDERR, ERROR, RESIZE = range(5)


def exit_status(code: int) -> dict:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
            "message": f"command terminated with non-zero exit code: {code}",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def demux(buf: bytearray) -> list[tuple[int, bytes]]:
    """Split complete Docker stream frames off the front of buf (mutates it)."""
    out = []
    while len(buf) >= 8:
        size = int.from_bytes(buf[4:8], "big")
        if len(buf) < 8 + size:
            break
        out.append((buf[0], bytes(buf[8:8 + size])))
        del buf[:8 + size]
    return out


async def serve_exec(docker_io, cid: str, cmd: list[str], *, tty: bool, stdin: bool,
                     ws: web.WebSocketResponse) -> None:
    api = docker_io.api
    loop = asyncio.get_running_loop()

    def start():
        ex = api.exec_create(cid, cmd, stdin=stdin, tty=tty, stdout=True, stderr=True)
        raw = api.exec_start(ex["Id"], socket=True, tty=tty)
        return ex["Id"], raw
    exec_id, raw = await docker_io.call(start)
    sock: socket.socket = getattr(raw, "_sock", raw)
    sock.setblocking(False)

    async def pump_out() -> None:
        buf = bytearray()
        while True:
            data = await loop.sock_recv(sock, 65536)
            if not data:
                return
            if tty:
                await ws.send_bytes(bytes([STDOUT]) + data)
                continue
            buf += data
            for stream, payload in demux(buf):
                await ws.send_bytes(bytes([STDERR if stream == 2 else STDOUT]) + payload)

    async def pump_in() -> None:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            ch, payload = msg.data[0], msg.data[1:]
            if ch == STDIN and stdin:
                if payload:
                    await loop.sock_sendall(sock, payload)
                else:  # an empty stdin frame: the client closed its stdin
                    with suppress(OSError):
                        sock.shutdown(socket.SHUT_WR)
            elif ch == RESIZE and tty:
                size = json.loads(payload or b"{}")
                with suppress(Exception):
                    await docker_io.call(api.exec_resize, exec_id, height=size.get("Height"), width=size.get("Width"))

    out = asyncio.create_task(pump_out())
    inp = asyncio.create_task(pump_in())
    try:
        await out
    finally:
        inp.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await inp
        sock.close()
    code = (await docker_io.call(api.exec_inspect, exec_id)).get("ExitCode") or 0
    await ws.send_bytes(bytes([ERROR]) + json.dumps(exit_status(code)).encode())
    await ws.close()
