"""Messages between the engine and its proxy worker: JSON over a SOCK_SEQPACKET pair.

SEQPACKET keeps message boundaries and carries descriptors (SCM_RIGHTS), so a listening
socket travels with the message that says what it is for. A message larger than one
packet is split: every packet starts with b"+" (more follows) or b"." (last one), and
descriptors ride on the last packet.
"""

from __future__ import annotations

import json
import socket

PACKET = 60_000


def pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for s in (a, b):
        for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            try:
                s.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
            except OSError:
                pass
    return a, b


def packets(msg: dict) -> list[bytes]:
    """The packets of one message; descriptors go with the last one."""
    data = json.dumps(msg, separators=(",", ":")).encode()
    out = []
    while len(data) > PACKET:
        out.append(b"+" + data[:PACKET])
        data = data[PACKET:]
    out.append(b"." + data)
    return out


def send_packet(sock: socket.socket, packet: bytes, fds: tuple[int, ...] = ()) -> None:
    """One packet, whole or not at all (SEQPACKET); BlockingIOError when the buffer is full."""
    if fds:
        socket.send_fds(sock, [packet], list(fds))
    else:
        sock.send(packet)


class Reader:
    """Reassembles messages from a non-blocking socket: `read()` returns the complete
    (message, fds) pairs available now, and None once the peer has gone."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.parts: list[bytes] = []

    def read(self) -> list[tuple[dict, list[int]]] | None:
        out = []
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self.sock, PACKET + 1, 16)
            except (BlockingIOError, InterruptedError):
                return out
            except OSError:
                return None
            if not data:
                return None
            self.parts.append(data[1:])
            if data[:1] == b".":
                out.append((json.loads(b"".join(self.parts)), fds))
                self.parts = []
