"""The NodePort splice (splice.ClientSide) over real localhost sockets, without Docker,
on uvloop (the proxy worker's loop) and on asyncio's own.

The backend answers like busybox httpd: head and body in two writes, then FIN and close,
from a thread of its own, so it often answers while the proxy is still handling the
client's request and its FIN. That race once cut answers short (the client's EOF was
read twice, the second time shutting a backend socket that had already closed), and
every half-closed connection stayed open in the proxy."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
import uvloop

from conftest import wait_for
from kubedeck.engine.proxy.splice import ClientSide

BODY = b"web-hcxspbj-vx24h\n"
HEAD = b"HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Length: 18\r\n\r\n"
REQUEST = b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"


def httpd_like(listener: socket.socket) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:  # the listener was closed: the test is over
            return
        with conn:
            got = b""
            while b"\r\n\r\n" not in got and (chunk := conn.recv(4096)):
                got += chunk
            try:
                conn.sendall(HEAD)
                conn.sendall(BODY)
                conn.shutdown(socket.SHUT_WR)
            except OSError:  # the proxy hung up: the client sees it
                pass


class Proxy:
    """ClientSide served on a loop in a thread, forwarding to one backend."""

    def __init__(self, run, backend: tuple[str, int]) -> None:
        self.conns: set = set()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=run, args=(self.serve(backend),), daemon=True)

    async def serve(self, backend) -> None:
        loop = asyncio.get_running_loop()
        self.stop = loop.create_future()

        def factory():
            side = ClientSide(lambda tried, ip: None if backend in tried else backend, self.conns.discard)
            self.conns.add(side)
            return side
        server = await loop.create_server(factory, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self.loop = loop
        self.ready.set()
        await self.stop
        server.close()

    def __enter__(self) -> "Proxy":
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stop.set_result, None)
        self.thread.join(10)


def half_closed_get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(REQUEST)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return data


@pytest.mark.parametrize("run", [uvloop.run, asyncio.run], ids=["uvloop", "asyncio"])
def test_half_closed_requests_get_whole_answers_and_are_closed(run):
    listener = socket.create_server(("127.0.0.1", 0), backlog=512)
    threading.Thread(target=httpd_like, args=(listener,), daemon=True).start()
    try:
        with Proxy(run, listener.getsockname()[:2]) as proxy:
            short = [i for i in range(2000) if half_closed_get(proxy.port) != HEAD + BODY]
            assert short == [], f"{len(short)} of 2000 answers cut short, first at request {short[0]}"
            # both directions passed their FIN: the proxy closes both connections
            wait_for(lambda: not proxy.conns, 10, what=f"{len(proxy.conns)} spliced connections to close")
    finally:
        listener.close()


@pytest.mark.parametrize("run", [uvloop.run, asyncio.run], ids=["uvloop", "asyncio"])
def test_a_large_upload_is_passed_whole_before_the_fin(run):
    """A client that sends more than the socket buffers hold and then half-closes: the FIN
    waits for the queued bytes, and the backend's answer (the byte count) still comes back."""
    listener = socket.create_server(("127.0.0.1", 0))
    size = 8 * 1024 * 1024

    def counter() -> None:
        conn, _ = listener.accept()
        with conn:
            n = 0
            while chunk := conn.recv(1 << 16):
                n += len(chunk)
            conn.sendall(str(n).encode())
    threading.Thread(target=counter, daemon=True).start()
    try:
        with Proxy(run, listener.getsockname()[:2]) as proxy:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as s:
                s.sendall(b"x" * size)
                s.shutdown(socket.SHUT_WR)
                answer = b""
                while chunk := s.recv(4096):
                    answer += chunk
            assert answer == str(size).encode()
            wait_for(lambda: not proxy.conns, 10, what="the spliced connection to close")
    finally:
        listener.close()
