"""The exec client of `kubedeck exec` and the TUI's shell: the v4 channel protocol over a
WebSocket (in the engine package, beside the HTTP and port-forward clients, so the TUI
uses it without importing the CLI).

With `-it` from a real terminal, the terminal goes raw for the session and its size is
sent on channel 4, so shells and editors inside the container work; the exit code of
the command becomes ours.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from contextlib import suppress

import aiohttp

from .paths import path_for
from .state import Connection

STDIN, STDOUT, STDERR, ERROR, RESIZE = range(5)


async def run_exec(url: str, token: str, ns: str, pod: str, cmd: list[str], *, container: str | None,
                   stdin: bool, tty: bool, ca: str | None = None, connection=None) -> int:
    """`connection` (a kubeconfig context's, engine/kubeconnect.py) replaces url/token/ca."""
    params = [("command", c) for c in cmd] + [("stdout", "true"), ("stderr", "true")]
    if container:
        params.append(("container", container))
    if stdin:
        params.append(("stdin", "true"))
    if tty:
        params.append(("tty", "true"))
    loop = asyncio.get_running_loop()
    code = 0
    conn = connection or Connection(url, token, ca)
    url = conn.url
    async with aiohttp.ClientSession(headers=conn.headers(),
                                     connector=aiohttp.TCPConnector(ssl=conn.ssl())) as session:
        try:
            ws = await session.ws_connect(url + path_for("Pod", ns, pod) + "/exec", params=params,
                                          protocols=("v4.channel.k8s.io",), max_msg_size=0)
        except aiohttp.WSServerHandshakeError as e:
            async with session.get(url + path_for("Pod", ns, pod) + "/exec", params=params) as r:
                try:
                    msg = (await r.json()).get("message", str(e))
                except (aiohttp.ContentTypeError, ValueError):
                    msg = str(e)
            print(f"error: {msg}", file=sys.stderr)
            return 1
        restore = _raw_terminal() if tty and sys.stdin.isatty() else None
        if tty:
            cols, rows = shutil.get_terminal_size()
            await ws.send_bytes(bytes([RESIZE]) + json.dumps({"Width": cols, "Height": rows}).encode())
        if stdin:
            fd = sys.stdin.fileno()

            sends: set[asyncio.Future] = set()  # kept referenced until sent

            def send(frame: bytes) -> None:
                task = asyncio.ensure_future(ws.send_bytes(frame))
                sends.add(task)
                task.add_done_callback(sends.discard)

            def on_input() -> None:
                data = os.read(fd, 65536)
                if not data:
                    loop.remove_reader(fd)
                    send(bytes([STDIN]))  # empty frame: EOF
                else:
                    send(bytes([STDIN]) + data)
            loop.add_reader(fd, on_input)
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                    continue
                ch, payload = msg.data[0], msg.data[1:]
                if ch == STDOUT:
                    sys.stdout.buffer.write(payload)
                    sys.stdout.buffer.flush()
                elif ch == STDERR:
                    sys.stderr.buffer.write(payload)
                    sys.stderr.buffer.flush()
                elif ch == ERROR:
                    status = json.loads(payload or b"{}")
                    if status.get("status") == "Failure":
                        causes = (status.get("details") or {}).get("causes") or []
                        code = next((int(c["message"]) for c in causes if c.get("reason") == "ExitCode"), 1)
        finally:
            if stdin:
                with suppress(ValueError, OSError):
                    loop.remove_reader(sys.stdin.fileno())
            if restore:
                restore()
    return code


def _raw_terminal():
    import termios
    import tty

    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    tty.setraw(fd)
    return lambda: termios.tcsetattr(fd, termios.TCSADRAIN, old)
