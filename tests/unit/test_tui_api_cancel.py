"""`ApiClient.watch` stops when its task is cancelled, even when the cancel comes out of
httpx as a transport error (a connect timeout racing the cancel does that)."""

from __future__ import annotations

import asyncio

import httpx
from kubedeck.tui.api import ApiClient


class CancelBecomesTimeout(httpx.AsyncBaseTransport):
    """Hangs on every request; a cancel is turned into httpx.ConnectTimeout, as a
    timeout scope that expires together with the cancel does."""

    def __init__(self) -> None:
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError as exc:
            raise httpx.ConnectTimeout("timed out") from exc
        raise AssertionError("unreachable")


async def test_watch_does_not_swallow_cancellation():
    client = ApiClient("http://kubedeck.invalid", "t", retry_delay=lambda n: 0)
    transport = CancelBecomesTimeout()
    client._http = httpx.AsyncClient(base_url=client.url, transport=transport)
    events = []

    async def consume():
        async for event in client.watch("pods", "1"):
            events.append(event)

    task = asyncio.create_task(consume())
    while transport.requests == 0:
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    if not done:  # the watch retried past the cancel: end it for good before failing
        await client.aclose()
        raise AssertionError(f"watch kept running after cancel; events {events[:3]}")
    assert task.cancelled() and events == []
    await client.aclose()
