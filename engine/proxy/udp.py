"""UDP NodePorts: datagrams relayed to a ready endpoint, replies relayed back.

Each client address gets its own upstream datagram socket (a "flow"), bound to one
endpoint while it lives, as kube-proxy's conntrack entries are; idle flows expire, and
flows to an endpoint that is no longer ready are dropped (kube-proxy clears those
conntrack entries), so the client's next datagram goes to a ready one.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

FLOW_IDLE_SECONDS = 30.0


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, listener: "UdpListener", client: tuple, target: tuple[str, int]):
        self.listener, self.client, self.target = listener, client, target
        self.transport: asyncio.DatagramTransport | None = None
        self.last = time.monotonic()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.last = time.monotonic()
        if self.listener.transport:
            self.listener.transport.sendto(data, self.client)


class UdpListener(asyncio.DatagramProtocol):
    def __init__(self, pick: Callable[[set, str | None], tuple[str, int] | None]):
        self.pick = pick
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[tuple, _Upstream] = {}
        self._pending: dict[tuple, list[bytes]] = {}

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        flow = self.flows.get(addr)
        if flow is not None and flow.transport is not None:
            flow.last = time.monotonic()
            flow.transport.sendto(data)
            return
        if addr in self._pending:  # the flow is being set up
            self._pending[addr].append(data)
            return
        target = self.pick(set(), addr[0])
        if target is None:
            return  # no ready endpoint: dropped, as kube-proxy does
        self._pending[addr] = [data]
        asyncio.get_running_loop().create_task(self._open(addr, target))
        self._expire()

    async def _open(self, addr: tuple, target: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, flow = await loop.create_datagram_endpoint(lambda: _Upstream(self, addr, target), remote_addr=target)
        except OSError:
            self._pending.pop(addr, None)
            return
        self.flows[addr] = flow
        for data in self._pending.pop(addr, []):
            flow.transport.sendto(data)

    def _expire(self) -> None:
        now = time.monotonic()
        for addr, flow in list(self.flows.items()):
            if now - flow.last > FLOW_IDLE_SECONDS:
                flow.transport.close()
                del self.flows[addr]

    def retain(self, ready) -> None:
        """Drop the flows whose endpoint is not in `ready` (a re-routed Service, a pod
        that stopped being ready)."""
        for addr, flow in list(self.flows.items()):
            if flow.target not in ready:
                flow.transport.close()
                del self.flows[addr]

    def close(self) -> None:
        for flow in self.flows.values():
            if flow.transport:
                flow.transport.close()
        self.flows.clear()
        if self.transport:
            self.transport.close()
