"""Backend side of the Ingress data path: one keep-alive connection to a pod.

An `Upstream` is an asyncio Protocol with an httptools response parser. It serves one
`Client` (ingress_http.py) request at a time and calls back into it: response head,
body chunks, message complete (with whether the connection may be reused), loss. Idle
ones wait in the controller's pool (ingress.py); an idle connection that sends bytes is
broken and is closed. After a 101 it becomes one half of a raw splice (`tunnel`), and
a full write buffer on either side pauses reading on the other.
"""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING

import httptools

from . import ingress_fast
from .routing import BoundedMemo
from .splice import pass_eof

if TYPE_CHECKING:
    from .ingress import IngressProxy

HOP_BY_HOP = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
                        b"transfer-encoding", b"upgrade"))
LOWER = BoundedMemo(bytes.lower)  # header name -> lower case
NONE, KEEP = frozenset(), frozenset((b"upgrade", b"keep-alive", b"close", b""))


def connection_tokens(headers: list[tuple[bytes, bytes]]) -> frozenset | set:
    """Header names listed in Connection (hop-by-hop by declaration, RFC 9110 7.6.1),
    which a proxy must not forward; Upgrade stays, it is handled on its own."""
    named = NONE
    for n, v in headers:
        if n.lower() == b"connection":
            named = named | {t.strip().lower() for t in v.split(b",")}
    return named - KEEP if named else named


def transfer_encoding(value: bytes | None) -> bytes:
    """The Transfer-Encoding line for a body the proxy frames as chunked: codings other
    than `chunked` (gzip, ...) belong to the body and are passed on (RFC 9112 6.1)."""
    codings = [t.strip() for t in value.split(b",") if t.strip().lower() != b"chunked"] if value else []
    return b"Transfer-Encoding: " + b", ".join([*codings, b"chunked"]) + b"\r\n"


def _nodelay(transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class Upstream(asyncio.Protocol):
    """One keep-alive connection to a pod; serves one Client request at a time."""

    __slots__ = ("chunked", "client", "closed", "got", "got_eof", "head", "idle", "idle_since", "left", "length",
                 "parser", "proxy", "reason", "reused", "sent_fin", "target", "te", "transport", "tunnel",
                 "until_close", "upgrade")

    def __init__(self, proxy: IngressProxy, target) -> None:
        self.proxy, self.target = proxy, target
        self.transport = self.client = None
        self.parser = httptools.HttpResponseParser(self)
        # CGI scripts (busybox httpd) end header lines with a bare LF; nginx accepts that too
        self.parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)
        self.reason, self.head, self.upgrade = b"", [b""], []
        self.length = self.chunked = False
        self.te = None
        self.got = self.closed = self.tunnel = self.until_close = False
        self.got_eof = self.sent_fin = False  # half-close state once it is a tunnel (splice.pass_eof)
        self.idle_since = 0.0
        self.left = 0  # body bytes still to come of a fast-lane answer (ingress_fast.py)
        self.idle = True  # the parser is between messages
        self.reused = False  # has been in the pool (so a loss may just mean it went stale)

    def connection_made(self, transport) -> None:
        self.transport = transport
        _nodelay(transport)

    def data_received(self, data: bytes) -> None:
        c = self.client
        if self.tunnel:
            c.transport.write(data)
            return
        if c is None:  # a pooled connection must stay silent
            self.transport.close()
            return
        self.got = True
        if self.left:
            ingress_fast.body(c, self, data)
            c.flush()
            return
        if self.idle and c.queue:
            r = c.queue[0]
            if r.fast and not r.status and r.up is self and ingress_fast.response(c, self, r, data):
                if c.out or c.closing:
                    c.flush()
                return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as e:
            c.start_tunnel(self, data[e.args[0]:] if e.args else b"")
        except httptools.HttpParserError:
            self.transport.close()
        c.flush()

    def on_message_begin(self) -> None:
        # head[0] is left for the status line; Client.response_head completes the head
        self.idle = False
        self.reason, self.head, self.upgrade = b"", [b""], []
        self.length = self.chunked = False
        self.te = None

    def on_status(self, s: bytes) -> None:
        self.reason += s

    def on_header(self, name: bytes, value: bytes) -> None:
        """Filter as the header arrives (one pass): hop-by-hop headers are dropped (kept
        aside for a 101), framing is noted."""
        low = LOWER[name]
        if low in HOP_BY_HOP:
            if low == b"transfer-encoding":
                self.chunked, self.te = b"chunked" in value.lower(), value
            elif low in (b"upgrade", b"connection"):
                self.upgrade += (name, b": ", value, b"\r\n")
            return
        if low == b"content-length":
            self.length = True
        self.head += (name, b": ", value, b"\r\n")

    def on_headers_complete(self) -> None:
        if self.upgrade:  # Upgrade and Connection lines: drop the headers Connection names
            up = self.upgrade
            named = connection_tokens([(up[i], up[i + 2]) for i in range(0, len(up), 4)])
            if named:
                h = self.head
                self.head = [h[0], *(x for i in range(1, len(h), 4) if LOWER[h[i]] not in named for x in h[i:i + 4])]
        self.client.response_head(self, self.parser.get_status_code())

    def on_body(self, data: bytes) -> None:
        self.client.response_body(data)

    def on_message_complete(self) -> None:
        self.idle = True
        if self.client is not None:
            self.client.response_done(self, self.parser.should_keep_alive())

    def pause_writing(self) -> None:
        if self.client is not None:
            self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.client is not None and not self.client.got_eof:
            self.client.transport.resume_reading()

    def eof_received(self):
        if self.tunnel and self.client is not None:
            return pass_eof(self, self.client)
        return False

    def connection_lost(self, exc) -> None:
        self.closed = True
        c = self.client
        if c is not None:
            if self.until_close and not self.tunnel:
                c.response_done(self, False)
            else:
                c.upstream_lost(self)
            c.flush()
