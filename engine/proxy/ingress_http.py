"""The Ingress data path: an HTTP/1.1 reverse proxy as asyncio Protocols over `httptools`.

Design: llhttp parsers on both sides, no streams and no per-request tasks on the hot path
(a task only to open a new backend connection). A request's head is rebuilt once
(hop-by-hop headers dropped; X-Forwarded-For appended to, X-Forwarded-Proto/Host/Port and
X-Real-IP set) and written together with the buffered body bytes; bodies stream chunk by
chunk both ways (re-framed when chunked) with transport flow control: a full write
buffer on one side pauses reading on the other. Output to the client is gathered during
one parser pass and sent with one write.

Backends keep alive in the controller's per-endpoint pool. A pooled connection that dies
before answering is retried on a fresh connection when the request was small enough to
replay (<= 64 KiB). Pipelined requests queue per client connection and are answered in
order. `Connection: Upgrade` (WebSocket) forwards the head; after a 101 both sockets are
spliced raw, half-close passed through. An upstream body delimited by close is sent to
HTTP/1.1 clients chunked, so the client connection stays alive.

Own answers: 404 no rule, 503 no ready endpoint (or no such Service), 502 when every
endpoint refuses or the backend resets before answering, 400 on a malformed request
(llhttp, strict: CL with TE, two CLs, obs-fold, bare CR/LF) or a missing or repeated Host,
414/431/408 past the limits in ingress_request.py (`measure`: the line still open).
The routing decision itself is `IngressProxy.pick()` (ingress.py) over routing.py.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING

import httptools

from . import ingress_fast
from .connect import open_connection
from .ingress_request import HEAD_MAX, LINE_MAX, Refused, Req, local_answer
from .ingress_upstream import Upstream, _nodelay, connection_tokens, transfer_encoding
from .routing import HOSTS
from .splice import pass_eof

if TYPE_CHECKING:
    from .ingress import IngressProxy

REQ_DROP = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding",
                      b"upgrade", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host",
                      b"x-forwarded-port", b"x-real-ip"))
CONNECT_TIMEOUT, REPLAY_MAX = 3.0, 65536


#: how long a closing connection's late input is still read and dropped (nginx: 5 s)
LINGER_S = 2.0
LINGER_MAX = 64 * 1024


class Client(asyncio.Protocol):
    """One accepted connection: parses requests, routes them, relays the answers."""

    def __init__(self, proxy: IngressProxy, scheme: bytes, port: bytes) -> None:
        self.proxy, self.scheme, self.port = proxy, scheme, port
        self.transport = None
        self.parser = httptools.HttpRequestParser(self)
        self.out: list[bytes] = []
        self.queue: deque[Req] = deque()
        self.cur: Req | None = None
        self.hdrs: list = []
        self.url = b""
        self.tunnel: Upstream | None = None
        self.upgrading = self.closing = self.lingering = False
        self.lingered = 0  # bytes dropped while lingering
        self.got_eof = self.sent_fin = False  # half-close state once it is a tunnel (splice.pass_eof)
        self.idle = True  # the parser is between messages (the fast lane may take the next one)
        self.last = time.monotonic()
        self.head_since = 0.0  # when the head being read began (0: not in a head); ingress.sweep
        self.head_len = 0  # bytes of its header lines so far
        self.partial = 0  # bytes of its line still open (-1: began after another message in this read)
        self.fresh = True  # the current read began between two messages

    # ---- client side -------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        _nodelay(transport)
        peer = transport.get_extra_info("peername")
        self.ip = (peer[0] if peer else "").encode()
        # the X-Forwarded-* lines that are the same for every request on this connection
        self.xf = (b"X-Forwarded-For: %s\r\nX-Real-IP: %s\r\nX-Forwarded-Proto: %s\r\nX-Forwarded-Port: %s\r\n"
                   % (self.ip, self.ip, self.scheme, self.port))
        self.proxy.conns.add(self)

    def data_received(self, data: bytes) -> None:
        if self.lingering:  # answered and closing: a little of what still comes is dropped
            self.lingered += len(data)
            if self.lingered > LINGER_MAX:  # a sender that will not stop is cut off
                self.transport.close()
            return
        if self.tunnel is not None:
            self.last = time.monotonic()
            self.tunnel.transport.write(data)
            return
        if self.upgrading:
            self.cur.extra += data
            return
        if self.idle and not self.queue and not self.closing and ingress_fast.request(self, data):
            return  # `last` is set when the answer is done
        self.last = time.monotonic()
        self.fresh = self.idle
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as e:
            self.upgrading = True
            self.transport.pause_reading()
            if self.cur is not None and e.args:
                self.cur.extra = data[e.args[0]:]
        except httptools.HttpParserError as e:
            self.refuse(e.__context__.code if isinstance(e.__context__, Refused) else 400)
        else:
            if self.head_since:
                self.measure(data)
        self.flush()

    def measure(self, data: bytes) -> None:
        """After a read that left a head incomplete: refuse it once its open line is over
        LINE_MAX. A head that began after another message in the same read starts
        counting at the next read (where it began is not known), one read late."""
        if self.partial < 0:
            self.partial = 0
            return
        nl = data.rfind(b"\n")
        self.partial = self.partial + len(data) if nl < 0 else len(data) - nl - 1
        if self.partial > LINE_MAX:
            self.refuse(431)

    def refuse(self, code: int) -> None:
        """Answer `code` and close once it is written (the caller flushes)."""
        self.out.append(local_answer(code, False))
        self.closing = True

    def on_message_begin(self) -> None:
        self.idle = False
        self.head_since, self.head_len = self.last, 0
        self.partial = 0 if self.fresh else -1
        self.fresh = False

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > LINE_MAX:
            raise Refused(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        n = len(name) + len(value) + 2  # the line as "name: value"
        self.head_len += n + 2
        if n > LINE_MAX or self.head_len > HEAD_MAX:
            raise Refused(431)
        self.hdrs.append((name, value))

    def on_headers_complete(self) -> None:
        self.head_since = 0.0
        p, r = self.parser, Req()
        self.cur = r
        method, ip = p.get_method(), self.ip
        r.http11, r.keep_alive, r.upgrade = p.get_http_version() == "1.1", p.should_keep_alive(), p.should_upgrade()
        r.is_head, r.chunked = method == b"HEAD", False
        parts = [method, b" ", self.url, b" HTTP/1.1\r\n"]
        xff = host = upg = te = None
        named = connection_tokens(self.hdrs)
        for n, v in self.hdrs:
            ln = n.lower()
            if ln in REQ_DROP or ln in named:
                if ln == b"x-forwarded-for":
                    xff = v if xff is None else xff + b", " + v
                elif ln == b"transfer-encoding":
                    r.chunked, te = b"chunked" in v.lower(), v
                elif ln == b"upgrade":
                    upg = v
                continue
            if ln == b"host":
                if host is not None:  # RFC 9112 3.2: two Hosts are a 400, whatever they say
                    raise Refused(400)
                host = v
            parts += (n, b": ", v, b"\r\n")
        if host is None:
            if r.http11:  # RFC 9112 3.2: HTTP/1.1 without Host is a 400 (nginx too)
                raise Refused(400)
            host = b""
            parts.append(b"Host: localhost\r\n")
        parts += (b"X-Forwarded-For: ", ip if xff is None else xff + b", " + ip, b"\r\nX-Real-IP: ", ip,
                  b"\r\nX-Forwarded-Proto: ", self.scheme, b"\r\nX-Forwarded-Host: ", host,
                  b"\r\nX-Forwarded-Port: ", self.port, b"\r\n")
        if r.upgrade and upg:
            parts += (b"Connection: Upgrade\r\nUpgrade: ", upg, b"\r\n")
        if r.chunked:
            parts.append(transfer_encoding(te))
        parts.append(b"\r\n")
        r.head = b"".join(parts)
        url = self.url
        self.hdrs, self.url = [], b""  # for the next request on this connection
        if url[:1] != b"/":
            try:
                u = httptools.parse_url(url)
                url, host = u.path or b"/", u.host or host
            except httptools.HttpParserInvalidURLError:
                url = b"/"
        q = url.find(b"?")
        r.path = (url if q < 0 else url[:q]).decode("latin-1")
        r.host = HOSTS[host]
        self.queue.append(r)
        if len(self.queue) == 1:
            self.start(r)

    def on_body(self, data: bytes) -> None:
        r = self.cur
        if r.discard:
            return
        if r.chunked:
            self.send_body(r, b"%x\r\n" % len(data), data, b"\r\n")
        else:
            self.send_body(r, data)

    def on_message_complete(self) -> None:
        self.idle = True
        r = self.cur
        r.complete = True
        if r.chunked and not r.discard:
            self.send_body(r, b"0\r\n\r\n")
        if r.resp_done:
            self.finish(r)

    def send_body(self, r: Req, *chunks: bytes) -> None:
        if r.replay is not None:
            r.replay.extend(chunks)
            if sum(map(len, r.replay)) > REPLAY_MAX:
                r.replay = None
        up = r.up
        if up is not None and up.transport is not None:
            up.transport.writelines(chunks)
        else:
            r.body.extend(chunks)
            if len(r.body) > 64:
                self.transport.pause_reading()

    def pause_writing(self) -> None:
        r = self.queue[0] if self.queue else None
        up = self.tunnel or (r.up if r else None)
        if up is not None and up.transport is not None:
            up.transport.pause_reading()

    def resume_writing(self) -> None:
        r = self.queue[0] if self.queue else None
        up = self.tunnel or (r.up if r else None)
        if up is not None and up.transport is not None and not up.got_eof:
            up.transport.resume_reading()

    def eof_received(self):
        if self.tunnel is not None:
            return pass_eof(self, self.tunnel)
        return False

    def connection_lost(self, exc) -> None:
        self.proxy.conns.discard(self)
        self.closing = True
        for r in self.queue:
            if r.up is not None:
                r.up.client = None
                r.up.transport.close()
        self.queue.clear()
        if self.tunnel is not None:
            self.tunnel.client = None
            self.tunnel.transport.close()

    def flush(self) -> None:
        if self.out:
            self.transport.write(b"".join(self.out))
            self.out.clear()
        if self.closing and not self.transport.is_closing() and not self.lingering:
            self._linger()

    def _linger(self) -> None:
        """Close as nginx's lingering close does: the answer, a FIN, then whatever the
        client still sends (up to LINGER_MAX bytes) is read and dropped until it closes too
        or LINGER_S pass.
        Closing at once with unread bytes sends an RST, which can destroy the answer
        before the client reads it (a 408 to a client still sending its head)."""
        self.lingering = True
        if not self.transport.can_write_eof():  # TLS has no half-close
            self.transport.close()
            return
        self.transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_S, self.transport.close)

    # ---- routing and backends ----------------------------------------------------
    def start(self, r: Req) -> None:
        target, code = self.proxy.pick(r)
        if target is None:
            return self.local(r, code)
        up = self.proxy.pool_get(target)
        if up is not None:
            self.attach(r, up)
        else:
            self.proxy.spawn(self.connect(r, target))

    async def connect(self, r: Req, target) -> None:
        loop = asyncio.get_running_loop()
        while target is not None:
            r.tries.add(target)
            try:
                _, up = await open_connection(loop, lambda t=target: Upstream(self.proxy, t), target, CONNECT_TIMEOUT)
            except OSError:  # refused, unreachable or timed out
                target, _ = self.proxy.pick(r)
                continue
            if self.transport.is_closing() or not self.queue or self.queue[0] is not r:
                up.transport.close()
                return
            self.attach(r, up)
            return
        self.local(r, 502)
        self.flush()

    def attach(self, r: Req, up: Upstream) -> None:
        r.up, up.client, up.until_close, up.got = up, self, False, False
        up.transport.writelines([r.head, *r.body])
        if r.replay is not None:
            r.replay[:0] = [r.head]
        r.body = []
        if not self.upgrading:
            self.transport.resume_reading()

    def local(self, r: Req, code: int) -> None:
        if self.upgrading:
            r.keep_alive = False
        self.out.append(local_answer(code, r.keep_alive))
        r.discard = r.resp_done = True
        r.body = []
        if r.complete or not r.keep_alive:
            self.finish(r)
        else:
            self.transport.resume_reading()

    def upstream_lost(self, up: Upstream) -> None:
        r = self.queue[0] if self.queue else None
        if r is None or r.up is not up or r.resp_done:
            return
        r.up = None
        if r.status or up.got:  # answer already under way: cut the client off too
            self.closing = True
            self.transport.close()
        elif r.replay is not None and r.attempts < 4:
            # A pooled connection that died was stale: the same endpoint, on a new connection.
            # A new connection that died unanswered: the endpoint failed, try another one.
            r.attempts += 1
            target = up.target if up.reused else self.proxy.pick(r)[0]
            if target is None:
                self.local(r, 502)
            else:
                r.body, r.replay = r.replay[1:], []
                self.proxy.spawn(self.connect(r, target))
        else:
            self.local(r, 502)

    # ---- response side -----------------------------------------------------------
    def response_head(self, up: Upstream, code: int) -> None:
        r = self.queue[0]
        if 100 <= code < 200 and code != 101:
            self.out.append(b"HTTP/1.1 %d %s\r\n\r\n" % (code, up.reason))
            return
        r.status = code
        parts = up.head  # the backend's end-to-end headers, filtered by Upstream.on_header
        parts[0] = b"HTTP/1.1 %d %s\r\n" % (code, up.reason)
        if code == 101:
            parts += up.upgrade
        elif not (r.is_head or code in (204, 304) or up.length):
            up.until_close = not up.chunked
            if r.http11:
                r.resp_chunked = True
                parts.append(transfer_encoding(up.te if up.chunked else None))
            else:
                r.keep_alive = False
        if code != 101:
            if not r.keep_alive or self.upgrading:
                r.keep_alive = False
                parts.append(b"Connection: close\r\n")
            elif not r.http11:
                parts.append(b"Connection: keep-alive\r\n")
        parts.append(b"\r\n")
        self.out.append(b"".join(parts))
        if r.is_head:
            self.response_done(up, False)

    def response_body(self, data: bytes) -> None:
        r = self.queue[0]
        if r.resp_done:
            return
        if r.resp_chunked:
            self.out += (b"%x\r\n" % len(data), data, b"\r\n")
        else:
            self.out.append(data)

    def response_done(self, up: Upstream, reusable: bool) -> None:
        r = self.queue[0] if self.queue else None
        if r is None or r.up is not up or r.resp_done or not r.status or r.status == 101:
            return
        if r.resp_chunked:
            self.out.append(b"0\r\n\r\n")
        r.resp_done, r.up, up.client = True, None, None
        if reusable and r.complete and not up.closed:
            self.proxy.pool_put(up)
        else:
            up.transport.close()
        if r.complete or not r.keep_alive:
            self.finish(r)
        else:
            r.discard = True

    def finish(self, r: Req) -> None:
        if self.queue and self.queue[0] is r:
            self.queue.popleft()
        if not r.keep_alive:
            self.closing = True
            return
        self.last = time.monotonic()
        if self.queue:
            self.start(self.queue[0])

    def start_tunnel(self, up: Upstream, early: bytes) -> None:
        r = self.queue[0] if self.queue else None
        if r is None or r.status != 101 or not self.upgrading:
            up.transport.close()
            return
        self.flush()
        up.tunnel, self.tunnel = True, up
        if early:
            self.transport.write(early)
        if r.extra:
            up.transport.write(r.extra)
        self.queue.clear()
        self.transport.resume_reading()
