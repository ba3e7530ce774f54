"""A TCP splice between a client and a backend, as two asyncio Protocols.

Protocols (not streams) keep the per-chunk cost low: bytes go from one transport's
data_received straight into the other's write. Flow control: when one side's write
buffer is full (pause_writing), the other side stops reading until it drains. Half-close
is passed through (eof_received returns True and the peer's write side is shut, see
`half_close`).

The backend is chosen by a callback; a connect failure before any byte was exchanged
tries the next endpoint, so a pod that just went away costs a retry, not a failed request.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Callable

from .connect import open_connection

log = logging.getLogger("kubedeck.proxy")
CONNECT_TIMEOUT = 3.0


def half_close(transport) -> bool:
    """Send FIN on `transport` and keep reading from it; False when that cannot be done
    cleanly now (the caller then closes the transport instead).

    Not `transport.write_eof()`: under uvloop, a write_eof whose connection closes soon
    after corrupts the heap ("double free or corruption", reproduced with short HTTP/1.0
    connections through a NodePort). The socket is shut down through a duplicate
    descriptor, and only when nothing is left in the transport's write buffer, so the
    FIN never overtakes data."""
    if transport is None or transport.is_closing() or transport.get_write_buffer_size():
        return False
    sock = transport.get_extra_info("socket")
    try:
        dup = socket.socket(fileno=os.dup(sock.fileno()))
    except (OSError, AttributeError):
        return False
    try:
        dup.shutdown(socket.SHUT_WR)
        return True
    except OSError:
        return False
    finally:
        dup.close()


class _Half(asyncio.Protocol):
    __slots__ = ("transport", "peer", "pending", "eof", "closed")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: "_Half | None" = None
        self.pending: list[bytes] = []
        self.eof = False
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.write(data)
        else:
            self.pending.append(data)

    def eof_received(self):
        peer = self.peer
        if peer is None or peer.transport is None:
            self.eof = True  # passed on once the backend is connected
            return True
        if half_close(peer.transport):
            return True
        peer.transport.close()  # data still queued for the peer: close after it is sent
        return False

    def connection_lost(self, exc) -> None:
        self.closed = True
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.close()

    def pause_writing(self) -> None:
        if self.peer and self.peer.transport:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer and self.peer.transport:
            self.peer.transport.resume_reading()


class ClientSide(_Half):
    """Accepted connection; connects to a backend picked by `pick(tried)`."""

    def __init__(self, pick: Callable[[set, str | None], tuple[str, int] | None],
                 on_done: Callable[["ClientSide"], None]):
        super().__init__()
        self.pick = pick
        self.on_done = on_done

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        transport.pause_reading()
        self.task = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        tried: set = set()
        peer = self.transport.get_extra_info("peername")
        client_ip = peer[0] if peer else None
        while True:
            target = self.pick(tried, client_ip)
            if target is None:
                self.transport.close()  # no ready endpoint: refuse, as kube-proxy's REJECT
                return
            tried.add(target)
            try:
                _, backend = await open_connection(loop, _Half, target, CONNECT_TIMEOUT)
                break
            except OSError:  # refused, unreachable or timed out (TimeoutError is an OSError)
                continue
        if self.closed:
            backend.transport.close()
            return
        backend.peer, self.peer = self, backend
        for chunk in self.pending:
            backend.transport.write(chunk)
        self.pending.clear()
        if self.eof and not half_close(backend.transport):
            backend.transport.close()
        self.transport.resume_reading()

    def connection_lost(self, exc) -> None:
        super().connection_lost(exc)
        self.on_done(self)
