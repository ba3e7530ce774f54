"""The stream protocol pieces without Docker or kubectl: SPDY protocol negotiation, the
streams an exec waits for, and the SPDY port-forward server driven by a client session
over an in-memory pipe against a local TCP echo server."""

from __future__ import annotations

import asyncio

import pytest
from kubedeck.engine.api.portforward import serve_spdy_portforward
from kubedeck.engine.api.remotecommand import expected_streams
from kubedeck.engine.api.spdy_session import Session
from kubedeck.engine.api.upgrade import spdy_protocol
from kubedeck.engine.store import StoreError
from multidict import CIMultiDict, MultiDict
from test_spdy import pipe_pair


class FakeRequest:
    def __init__(self, *protocols: str) -> None:
        self.headers = CIMultiDict(("X-Stream-Protocol-Version", p) for p in protocols)


def test_spdy_negotiation_takes_the_clients_first_supported_protocol():
    req = FakeRequest("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io")
    assert spdy_protocol(req, ("v4.channel.k8s.io",)) == "v4.channel.k8s.io"
    with pytest.raises(StoreError) as e:
        spdy_protocol(FakeRequest("channel.k8s.io"), ("v4.channel.k8s.io",))
    assert e.value.code == 403


def test_exec_waits_for_the_streams_its_query_asks_for():
    q = MultiDict(stdin="true", stdout="true", stderr="true")
    assert expected_streams(q, tty=False) == {"error", "stdin", "stdout", "stderr"}
    # with a tty stderr is merged into stdout (as the kubelet does) and resize comes along
    assert expected_streams(q, tty=True) == {"error", "stdin", "stdout", "resize"}
    assert expected_streams(MultiDict(stdout="1"), tty=False) == {"error", "stdout"}


async def _echo_server() -> tuple[asyncio.AbstractServer, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_spdy_port_forward_pairs_streams_and_reports_errors():
    async def main():
        server, port = await _echo_server()
        gone = {"now": False}

        async def resolve(p: int) -> str:
            if gone["now"]:
                raise LookupError(f"error forwarding port {p} to pod web, uid u1: the pod is gone")
            return "127.0.0.1"
        c_wire, s_wire = pipe_pair()
        client = Session(c_wire, server=False)
        reading = asyncio.create_task(client.run())
        serving = asyncio.create_task(serve_spdy_portforward(Session(s_wire), resolve))

        async def connection(rid: int, payload: bytes) -> tuple[bytes, bytes]:
            headers = {"streamType": "error", "port": str(port), "requestID": str(rid)}
            err = await client.open_stream(headers)
            await err.close()  # kubectl writes nothing on it
            data = await client.open_stream({**headers, "streamType": "data"})
            await data.write(payload)
            await data.close()
            return await data.read_all(), await err.read_all()
        # two connections interleaved in one session, then one after the pod is gone
        got = await asyncio.gather(connection(0, b"a" * 300_000), connection(1, b"b"))
        assert got == [(b"a" * 300_000, b""), (b"b", b"")]
        gone["now"] = True
        answer, error = await connection(2, b"x")
        assert answer == b"" and error == f"error forwarding port {port} to pod web, uid u1: the pod is gone".encode()
        client.close()
        await asyncio.wait_for(serving, 5)
        await reading
        server.close()
    asyncio.run(asyncio.wait_for(main(), 30))
