"""`exec` and `attach` against Docker, behind any of Kubernetes' stream protocols.

The protocol side (WebSocket channels v4/v5, SPDY streams: see api/remotecommand.py)
is a `Channels` object: `output(channel, bytes)` for stdout/stderr, `inputs()` yielding
`(STDIN, bytes)`, `(STDIN, None)` when the client closed its stdin, and `(RESIZE, json)`,
ending when the client is gone, and `finish(status)` for the error channel's Status.
On the Docker side the exec's (or attach's) raw socket is multiplexed (8-byte frame
headers) unless the process has a TTY. The final Status carries the exit code as the
`ExitCode` cause of a `NonZeroExitCode` failure, which is what kubectl turns into its
own exit code.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from typing import Protocol

STDIN, STDOUT, STDERR, ERROR, RESIZE = range(5)


class Channels(Protocol):
    async def output(self, channel: int, data: bytes) -> None: ...
    def inputs(self) -> AsyncIterator[tuple[int, bytes | None]]: ...
    async def finish(self, status: dict) -> None: ...


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


async def run_exec(docker_io, cid: str, cmd: list[str], *, tty: bool, stdin: bool, io: Channels) -> None:
    api = docker_io.api

    def start():
        ex = api.exec_create(cid, cmd, stdin=stdin, tty=tty, stdout=True, stderr=True)
        return ex["Id"], api.exec_start(ex["Id"], socket=True, tty=tty)
    exec_id, raw = await docker_io.call(start)

    async def resize(width: int, height: int) -> None:
        await docker_io.call(api.exec_resize, exec_id, height=height, width=width)
    if await _pump(raw, tty=tty, stdin=stdin, io=io, resize=resize):
        await io.finish(exit_status(await _exit_code(docker_io, exec_id)))


async def run_attach(docker_io, cid: str, *, stdin: bool, io: Channels) -> None:
    """Attach to the container's main process; ends when it exits or the client leaves."""
    api = docker_io.api
    tty = (await docker_io.call(api.inspect_container, cid))["Config"]["Tty"]
    params = {"stdin": int(stdin), "stdout": 1, "stderr": 1, "stream": 1}
    raw = await docker_io.call(api.attach_socket, cid, params=params)

    async def resize(width: int, height: int) -> None:
        await docker_io.call(api.resize, cid, height=height, width=width)
    if await _pump(raw, tty=tty, stdin=stdin, io=io, resize=resize):
        await io.finish(exit_status(0))


async def _exit_code(docker_io, exec_id: str) -> int:
    """Docker can report the exec as running for a moment after its output ended."""
    for _ in range(50):
        info = await docker_io.call(docker_io.api.exec_inspect, exec_id)
        if not info.get("Running") and info.get("ExitCode") is not None:
            return int(info["ExitCode"])
        await asyncio.sleep(0.05)
    return int(info.get("ExitCode") or 0)


async def _pump(raw, *, tty: bool, stdin: bool, io: Channels,
                resize: Callable[[int, int], Awaitable[None]]) -> bool:
    """Copy both ways until the process's output ends (True) or the client leaves (False)."""
    loop = asyncio.get_running_loop()
    sock: socket.socket = getattr(raw, "_sock", raw)
    sock.setblocking(False)

    async def pump_out() -> None:
        buf = bytearray()
        while data := await loop.sock_recv(sock, 65536):
            if tty:
                await io.output(STDOUT, data)
                continue
            buf += data
            for stream, payload in demux(buf):
                await io.output(STDERR if stream == 2 else STDOUT, payload)

    async def pump_in() -> None:
        async for ch, payload in io.inputs():
            if ch == STDIN and stdin:
                if payload is None:
                    with suppress(OSError):
                        sock.shutdown(socket.SHUT_WR)
                else:
                    await loop.sock_sendall(sock, payload)
            elif ch == RESIZE and tty and payload:
                with suppress(ValueError):
                    size = json.loads(payload)
                    with suppress(Exception):
                        await resize(int(size.get("Width") or 80), int(size.get("Height") or 24))

    out, inp = asyncio.create_task(pump_out()), asyncio.create_task(pump_in())
    try:
        await asyncio.wait({out, inp}, return_when=asyncio.FIRST_COMPLETED)
        finished = out.done()
        if finished:
            with suppress(OSError, ConnectionError):
                out.result()
    finally:
        for t in (out, inp):
            t.cancel()
        await asyncio.gather(out, inp, return_exceptions=True)
        sock.close()
    return finished
