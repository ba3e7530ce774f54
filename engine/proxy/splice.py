"""A TCP splice between a client and a backend, as two asyncio Protocols.

Protocols (not streams) keep the per-chunk cost low: bytes go from one transport's
data_received straight into the other's write. Flow control: when one side's write
buffer is full (pause_writing), the other side stops reading until it drains. Half-close
is passed through (`pass_eof`: the peer's write side is shut), and a connection is
closed once both directions have passed their FIN.

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
FIN_RETRY = 0.005  # seconds between looks at a write buffer a FIN waits behind


def _shutdown(transport) -> bool:
    """shutdown(SHUT_WR) on the transport's socket; False when the socket refuses.

    Not `transport.write_eof()`: under uvloop, a write_eof whose connection closes soon
    after corrupts the heap ("double free or corruption", reproduced with short HTTP/1.0
    connections through a NodePort). The socket is shut down through a duplicate
    descriptor instead."""
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


def send_fin(side) -> None:
    """Shut the write side of `side.transport` once everything queued on it is sent (the
    FIN never overtakes data), and close it when it has read its EOF too: both directions
    are then done, and its connection_lost closes the other side.

    A splice side has `transport`, `got_eof` (its transport read EOF) and `sent_fin`."""
    t = side.transport
    if side.sent_fin or t is None or t.is_closing():
        return
    if t.get_write_buffer_size():
        asyncio.get_running_loop().call_later(FIN_RETRY, send_fin, side)
        return
    side.sent_fin = True
    if not _shutdown(t) or side.got_eof:
        t.close()


def pass_eof(own, peer) -> bool:
    """eof_received of splice side `own`: pass the FIN on to `peer` (None while it is not
    connected; the caller passes it on later) and return what eof_received returns."""
    if own.got_eof:  # libuv reads the EOF again if a transport is resumed after it: once is enough
        return True
    own.got_eof = True
    if peer is not None and peer.transport is not None:
        send_fin(peer)
    return not own.sent_fin  # both directions done: let the transport close


class _Half(asyncio.Protocol):
    __slots__ = ("transport", "peer", "pending", "got_eof", "sent_fin", "closed")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: "_Half | None" = None
        self.pending: list[bytes] = []
        self.got_eof = self.sent_fin = self.closed = False

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
        else:  # no backend yet: hold this chunk, read no more (uvloop starts reading after connection_made)
            self.pending.append(data)
            self.transport.pause_reading()

    def eof_received(self):
        return pass_eof(self, self.peer)

    def connection_lost(self, exc) -> None:
        self.closed = True
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.close()

    def pause_writing(self) -> None:
        if self.peer and self.peer.transport:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer and self.peer.transport and not self.peer.got_eof:
            self.peer.transport.resume_reading()


class ClientSide(_Half):
    """Accepted connection; connects to a backend picked by `pick(tried)`, and tells
    `connected(backend)` (if given) once the splice to it is up."""

    def __init__(self, pick: Callable[[set, str | None], tuple[str, int] | None],
                 on_done: Callable[["ClientSide"], None],
                 connected: Callable[[tuple[str, int]], None] | None = None):
        super().__init__()
        self.pick = pick
        self.on_done = on_done
        self.connected = connected

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
        if self.connected is not None:
            self.connected(target)
        for chunk in self.pending:
            backend.transport.write(chunk)
        self.pending.clear()
        if self.got_eof:
            send_fin(backend)
        else:
            self.transport.resume_reading()

    def connection_lost(self, exc) -> None:
        super().connection_lost(exc)
        self.on_done(self)
