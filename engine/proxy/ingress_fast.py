"""The Ingress data path's fast lane: the common exchange without the HTTP parsers.

Most traffic is one small request with no body from an HTTP/1.1 keep-alive client,
answered with a Content-Length body. For that case the general path (ingress_http.py)
costs ~9 us of Python per request, most of it in the ~15 parser callbacks of two llhttp
passes. Here each head is checked by one regex match and forwarded nearly as it came:
the request gets its X-Forwarded-* lines appended, the response loses its
`Connection: keep-alive` line. Bodies are counted, not parsed.

Anything else falls through to the general path with nothing changed: a partial head,
pipelined requests, a body, HTTP/1.0, an absolute URL, a header the general path rewrites
(hop-by-hop, X-Forwarded-*, X-Real-IP, Content-Length, Transfer-Encoding, a second Host),
a head over LINE_MAX bytes (so no line in the lane can be over the limit), a bare LF, a HEAD request, 1xx/204/304 answers, a chunked or close-delimited answer, or
an answer with more bytes than its Content-Length. The answer's framing and hop-by-hop
headers are looked up with bytes.find on its lowered head (C speed), after one regex has
checked the head's syntax. Both lanes produce the same bytes on
the wire apart from header order and the reason phrase, which the fast lane passes on.
"""

from __future__ import annotations

import re
import time

from .ingress_request import LINE_MAX, Req
from .routing import HOSTS

# Header lines as the fast lane accepts them: "\r\nname:value", no NUL, no bare CR or LF,
# no space or tab in a name (so no folding either). Names are not checked further:
# whatever the lane does not act on, it passes on as it came, and the general path is
# taken for every header it must act on. Simple repeats keep the regex engine in its
# tight loops (a lazy quantifier or a per-line token class cost ~10k instructions).
_LINES = rb"((?:\r\n[^\r\n\0 \t:]+:[^\r\n\0]*)*)\r\n\r\n"
# A whole request head with Host first (as curl, browsers, wrk and Go send it) and nothing
# after the blank line. Groups: method, path, host, the other header lines.
_REQ = re.compile(rb"([A-Z]+) (/[^ ?\r\n\0]*)[^ \r\n\0]* HTTP/1\.1\r\n[Hh][Oo][Ss][Tt]:([^\r\n\0]*)" + _LINES)
# Request headers that send a request to the general path (matched in the lowered rest).
_REQ_SLOW = re.compile(rb"\r\n(?:host|connection|keep-alive|proxy-connection|te|trailer|transfer-encoding|upgrade|"
                       rb"content-length|x-forwarded-[a-z]+|x-real-ip)[ \t]*:")
# The head of an answer. Groups: status code, header lines.
_RESP = re.compile(rb"HTTP/1\.1 ([2-5][0-9][0-9]) [^\r\n\0]*" + _LINES)
# Answer headers that send an answer to the general path (in the lowered header lines,
# whose names _LINES has checked: no spaces, so "\r\nname:" finds exactly that header).
_RESP_SLOW = (b"\r\nkeep-alive:", b"\r\nproxy-connection:", b"\r\nte:", b"\r\ntrailer:", b"\r\ntransfer-encoding:",
              b"\r\nupgrade:")
ENABLED = True  # tests compare the two lanes by switching this off


def request(c, data: bytes) -> bool:
    """Take a whole request head from client `c` (ingress_http.Client) if it is a plain
    one; False (nothing done) otherwise.

    The hot case (route known, a pooled connection to the next endpoint) is written out
    here rather than through Client.start/pick/attach: every Python call saved is ~0.2 us
    on a path that runs once per request. Anything else goes through Client.start."""
    if not ENABLED or len(data) > LINE_MAX:  # a longer head may hold a line over the limit
        return False
    m = _REQ.fullmatch(data)
    if m is None:
        return False
    method, path, host, rest = m.groups()
    if method == b"HEAD" or rest and _REQ_SLOW.search(rest.lower()):
        return False
    host = host.strip(b" \t")
    r = c.cur = Req()
    r.head = b"%s%sX-Forwarded-Host: %s\r\n\r\n" % (data[:-2], c.xf, host)
    r.fast = r.complete = True
    c.queue.append(r)
    proxy = c.proxy
    b = proxy.fast_routes.get((host, path), proxy)
    eps = None if b is proxy or b is None else proxy._eps.get(b)
    target = None
    if eps:
        n = proxy._rr.get(b, 0)
        proxy._rr[b] = n + 1
        target = eps[n % len(eps)]
        up = proxy.pool_get(target)
        if up is not None:
            r.up, up.client, up.until_close, up.got = up, c, False, False
            up.transport.write(r.head)
            return True
    r.host, r.path = HOSTS[host], path.decode("latin-1")
    if target is None:  # route not learnt yet, no ready endpoint, or no route: the general path
        proxy.learn_fast(host, path, r)
        c.start(r)
        c.flush()
    else:  # no pooled connection to the endpoint round-robin chose: a new one to it
        proxy.spawn(c.connect(r, target))
    return True


def response(c, up, r, data: bytes) -> bool:
    """Take the start of an answer from `up` (ingress_upstream.Upstream) to the fast
    request `r` of client `c`; False (nothing done) when the general path must parse it."""
    m = _RESP.match(data)
    if m is None:
        return False
    code = int(m.group(1))
    if code == 204 or code == 304:
        return False
    # bytes.find runs in C: a few of them cost less than a second regex pass over the lines.
    # The two lookups stay inline (17, 13: the lengths of the searched names): a shared
    # helper measured ~0.2-0.3 us more per answer, half of what the lookups save.
    lines = m.group(2)
    low = lines.lower()
    at = low.find(b"\r\ncontent-length:")
    if at < 0 or low.find(b"\r\ncontent-length:", at + 17) >= 0:
        return False  # close-delimited, or two lengths
    eol = low.find(b"\r\n", at + 17)
    length = low[at + 17:eol if eol >= 0 else len(low)].strip(b" \t")
    if not length.isdigit():
        return False
    for name in _RESP_SLOW:
        if name in low:
            return False  # hop-by-hop or chunked: the general path
    keep = low.find(b"\r\nconnection:")
    if keep >= 0:
        eol = low.find(b"\r\n", keep + 13)
        eol = eol if eol >= 0 else len(low)
        if low[keep + 13:eol].strip(b" \t") != b"keep-alive" or low.find(b"\r\nconnection:", eol) >= 0:
            return False  # `close`, tokens to strip, or two Connection lines: the general path
    left = int(length) - (len(data) - m.end())
    if left < 0:
        return False
    if keep >= 0:  # drop the line: the client's connection is ours
        start = m.start(2)
        data = data[:start + keep] + data[start + eol:]
    r.status = code
    if c.out:
        c.out.append(data)
    else:
        c.transport.write(data)
    if left:
        up.left = left
    else:
        done(c, up, r)
    return True


def body(c, up, data: bytes) -> None:
    """The rest of a fast answer's Content-Length body."""
    n = len(data)
    if n > up.left:  # more than announced: pass what belongs to the answer, drop the connection
        c.out.append(data[:up.left])
        up.left = 0
        up.transport.close()
        c.response_done(up, False)
        return
    c.out.append(data)
    up.left -= n
    if not up.left:
        done(c, up, c.queue[0])


def done(c, up, r) -> None:
    """Client.response_done + finish for a fast exchange: `up` back to the pool, the
    client's next request (if pipelined meanwhile) started."""
    r.resp_done, r.up, up.client = True, None, None
    c.proxy.pool_put(up)
    q = c.queue
    q.popleft()
    c.last = time.monotonic()
    if q:
        c.start(q[0])
