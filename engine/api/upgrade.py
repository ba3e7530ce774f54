"""How a streaming request (exec, attach, portforward) becomes a connection.

Kubernetes clients ask for one of three things, told apart by the request's headers:
- `Upgrade: websocket` with a channel subprotocol (`v5.channel.k8s.io`, `v4...`): one
  WebSocket whose binary messages start with a channel byte (aiohttp does the WebSocket);
- `Upgrade: websocket` with `SPDY/3.1+portforward.k8s.io` (kubectl >= 1.31 port-forward):
  the WebSocket's binary messages carry a SPDY byte stream, split anywhere;
- `Upgrade: SPDY/3.1` with `X-Stream-Protocol-Version` (kubectl <= 1.29, and port-forward
  <= 1.30): a 101 answer, then SPDY on the raw connection.

aiohttp's parser only takes `websocket` and `tcp` upgrades, so for SPDY the handler
installs its own payload parser on the connection before answering 101: every byte
after the request goes to the SPDY session, never back to the HTTP parser.
"""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web

from ..store import StoreError
from .spdy_session import Session

SPDY_TUNNEL_PREFIX = "SPDY/3.1+"


def upgrade_kind(request: web.Request) -> str:
    """'websocket', 'spdy', or a 400 for a plain request."""
    upgrade = request.headers.get("Upgrade", "").lower()
    if upgrade == "websocket":
        return "websocket"
    if upgrade.startswith("spdy/3.1"):
        return "spdy"
    raise StoreError(400, "BadRequest", "Upgrade request required")


def ws_protocols(request: web.Request) -> list[str]:
    return [p.strip() for h in request.headers.getall("Sec-WebSocket-Protocol", []) for p in h.split(",") if p.strip()]


def spdy_protocol(request: web.Request, supported: tuple[str, ...]) -> str:
    """The first protocol the client lists that the server speaks (httpstream.Handshake)."""
    offered = [p.strip() for h in request.headers.getall("X-Stream-Protocol-Version", []) for p in h.split(",")]
    for p in offered:
        if p in supported:
            return p
    raise StoreError(403, "Forbidden", f"unable to upgrade: unable to negotiate protocol: client supports "
                                       f"{offered}, server supports {list(supported)}")


class _RawWire:
    """The upgraded HTTP connection itself: reads come from our payload parser, writes go
    through the response (which waits for the transport to drain)."""

    def __init__(self, request: web.Request, resp: web.StreamResponse) -> None:
        self.request, self.resp = request, resp
        self.reader = asyncio.StreamReader(limit=2 ** 17)  # pauses the transport past 256 KiB
        self.reader.set_transport(request.transport)
        request.protocol.set_parser(self)
        request.protocol.keep_alive(False)

    # the payload-parser interface aiohttp's connection calls
    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.reader.feed_eof()

    async def read(self) -> bytes:
        return await self.reader.read(65536)

    async def send(self, data: bytes) -> None:
        await self.resp.write(data)

    def close(self) -> None:
        if self.request.transport is not None:
            self.request.transport.close()


class _WsWire:
    """SPDY tunnelled in WebSocket binary messages."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def read(self) -> bytes:
        while True:
            msg = await self.ws.receive()
            if msg.type == WSMsgType.BINARY:
                if msg.data:
                    return msg.data
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return b""

    async def send(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    def close(self) -> None:
        self._closing = asyncio.ensure_future(self.ws.close())  # kept referenced until done


async def accept_spdy(request: web.Request,
                      supported: tuple[str, ...]) -> tuple[Session, str, web.StreamResponse]:
    """Answer a SPDY/3.1 upgrade (101): the server session, the protocol, and the 101
    response for the handler to return once the session is over."""
    protocol = spdy_protocol(request, supported)
    resp = web.StreamResponse(status=101, headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                                   "X-Stream-Protocol-Version": protocol})
    wire = _RawWire(request, resp)
    await resp.prepare(request)
    return Session(wire), protocol, resp


async def accept_spdy_tunnel(request: web.Request, protocols: list[str],
                             supported: tuple[str, ...]) -> tuple[Session, web.WebSocketResponse, str]:
    """A WebSocket whose subprotocol is SPDY/3.1+<protocol>, carrying a SPDY session."""
    want = [SPDY_TUNNEL_PREFIX + p for p in supported]
    chosen = next((p for p in protocols if p in want), None)
    if chosen is None:
        raise StoreError(400, "BadRequest", f"no supported WebSocket subprotocol in {protocols}")
    ws = web.WebSocketResponse(protocols=(chosen,), max_msg_size=0, autoping=True)
    await ws.prepare(request)
    return Session(_WsWire(ws)), ws, chosen.removeprefix(SPDY_TUNNEL_PREFIX)
