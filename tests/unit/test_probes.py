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


async def probe_times(container: dict, monkeypatch, until: int, calls: list | None = None) -> list[tuple[str, float]]:
    """(probe kind, seconds since the runner began) of the first `until` attempts, on a
    clock that only the runner's sleeps move; startup succeeds at once, the others fail.
    `calls` collects the runner's on_unhealthy and on_failed calls."""
    calls = [] if calls is None else calls
    from kubedeck.engine.agent import probes

    now = [0.0]
    seen: list[tuple[str, float]] = []
    done = asyncio.Event()
    real_sleep = asyncio.sleep

    async def sleep(s: float) -> None:
        now[0] += max(0.0, s)
        await real_sleep(0)

    async def attempt(probe: dict, t) -> tuple[bool, str]:
        kind = next(k for k in ("startupProbe", "readinessProbe", "livenessProbe") if container.get(k) is probe)
        seen.append((kind, now[0]))
        if len(seen) >= until:
            done.set()
        return kind == "startupProbe", "refused"

    monkeypatch.setattr(probes.asyncio, "sleep", sleep)
    monkeypatch.setattr(probes, "run_probe", attempt)
    runner = probes.ProbeRunner(container, target(), on_ready=lambda ok: None, on_started=lambda: None,
                                on_failed=lambda kind, msg: calls.append(("failed", kind, msg)),
                                on_unhealthy=lambda kind, msg: calls.append(("unhealthy", kind, msg)))
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    return seen[:until]  # the fake clock lets the runner run on until it is cancelled


async def test_the_first_probe_comes_as_the_kubelets_relist_would_see_the_start(monkeypatch):
    """Not at the start itself (nothing listens yet; a failed readiness probe waits a
    period), but FIRST_PROBE_AFTER later, which counts towards initialDelaySeconds."""
    from kubedeck.engine.agent.probes import FIRST_PROBE_AFTER

    assert FIRST_PROBE_AFTER > 0
    ready = {"readinessProbe": {"tcpSocket": {"port": 1}, "periodSeconds": 10}}
    assert await probe_times(ready, monkeypatch, 2) == [("readinessProbe", FIRST_PROBE_AFTER),
                                                        ("readinessProbe", FIRST_PROBE_AFTER + 10)]
    delayed = {"readinessProbe": {"tcpSocket": {"port": 1}, "initialDelaySeconds": 3}}
    assert await probe_times(delayed, monkeypatch, 1) == [("readinessProbe", 3.0)]
    # after a startup probe, readiness waits its whole initial delay from the startup's success
    both = {"startupProbe": {"tcpSocket": {"port": 1}},
            "readinessProbe": {"tcpSocket": {"port": 1}, "initialDelaySeconds": 3}}
    assert await probe_times(both, monkeypatch, 2) == [("startupProbe", FIRST_PROBE_AFTER),
                                                       ("readinessProbe", FIRST_PROBE_AFTER + 3)]


async def test_every_failed_attempt_is_an_unhealthy_report(monkeypatch):
    """As the kubelet's Unhealthy Events: below the failure threshold and before the
    container was ever ready too; a restart only at liveness's threshold."""
    calls: list = []
    c = {"readinessProbe": {"tcpSocket": {"port": 1}, "periodSeconds": 10},
         "livenessProbe": {"tcpSocket": {"port": 1}, "periodSeconds": 10, "failureThreshold": 2}}
    await probe_times(c, monkeypatch, 4, calls)
    assert calls.count(("unhealthy", "Liveness", "refused")) == 2  # then the restart: no more attempts
    assert calls.count(("unhealthy", "Readiness", "refused")) >= 2
    assert calls.count(("failed", "Liveness", "refused")) == 1
    assert not any(kind == "Readiness" for what, kind, _ in calls if what == "failed")
