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


def send(sock: socket.socket, msg: dict, fds: tuple[int, ...] = ()) -> None:
    data = json.dumps(msg, separators=(",", ":")).encode()
    while len(data) > PACKET:
        sock.sendall(b"+" + data[:PACKET])
        data = data[PACKET:]
    socket.send_fds(sock, [b"." + data], list(fds)) if fds else sock.sendall(b"." + data)


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
