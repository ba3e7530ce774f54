"""A TCP splice between a client and a backend, as two asyncio Protocols.

Protocols (not streams) keep the per-chunk cost low: bytes go from one transport's
data_received straight into the other's write. Flow control: when one side's write
buffer is full (pause_writing), the other side stops reading until it drains. Half-close
is passed through (eof_received returns True and the peer gets write_eof).

The backend is chosen by a callback; a connect failure before any byte was exchanged
tries the next endpoint, so a pod that just went away costs a retry, not a failed request.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Callable

from .connect import open_connection

log = logging.getLogger("kubedeck.proxy")
CONNECT_TIMEOUT = 3.0


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
        if peer is not None and peer.transport is not None and peer.transport.can_write_eof():
            peer.transport.write_eof()
        else:
            self.eof = True
        return True

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
        if self.eof and backend.transport.can_write_eof():
            backend.transport.write_eof()
        self.transport.resume_reading()

    def connection_lost(self, exc) -> None:
        super().connection_lost(exc)
        self.on_done(self)
