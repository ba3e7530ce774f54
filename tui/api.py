"""Async client for the engine's Kubernetes-shaped REST API, as the TUI uses it.

The TUI only talks to the engine through this module (see docs/ARCHITECTURE.md for the
contract). Everything is async and built on one `httpx.AsyncClient` with a bearer token,
made on the first request: httpx and its transport (~50 ms of imports) load after the
TUI's first frame, which shows a list made before the app started (cli.py `_ui`):

* `list` returns `(items, resourceVersion)`;
* `watch` yields `(type, object)` from `?watch=1&resourceVersion=N` JSON lines (bookmarks
  only move the resourceVersion it resumes from) and, when
  the stream breaks or the server answers 410 Gone, relists and replays the difference as
  synthetic ADDED/MODIFIED/DELETED events so a consumer never sees a gap;
* `logs` yields text lines, streamed when `follow=True`.

Failures surface as `ApiError` (a `Status` object from the server) or `Disconnected`
(nothing answered); callers decide how to show them. Only the transport is this module's:
paths, the error type and the log query are engine/client.py's and engine/paths.py's, the
same the CLI's synchronous client uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from kubedeck.engine.client import ApiError, list_result, log_params
from kubedeck.engine.paths import CORE, resource_path
from kubedeck.engine.state import Connection

if TYPE_CHECKING:
    import httpx


class Disconnected(Exception):
    """The API could not be reached."""


@contextlib.contextmanager
def paused_gc():
    """No cyclic garbage collection while a big list is parsed or turned into rows: a
    list of 5,000 pods is ~200,000 new containers, and the collections they set off
    (each full one walking the whole heap) made parsing it ~4x slower. Collection resumes
    right after; any cyclic garbage made meanwhile is collected then."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class ApiClient:
    """A thin async client; one per app. Call `aclose()` when done."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        ca: str | None = None,
        timeout: float = 10.0,
        retry_delay: Callable[[int], float] | None = None,
        connection: Any = None,
    ) -> None:
        # `connection`: any cluster by kubeconfig context (engine/kubeconnect.py), with its
        # certificates and refreshed credentials; else the engine's url, token and CA
        self.connection = connection or Connection(url, token, ca)
        self.url = self.connection.url.rstrip("/")
        self._timeout = timeout
        self._http: httpx.AsyncClient | None = None
        self._retry_delay = retry_delay or (lambda attempt: min(0.25 * 2**attempt, 5.0))

    @property
    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            from kubedeck.engine.kubeconnect import httpx_options

            self._http = httpx.AsyncClient(timeout=httpx.Timeout(self._timeout), **httpx_options(self.connection))
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise Disconnected(str(exc) or type(exc).__name__) from exc
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response

    async def list(
        self,
        plural: str,
        namespace: str | None = None,
        group_version: str = CORE,
        *,
        label_selector: str | None = None,
    ) -> tuple[list[dict], str]:
        params = {"labelSelector": label_selector} if label_selector else None
        response = await self._request(
            "GET", resource_path(plural, namespace, group_version), params=params
        )
        with paused_gc():
            body = response.json()
        return list_result(body)

    async def get(
        self, plural: str, namespace: str | None, name: str, group_version: str = CORE
    ) -> dict:
        response = await self._request("GET", resource_path(plural, namespace, group_version, name))
        return response.json()

    async def delete(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        group_version: str = CORE,
        *,
        grace_period_seconds: int | None = None,
    ) -> dict:
        params = (
            {"gracePeriodSeconds": str(grace_period_seconds)}
            if grace_period_seconds is not None
            else None
        )
        path = resource_path(plural, namespace, group_version, name)
        response = await self._request("DELETE", path, params=params)
        return response.json() if response.content else {}

    async def patch_merge(
        self, plural: str, namespace: str | None, name: str, patch: dict, group_version: str = CORE
    ) -> dict:
        response = await self._request(
            "PATCH",
            resource_path(plural, namespace, group_version, name),
            content=json.dumps(patch),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        return response.json()

    async def replace(
        self, plural: str, namespace: str | None, name: str, obj: dict, group_version: str = CORE
    ) -> dict:
        """PUT the whole object (the edit-through-the-API path of `e`)."""
        response = await self._request(
            "PUT",
            resource_path(plural, namespace, group_version, name),
            content=json.dumps(obj),
            headers={"Content-Type": "application/json"},
        )
        return response.json()

    async def status(self) -> dict:
        return (await self._request("GET", "/kubedeck/v1/status")).json()

    async def activity(self, since: int = 0) -> dict:
        """The engine's activity stream after sequence number `since` (404 elsewhere)."""
        return (await self._request("GET", "/kubedeck/v1/activity", params={"since": str(since)})).json()

    async def watch(
        self,
        plural: str,
        resource_version: str,
        namespace: str | None = None,
        group_version: str = CORE,
        *,
        known: dict[str, dict] | None = None,
        max_reconnects: int | None = None,
    ) -> AsyncIterator[tuple[str, dict]]:
        """Yield `(type, object)` after `resource_version`, reconnecting forever.

        `known` (uid -> object, as the caller last saw them) lets a relist after a 410 or a
        broken stream be turned into the events the caller missed. While the API is down
        this raises nothing; it yields `("DISCONNECTED", {"message": ...})` once per outage
        so the UI can say so, then `("RECONNECTED", {})` when the stream is back.
        """
        import httpx

        known = {} if known is None else known
        path = resource_path(plural, namespace, group_version)
        rv = resource_version
        attempt = 0
        reconnects = 0
        down = False
        need_relist = False
        while True:
            try:
                if need_relist:
                    items, rv = await self.list(plural, namespace, group_version)
                    for event in _diff(known, items):
                        yield event
                    need_relist = False
                params = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true"}
                timeout = httpx.Timeout(10.0, read=None)
                async with self._client.stream(
                    "GET", path, params=params, timeout=timeout
                ) as response:
                    if response.status_code == 410:
                        need_relist = True
                        continue
                    if response.status_code >= 400:
                        await response.aread()
                        raise ApiError.from_response(response)
                    if down:
                        down = False
                        yield "RECONNECTED", {}
                    attempt = 0
                    async for line in response.aiter_lines():
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        kind, obj = event.get("type"), event.get("object") or {}
                        if kind == "ERROR":
                            need_relist = True
                            break
                        rv = obj.get("metadata", {}).get("resourceVersion", rv)
                        if kind == "BOOKMARK":  # only a newer resourceVersion to resume from
                            continue
                        uid = obj.get("metadata", {}).get("uid")
                        if uid:
                            if kind == "DELETED":
                                known.pop(uid, None)
                            else:
                                known[uid] = obj
                        yield kind, obj
                need_relist = True  # server closed the stream: relist to be safe
            except (httpx.TransportError, Disconnected, ApiError) as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # a cancel that lands mid-request can come out of httpx as a transport
                    # error (a connect timeout racing it): the caller asked to stop, so stop
                    raise asyncio.CancelledError from exc
                need_relist = True
                gone = isinstance(exc, ApiError) and exc.code == 410
                if not gone and not down:
                    down = True
                    yield "DISCONNECTED", {"message": str(exc) or type(exc).__name__}
            reconnects += 1
            if max_reconnects is not None and reconnects > max_reconnects:
                return
            await asyncio.sleep(self._retry_delay(attempt))
            attempt += 1

    async def logs(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        *,
        follow: bool = True,
        tail: int | None = 500,
        timestamps: bool = False,
        previous: bool = False,
        since_seconds: int | None = None,
    ) -> AsyncIterator[str]:
        params = log_params(container=container, follow=follow, tail=tail, timestamps=timestamps,
                            previous=previous, since_seconds=since_seconds)
        path = resource_path("pods", namespace, CORE, pod) + "/log"
        import httpx

        try:
            async with self._client.stream(
                "GET", path, params=params, timeout=httpx.Timeout(10.0, read=None)
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise ApiError.from_response(response)
                async for line in response.aiter_lines():
                    yield line.rstrip("\r\n")
        except httpx.TransportError as exc:
            raise Disconnected(str(exc) or type(exc).__name__) from exc


def _diff(known: dict[str, dict], items: list[dict]) -> list[tuple[str, dict]]:
    """Events that turn `known` into `items`; updates `known` in place."""
    events: list[tuple[str, dict]] = []
    fresh = {item["metadata"]["uid"]: item for item in items if item.get("metadata", {}).get("uid")}
    for uid, old in list(known.items()):
        if uid not in fresh:
            events.append(("DELETED", old))
            del known[uid]
    for uid, item in fresh.items():
        old = known.get(uid)
        if old is None:
            events.append(("ADDED", item))
        elif old.get("metadata", {}).get("resourceVersion") != item["metadata"].get(
            "resourceVersion"
        ) or old != item:
            events.append(("MODIFIED", item))
        known[uid] = item
    return events
