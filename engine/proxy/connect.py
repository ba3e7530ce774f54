"""Open a backend connection with a timeout, without ever cancelling the event loop's own
connect.

Why not `asyncio.wait_for(loop.create_connection(...))`: under uvloop, cancelling a
pending `create_connection` can close a descriptor twice (MagicStack/uvloop#738), which
later kills an unrelated connection or aborts the process. So the TCP handshake is done
here on a non-blocking socket we own (a writer callback plus a timer), and only a socket
that is already connected is handed to `create_connection(sock=...)`, which then
completes at once.
"""

from __future__ import annotations

import asyncio
import errno
import socket


async def open_connection(loop: asyncio.AbstractEventLoop, factory, target: tuple[str, int], timeout: float):
    """(transport, protocol) connected to target, or OSError / TimeoutError."""
    sock = socket.socket(socket.AF_INET6 if ":" in target[0] else socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = sock.connect_ex(target)
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, f"connect to {target[0]}:{target[1]}: {errno.errorcode.get(err, err)}")
        if err:
            await _connected(loop, sock, timeout, target)
    except BaseException:
        sock.close()
        raise
    return await loop.create_connection(factory, sock=sock)


async def _connected(loop, sock: socket.socket, timeout: float, target) -> None:
    done = loop.create_future()
    fd = sock.fileno()

    def settle(exc: BaseException | None) -> None:
        if not done.done():
            done.set_exception(exc) if exc else done.set_result(None)

    def writable() -> None:
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        settle(OSError(err, f"connect to {target[0]}:{target[1]}: {errno.errorcode.get(err, err)}") if err else None)

    timer = loop.call_later(timeout, settle, TimeoutError(f"connect to {target[0]}:{target[1]} timed out"))
    loop.add_writer(fd, writable)
    try:
        await done
    finally:  # also when our caller is cancelled: stop watching our own socket
        loop.remove_writer(fd)
        timer.cancel()
