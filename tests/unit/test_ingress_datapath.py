"""The Ingress data path (ingress_http.Client, ingress_upstream.Upstream, ingress_fast)
over real localhost sockets, without Docker: an asyncio backend that records what it
receives and answers with scripted bytes, the proxy in this process, a raw client.

Every exchange runs twice, with the fast lane on and off, and both runs must put the
same request on the backend's wire and the same answer on the client's (header order
aside), so the fast lane is checked against the general path it shortcuts."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from kubedeck.engine.proxy import ingress_fast
from kubedeck.engine.proxy.ingress import IngressProxy
from kubedeck.engine.proxy.ingress_http import Client
from kubedeck.engine.proxy.worker import Mirror

OK = b"HTTP/1.1 200 OK\r\nServer: test\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello"


class Backend:
    """Answers each request head (and its Content-Length body) with the next scripted
    answer: a list of byte chunks written one at a time, or "close" to hang up unanswered."""

    def __init__(self, answers: list) -> None:
        self.answers = list(answers)
        self.seen: list[bytes] = []
        self.connections = 0

    async def handle(self, reader, writer) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                self.seen.append(head + body)
                answer = self.answers.pop(0)
                if answer == "close":
                    break
                for chunk in answer:
                    writer.write(chunk)
                    await writer.drain()
                    await asyncio.sleep(0.005)  # pace the chunks so they arrive as separate reads
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def replica(port: int, hosts=("app.test",), more_ports=()) -> Mirror:
    """The worker's mirror of the store, holding a Service, its Endpoints and an Ingress."""
    c = Mirror()
    for o in [
        {"kind": "Service", "metadata": {"name": "web", "namespace": "default"},
         "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}], "selector": {"app": "web"}}},
        {"kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
         "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "http", "port": p}]}
                     for p in (port, *more_ports)]},
        {"kind": "Service", "metadata": {"name": "empty", "namespace": "default"},
         "spec": {"ports": [{"port": 80}], "selector": {"app": "none"}}},
        {"kind": "IngressClass", "metadata": {"name": "kubedeck", "annotations": {
            "ingressclass.kubernetes.io/is-default-class": "true"}}, "spec": {"controller": "kubedeck.io/ingress"}},
        {"kind": "Ingress", "metadata": {"name": "web", "namespace": "default"}, "spec": {"rules": [
            *({"host": h, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                              "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}
              for h in hosts),
            {"host": "empty.test", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                                       "backend": {"service": {"name": "empty", "port": {"number": 80}}}}]}},
        ]}},
    ]:
        c.put(o)
    return c


async def read_answer(reader, head_request: bool = False) -> tuple[int, dict, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    code = int(lines[0].split()[1])
    headers: dict[bytes, list[bytes]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    if head_request or code in (204, 304):
        body = b""
    elif b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"][0]))
    elif headers.get(b"transfer-encoding", [b""])[0].endswith(b"chunked"):
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            body += (await reader.readexactly(size + 2))[:-2]
            if not size:
                break
    else:
        body = await reader.read()
    return code, headers, body


def normalise(raw: bytes) -> tuple[bytes, list[bytes]]:
    """A request head as (request line, sorted header lines) and its body."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    return lines[0], sorted(lines[1:]) + [body]


@contextlib.asynccontextmanager
async def proxied(*servers):
    """An in-process Ingress proxy whose `web` Service has one endpoint per server, and
    a client connection to it: yields (proxy, reader, writer)."""
    ports = [srv.sockets[0].getsockname()[1] for srv in servers]
    proxy = IngressProxy(replica(ports[0], more_ports=ports[1:]), control=False)
    proxy.reevaluate(routes=True, tls=False)
    pserver = await asyncio.get_running_loop().create_server(lambda: Client(proxy, b"http", b"8080"), "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(*pserver.sockets[0].getsockname()[:2])
    try:
        yield proxy, reader, writer
    finally:
        writer.close()
        for srv in (pserver, *servers):
            srv.close()
        for up in [u for ups in proxy.pool.values() for u in ups]:
            up.transport.close()


async def exchange(fast: bool, requests: list[bytes], answers: list, *, together: bool = False):
    ingress_fast.ENABLED = fast
    backend = Backend(answers)
    got = []
    try:
        async with proxied(await asyncio.start_server(backend.handle, "127.0.0.1", 0)) as (_, reader, writer):
            await converse(writer, reader, requests, got, together)
    finally:
        ingress_fast.ENABLED = True
    return [normalise(s) for s in backend.seen], got, backend.connections


async def converse(writer, reader, requests, got, together) -> None:
    if together:
        writer.write(b"".join(requests))
    for req in requests:
        if not together:
            writer.write(req)
        got.append(await asyncio.wait_for(read_answer(reader, req.startswith(b"HEAD ")), 10))


async def both(requests, answers, **kw):
    fast = await exchange(True, requests, list(answers), **kw)
    slow = await exchange(False, requests, list(answers), **kw)
    assert fast[0] == slow[0], "the backend saw different requests"
    assert fast[1] == slow[1], "the client got different answers"
    assert fast[2] == slow[2], "different numbers of backend connections"
    return fast


GET = b"GET /a/b?x=1 HTTP/1.1\r\nHost: app.test\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n"


async def test_plain_gets_keep_both_connections_alive():
    seen, got, conns = await both([GET, GET, GET], [[OK]] * 3)
    assert [g[0] for g in got] == [200] * 3 and all(g[2] == b"hello" for g in got)
    assert conns == 1, "the backend connection is reused"
    line, headers = seen[0]
    assert line == b"GET /a/b?x=1 HTTP/1.1"
    assert b"X-Forwarded-For: 127.0.0.1" in headers and b"X-Forwarded-Host: app.test" in headers
    assert b"X-Forwarded-Proto: http" in headers and b"X-Forwarded-Port: 8080" in headers
    assert b"connection" not in got[0][1], "the backend's Connection header is dropped"


async def test_a_body_that_arrives_in_pieces_is_passed_whole():
    body = bytes(range(256)) * 40
    answer = [b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body), body[:1000], body[1000:5000], body[5000:]]
    _, got, conns = await both([GET, GET], [answer, [OK]])
    assert got[0][2] == body and got[1][2] == b"hello" and conns == 1


async def test_answers_the_fast_lane_leaves_to_the_general_path():
    chunked = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"3\r\nabc\r\n", b"0\r\n\r\n"]
    no_content = [b"HTTP/1.1 204 No Content\r\nServer: t\r\n\r\n"]
    closing = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"]
    named = [b"HTTP/1.1 200 OK\r\nX-Internal: 1\r\nContent-Length: 2\r\nConnection: keep-alive, X-Internal\r\n\r\nok"]
    gzip = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nGZ\r\n0\r\n\r\n"]
    bare_lf = [b"HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2\r\nContent-Length: 2\r\n\r\nok"]  # CGI style, llhttp's call
    _, got, conns = await both([GET] * 7, [chunked, no_content, closing, named, gzip, bare_lf, [OK]])
    assert [(g[0], g[2]) for g in got] == [(200, b"abc"), (204, b""), (200, b"ok"), (200, b"ok"), (200, b"GZ"),
                                           (200, b"ok"), (200, b"hello")]
    assert conns == 2, "a backend that said Connection: close is not reused"
    assert b"x-internal" not in got[3][1], "headers named in Connection are dropped"
    assert got[4][1][b"transfer-encoding"] == [b"gzip, chunked"], "the gzip coding is passed on"


async def test_requests_the_fast_lane_leaves_to_the_general_path():
    reqs = [
        b"HEAD / HTTP/1.1\r\nHost: app.test\r\n\r\n",
        b"POST /p HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\n\r\nabc",
        b"GET / HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nUser-Agent: t\r\nHost: app.test\r\n\r\n",  # Host not first
        b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\n\r\n",
        b"POST /z HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nGZ\r\n0\r\n\r\n",
    ]
    head_ok = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"]
    seen, got, _ = await both(reqs, [head_ok] + [[OK]] * 5)
    assert [g[0] for g in got] == [200] * 6
    assert seen[1][1][-1] == b"abc"
    assert b"X-Forwarded-For: 203.0.113.9, 127.0.0.1" in seen[2][1]
    assert not any(h.lower().startswith(b"x-secret") for h in seen[4][1]), "headers named in Connection are dropped"
    assert b"Transfer-Encoding: gzip, chunked" in seen[5][1], "the gzip coding of a request body is passed on"


async def test_pipelined_requests_are_answered_in_order():
    reqs = [GET.replace(b"/a/b", b"/one"), GET.replace(b"/a/b", b"/two")]
    seen, got, _ = await both(reqs, [[OK], [OK.replace(b"hello", b"world")]], together=True)
    assert [g[2] for g in got] == [b"hello", b"world"]
    assert [s[0] for s in seen] == [b"GET /one?x=1 HTTP/1.1", b"GET /two?x=1 HTTP/1.1"]


async def test_no_route_no_endpoint_and_a_vanishing_pooled_backend():
    reqs = [b"GET / HTTP/1.1\r\nHost: nowhere.test\r\n\r\n", b"GET / HTTP/1.1\r\nHost: empty.test\r\n\r\n"]
    _, got, _ = await both(reqs, [])
    assert [g[0] for g in got] == [404, 503]
    # the pooled connection dies before answering the second request: it is replayed on a new one
    seen, got, conns = await both([GET, GET], [[OK], "close", [OK]])
    assert [g[0] for g in got] == [200, 200] and conns == 2 and len(seen) == 3


async def test_more_bytes_than_announced_are_not_passed_on():
    answer = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", b"helloEXTRA"]
    _, got, conns = await both([GET, GET], [answer, [OK]])
    assert [g[2] for g in got] == [b"hello", b"hello"]
    assert conns == 2, "the connection that overran its answer is not reused"


@pytest.mark.parametrize("raw", [
    b"GET / HTTP/1.1\r\nHost: app.test\r\nBad Header: x\r\n\r\n",
    b"GET / HTTP/1.1\nHost: app.test\n\n",
    b"GET / HTTP/1.1\r\nHost: app.test\r\nX: a\0b\r\n\r\n",
])
async def test_malformed_heads_are_judged_by_the_parser(raw):
    assert ingress_fast._REQ.fullmatch(raw) is None
    _, got, _ = await both([raw], [[OK]])
    assert got[0][0] == 400


async def test_an_endpoint_that_resets_is_skipped_for_a_ready_one():
    """One endpoint accepts and resets every connection: requests still get 200s from
    the other (the failed endpoint is tried once per request, then avoided)."""
    resets = []

    async def reset(reader, writer):
        resets.append(1)
        await reader.read(1)
        writer.transport.abort()
    good = Backend([[OK]] * 6)
    async with proxied(await asyncio.start_server(reset, "127.0.0.1", 0),
                       await asyncio.start_server(good.handle, "127.0.0.1", 0)) as (_, reader, writer):
        for _ in range(6):
            writer.write(GET)
            code, _, body = await asyncio.wait_for(read_answer(reader), 10)
            assert (code, body) == (200, b"hello")
        assert resets, "the resetting endpoint was tried"


async def test_requests_are_balanced_over_endpoints():
    """Round-robin over two endpoints, whether or not a pooled connection to the next
    one exists (the fast lane must not skip an endpoint it has no connection to yet)."""
    one, two = Backend([[OK]] * 4), Backend([[OK]] * 4)
    async with proxied(await asyncio.start_server(one.handle, "127.0.0.1", 0),
                       await asyncio.start_server(two.handle, "127.0.0.1", 0)) as (_, reader, writer):
        for _ in range(8):
            writer.write(GET)
            assert (await asyncio.wait_for(read_answer(reader), 10))[0] == 200
    assert (len(one.seen), len(two.seen)) == (4, 4)


async def test_an_upgraded_connection_passes_half_close_and_is_closed_when_both_ends_are_done():
    """After a 101 the connection is a raw splice: the client's FIN reaches the backend,
    the backend's last bytes and FIN reach the client, and then the proxy closes both
    connections (they once stayed open for good)."""
    async def echo_until_eof(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
        got = await reader.read()  # up to the client's FIN, passed on by the proxy
        writer.write(b"echo:" + got)
        writer.write_eof()
        await writer.drain()
    async with proxied(await asyncio.start_server(echo_until_eof, "127.0.0.1", 0)) as (proxy, reader, writer):
        writer.write(b"GET /ws HTTP/1.1\r\nHost: app.test\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101")
        writer.write(b"one two")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 10) == b"echo:one two"
        for _ in range(200):  # both FINs passed: the proxy lets go of both connections
            if not proxy.conns:
                break
            await asyncio.sleep(0.01)
        assert not proxy.conns, "the spliced connection is still open in the proxy"
