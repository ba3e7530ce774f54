"""One probe attempt (`run_probe`) against local servers: httpGet reads the status line
(2xx/3xx succeed), tcpSocket only connects, a silent server times out, a closed port fails,
and no socket is left open (the probes run on bare sockets, issue 18)."""

from __future__ import annotations

import asyncio
import os

from conftest import wait_for_async
from kubedeck.engine.agent.probes import ProbeTarget, run_probe


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def http_server(status: bytes, *, silent: bool = False):
    seen: list[bytes] = []

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            seen.append(await r.readuntil(b"\r\n\r\n"))
        except asyncio.IncompleteReadError:  # a tcpSocket probe: connected, nothing sent
            w.close()
            return
        if silent:  # answers nothing; hangs up when the prober does
            await r.read()
            w.close()
            return
        w.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
        await w.drain()
        w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


def target(ports: dict | None = None) -> ProbeTarget:
    async def no_exec(cmd, timeout):
        raise AssertionError("no exec here")
    return ProbeTarget("127.0.0.1", ports or {}, no_exec)


async def test_http_probe_succeeds_on_2xx_and_3xx_and_sends_the_request_as_the_kubelet():
    for status, ok in ((b"200 OK", True), (b"302 Found", True), (b"503 Service Unavailable", False)):
        server, port, seen = await http_server(status)
        async with server:
            probe = {"httpGet": {"path": "/healthz", "port": "web",
                                 "httpHeaders": [{"name": "X-Probe", "value": "1"}]}}
            result = await run_probe(probe, target({"web": port}))
        assert result[0] is ok, (status, result)
        if not ok:
            assert result[1] == "HTTP probe failed with statuscode: 503"
        head = seen[0].decode()
        assert head.startswith("GET /healthz HTTP/1.1\r\n")
        assert f"Host: 127.0.0.1:{port}\r\n" in head and "User-Agent: kube-probe/" in head
        assert "X-Probe: 1\r\n" in head and "Connection: close\r\n" in head


async def test_http_probe_times_out_and_fails_on_a_closed_port_without_leaking_sockets():
    fds = open_fds()
    server, port, _ = await http_server(b"200 OK", silent=True)
    async with server:
        ok, msg = await run_probe({"httpGet": {"port": port}, "timeoutSeconds": 0.2}, target())
    assert (ok, msg) == (False, "timeout after 0.2s")
    ok, msg = await run_probe({"httpGet": {"port": port}}, target())  # the server is gone
    assert ok is False and "connect call failed" in msg.lower()
    ok, msg = await run_probe({"httpGet": {"port": "nope"}}, target())
    assert (ok, msg) == (False, "port 'nope' not found in container ports")
    # the server side of the timed-out probe closes when it sees the prober hang up
    await wait_for_async(lambda: open_fds() == fds, timeout=3, what="no socket left open by a probe")


async def test_tcp_probe_connects_only():
    server, port, _ = await http_server(b"200 OK")
    async with server:
        assert (await run_probe({"tcpSocket": {"port": port}}, target()))[0] is True
    ok, msg = await run_probe({"tcpSocket": {"port": port}, "timeoutSeconds": 1}, target())
    assert ok is False and "connect call failed" in msg.lower()
