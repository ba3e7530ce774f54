"""One client request in the Ingress data path, from its head to the end of its answer,
and the limits a client's head must keep to.

Shared by the general path (ingress_http.Client) and the fast lane (ingress_fast.py).

The limits are nginx's defaults (`large_client_header_buffers 4 8k`,
`client_header_timeout 60s`): a request line or a header line longer than 8 KiB, or
header lines over 32 KiB together, are refused before the rest is read, so a hostile
head costs the proxy a few KiB, not what the client chose to send. nginx answers an
overlong request line with 414 and overlong headers with 400 "Request Header Or Cookie
Too Large"; we use 431 (RFC 6585) for the headers, as Node and Go do. A head that is not
complete HEADER_TIMEOUT seconds after its first byte gets 408. Each answer closes the
connection.
"""

from __future__ import annotations

LINE_MAX = 8192  # bytes in the request line or in one header line (nginx: one 8k buffer)
HEAD_MAX = 32768  # bytes in all header lines of one request (nginx: 4 such buffers)
HEADER_TIMEOUT = 60.0  # seconds from a head's first byte to its end (nginx client_header_timeout)
REASONS = {400: b"Bad Request", 404: b"Not Found", 408: b"Request Timeout", 414: b"URI Too Long",
           431: b"Request Header Fields Too Large", 502: b"Bad Gateway", 503: b"Service Unavailable"}


class Refused(Exception):
    """Raised from a parser callback: the request is answered with `code` and the
    connection closed (httptools passes it on as the __context__ of its error)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def local_answer(code: int, keep_alive: bool) -> bytes:
    """The proxy's own answer: status line, a one-line text body."""
    body = b"%d %s\n" % (code, REASONS[code])
    return (b"HTTP/1.1 %d %s\r\nServer: kubedeck-ingress\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            b"%s\r\n%s" % (code, REASONS[code], len(body), b"" if keep_alive else b"Connection: close\r\n", body))


class Req:
    """What the proxy knows of one request: the head to send upstream, its routing key
    (host, path), its body chunks not yet sent, and how far its answer has come."""

    __slots__ = ("attempts", "body", "chunked", "complete", "discard", "extra", "fast", "head", "host", "http11",
                 "is_head", "keep_alive", "path", "replay", "resp_chunked", "resp_done", "status", "tries", "up",
                 "upgrade")

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.complete = self.resp_done = self.resp_chunked = self.discard = self.fast = False
        self.upgrade = self.is_head = self.chunked = False
        self.http11 = self.keep_alive = True
        self.up = None  # the ingress_upstream.Upstream serving it
        self.replay: list[bytes] | None = []  # head + body while small enough to resend
        self.tries: set = set()  # endpoints it was sent to on a new connection
        self.attempts = 0  # times it was sent again after a connection died unanswered
        self.status = 0
        self.extra = b""  # bytes after an Upgrade request's head
