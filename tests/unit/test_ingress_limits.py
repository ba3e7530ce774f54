"""The Ingress data path's limits on hostile clients, over real localhost sockets and
without Docker: header line and head sizes (431/414), the header-read timeout (408), a
duplicate or missing Host (400), the request-smuggling shapes llhttp refuses (400), and
the proxy worker's memory after floods of unterminated headers.

Most tests drive the proxy in this process as test_ingress_datapath.py does, once with
the fast lane on and once off; the memory test runs the real worker process
(`python -m kubedeck.engine.proxy.worker`) fed over its control socket, and reads its RSS."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import time

import pytest
from kubedeck.engine.proxy import ingress_fast, wire
from kubedeck.engine.proxy.dataplane import bind_tcp
from kubedeck.engine.proxy.ingress_request import HEAD_MAX, LINE_MAX
from test_ingress_datapath import OK, Backend, proxied, read_answer, replica

HEAD = b"GET / HTTP/1.1\r\nHost: app.test\r\n"


@contextlib.asynccontextmanager
async def lane(fast: bool, answers=()):
    """proxied() with the fast lane on or off and a recording backend: yields
    (proxy, reader, writer, backend)."""
    ingress_fast.ENABLED = fast
    backend = Backend(list(answers))
    try:
        async with proxied(await asyncio.start_server(backend.handle, "127.0.0.1", 0)) as (proxy, reader, writer):
            yield proxy, reader, writer, backend
    finally:
        ingress_fast.ENABLED = True


async def refused_with(reader) -> int:
    """The status of the proxy's own answer, after which the connection must be closed."""
    code, headers, _ = await asyncio.wait_for(read_answer(reader), 10)
    assert headers[b"connection"] == [b"close"]
    assert await asyncio.wait_for(reader.read(), 10) == b"", "the connection stays open"
    return code


both_lanes = pytest.mark.parametrize("fast", [True, False], ids=["fast", "general"])


@both_lanes
async def test_header_lines_within_the_limits_pass(fast):
    line = b"X-Long: " + b"v" * (LINE_MAX - 8) + b"\r\n"  # one line at the limit
    lines = b"".join(b"X-%d: %s\r\n" % (i, b"w" * 7000) for i in range(4))  # 28 KiB together
    async with lane(fast, [[OK], [OK]]) as (_, reader, writer, backend):
        for head in (HEAD + line + b"\r\n", HEAD + lines + b"\r\n"):
            writer.write(head)
            assert (await asyncio.wait_for(read_answer(reader), 10))[0] == 200
    assert len(backend.seen) == 2


@both_lanes
@pytest.mark.parametrize("head, code", [
    (HEAD + b"X-Long: " + b"v" * (LINE_MAX - 7) + b"\r\n\r\n", 431),  # one line a byte over
    (HEAD + b"".join(b"X-%d: %s\r\n" % (i, b"w" * 7000) for i in range(5)) + b"\r\n", 431),  # 35 KiB of lines
    (HEAD + b"X-Small: 1\r\n" * (HEAD_MAX // 12) + b"\r\n", 431),  # many small lines
    (b"GET /" + b"p" * LINE_MAX + b" HTTP/1.1\r\nHost: app.test\r\n\r\n", 414),  # request line
    (HEAD + b"X-Open: " + b"v" * (LINE_MAX + 100), 431),  # a line not ended yet: refused without its end
], ids=["line", "head", "many-lines", "request-line", "open-line"])
async def test_heads_over_the_limits_are_refused_before_the_backend(fast, head, code):
    async with lane(fast, [[OK]]) as (_, reader, writer, backend):
        writer.write(head)
        assert await refused_with(reader) == code
    assert backend.seen == []


async def test_an_open_line_sent_in_pieces_is_cut_soon_after_the_limit():
    """1 KiB at a time: the proxy answers 431 once the open line passes LINE_MAX, not
    after whatever the client chooses to send."""
    async with lane(False) as (_, reader, writer, backend):
        writer.write(HEAD + b"X-Open: ")
        answer = asyncio.ensure_future(reader.read(1024))
        sent = 0
        while not answer.done() and sent < 1 << 20:
            writer.write(b"v" * 1024)
            sent += 1024
            await writer.drain()
            await asyncio.wait([answer], timeout=0.01)  # the proxy reads each piece before the next
        assert (await answer).startswith(b"HTTP/1.1 431 ")
        assert sent <= LINE_MAX + 4096, f"cut only after {sent} bytes"
    assert backend.seen == []


async def test_a_head_after_a_body_in_the_same_read_is_limited_from_the_next_read():
    """Pipelined: a POST with its body and the start of a second head in one read. Where
    the second head began in that read is not known, so its open line counts from the
    next read on: still refused, a read late, after the first request's answer."""
    post = b"POST /p HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5000\r\n\r\n" + b"b" * 5000
    async with lane(False, [[OK]]) as (_, reader, writer, backend):
        writer.write(post + HEAD + b"X-Open: " + b"v" * 4000)
        assert (await asyncio.wait_for(read_answer(reader), 10))[0] == 200
        writer.write(b"v" * 6000)  # 10 KiB open now, but only 6000 bytes counted
        await writer.drain()
        writer.write(b"v" * 6000)
        assert await refused_with(reader) == 431
    assert len(backend.seen) == 1


async def test_an_8_mib_header_is_cut_off_and_never_reaches_the_backend():
    async with lane(True, [[OK]]) as (proxy, reader, writer, backend):
        writer.write(HEAD + b"X-Big: ")
        sent = 0
        with contextlib.suppress(ConnectionError):
            while sent < 8 << 20:
                writer.write(b"v" * 65536)
                sent += 65536
                await asyncio.wait_for(writer.drain(), 10)
        with contextlib.suppress(ConnectionError):
            got = await asyncio.wait_for(reader.read(), 10)
            assert got == b"" or got.startswith(b"HTTP/1.1 431 ")
        assert sent < 8 << 20, "the proxy took the whole 8 MiB header"
        assert not proxy.conns
    assert backend.seen == []


@both_lanes
@pytest.mark.parametrize("head", [
    b"GET / HTTP/1.1\r\nHost: app.test\r\nHost: app.test\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: app.test\r\nX-A: 1\r\nhost: other.test\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: other.test\r\nHost: app.test\r\n\r\n",
    b"GET / HTTP/1.1\r\nUser-Agent: t\r\n\r\n",  # HTTP/1.1 needs a Host
], ids=["same", "case", "different", "missing"])
async def test_a_repeated_or_missing_host_is_a_400(fast, head):
    async with lane(fast, [[OK]]) as (_, reader, writer, backend):
        writer.write(head)
        assert await refused_with(reader) == 400
    assert backend.seen == []


async def test_http_1_0_may_go_without_host():
    async with lane(False) as (_, reader, writer, _b):
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        assert (await asyncio.wait_for(read_answer(reader), 10))[0] == 404  # no rule for no host


SMUGGLING = {
    "cl-te": b"POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-cl": b"POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    "two-cl": b"POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
    "same-cl-twice": b"POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd",
    "cl-list": b"POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4, 4\r\n\r\nabcd",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: app.test\r\nX-A: 1\r\n  folded\r\n\r\n",
    "bare-lf": b"GET / HTTP/1.1\r\nHost: app.test\nX-A: 1\r\n\r\n",
    "bare-lf-end": b"GET / HTTP/1.1\r\nHost: app.test\r\n\n",
    "bare-cr": b"GET / HTTP/1.1\r\nHost: app.test\rX-A: 1\r\n\r\n",
    "space-before-colon": b"POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "te-not-last": b"POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "te-vtab": b"POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n",
}


@both_lanes
@pytest.mark.parametrize("raw", SMUGGLING.values(), ids=SMUGGLING.keys())
async def test_request_smuggling_shapes_are_refused(fast, raw):
    """Each is read one way by some server and another way by others: refused whole,
    with nothing sent to the backend, and the connection closed."""
    async with lane(fast, [[OK]]) as (_, reader, writer, backend):
        writer.write(raw + HEAD + b"\r\n")  # a request smuggled behind it must not be served
        assert await refused_with(reader) == 400
    assert backend.seen == []


async def test_a_head_that_dribbles_in_gets_408_while_an_idle_keep_alive_connection_stays():
    async with lane(True, [[OK], [OK]]) as (proxy, reader, writer, _b):
        proxy.header_timeout = 0.5
        proxy.spawn(proxy.sweep())
        writer.write(HEAD + b"\r\n")  # a whole exchange, then this connection waits idle
        assert (await asyncio.wait_for(read_answer(reader), 10))[0] == 200
        port = writer.get_extra_info("peername")[1]
        slow_reader, slow_writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        answer = asyncio.ensure_future(refused_with(slow_reader))
        for byte in HEAD * 100:  # a byte every 20 ms: the bytes keep coming, the head never ends
            if answer.done():
                break
            slow_writer.write(bytes([byte]))
            await asyncio.wait([answer], timeout=0.02)
        assert await answer == 408
        assert 0.5 <= time.monotonic() - started < 3
        writer.write(HEAD + b"\r\n")  # idle since its answer, longer than the header timeout
        assert (await asyncio.wait_for(read_answer(reader), 10))[0] == 200
        slow_writer.close()


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def flood(port: int, size: int) -> int:
    """An unterminated header of `size` bytes; how much of it the proxy took."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(HEAD + b"X-Big: ")
        sent, chunk = 0, b"v" * 65536
        with contextlib.suppress(OSError):
            while sent < size:
                sent += s.send(chunk)
        return sent


async def test_the_worker_gives_memory_back_after_20_unterminated_16_mib_headers(capsys):
    """Before the limits, 20 such connections took the worker from ~43 to ~393 MiB, and
    it stayed there after they closed."""
    backend = Backend([[OK]] * 4)
    server = await asyncio.start_server(backend.handle, "127.0.0.1", 0)
    ours, theirs = wire.pair()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "kubedeck.engine.proxy.worker",
                                                str(theirs.fileno()), pass_fds=(theirs.fileno(),))
    theirs.close()
    listener = bind_tcp("127.0.0.1", 0)
    port = listener.getsockname()[1]
    try:
        for objs in replica(server.sockets[0].getsockname()[1]).by_kind.values():
            for obj in objs.values():
                for pkt in wire.packets({"op": "put", "obj": obj}):
                    wire.send_packet(ours, pkt)
        wire.send_packet(ours, wire.packets({"op": "synced"})[0])
        wire.send_packet(ours, wire.packets({"op": "listen", "key": "ingress:http", "role": "ingress",
                                             "scheme": "http", "port": port})[0], (listener.fileno(),))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEAD + b"\r\n")  # served: the worker is up, routing, and warm
        assert (await asyncio.wait_for(read_answer(reader), 30))[0] == 200
        before = rss_mib(proc.pid)
        sent = await asyncio.gather(*(asyncio.to_thread(flood, port, 16 << 20) for _ in range(20)))
        during = rss_mib(proc.pid)
        writer.write(HEAD + b"\r\n")  # still serving, and every flood connection is gone by now
        assert (await asyncio.wait_for(read_answer(reader), 30))[0] == 200
        after = rss_mib(proc.pid)
        with capsys.disabled():
            print(f"\nworker RSS MiB: before {before:.1f}, during {during:.1f}, after {after:.1f}; "
                  f"accepted per connection at most {max(sent) / 2**20:.1f} MiB")
        assert max(sent) < 16 << 20, "a connection got its whole 16 MiB header in"
        assert after - before < 16, f"worker RSS grew from {before:.0f} to {after:.0f} MiB"
    finally:
        ours.close()  # EOF: the worker ends
        await asyncio.wait_for(proc.wait(), 10)
        listener.close()
        server.close()
