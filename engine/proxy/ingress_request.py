"""One client request in the Ingress data path, from its head to the end of its answer.

Shared by the general path (ingress_http.Client) and the fast lane (ingress_fast.py).
"""

from __future__ import annotations


class Req:
    """What the proxy knows of one request: the head to send upstream, its routing key
    (host, path), its body chunks not yet sent, and how far its answer has come."""

    __slots__ = ("head", "body", "complete", "chunked", "keep_alive", "http11", "is_head", "upgrade", "host",
                 "path", "up", "replay", "tries", "resp_done", "resp_chunked", "status", "discard", "extra", "fast", "attempts")

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
