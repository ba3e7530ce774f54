"""Informers: list, then watch, one resource kind, feeding the app's callbacks.

An `Informer` keeps a uid -> object cache (never mutated by consumers) and calls
`on_sync(items)` after each initial list, `on_event(type, obj)` for every change and
`on_state(connected, message)` when the API goes away or comes back. Reconnects and
relists are done by `ApiClient.watch`, which replays what was missed as events. A
`first_list` (made before the app started: `kubedeck ui` lists the pods while the TUI's
modules load) stands in for the first list; the watch starts from its resourceVersion.
`watch_after` (an event) holds the watch back until it is set: the app's first frame.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

from kubedeck.engine.client import ApiError
from kubedeck.engine.present.resources import ResourceKind

from .api import ApiClient, Disconnected, paused_gc


class Informer:
    def __init__(
        self,
        api: ApiClient,
        kind: ResourceKind,
        *,
        on_sync: Callable[[ResourceKind, list[dict]], None],
        on_event: Callable[[ResourceKind, str, dict], None],
        on_state: Callable[[ResourceKind, bool, str], None],
        retry_delay: float = 0.5,
        fallback_namespace: str | None = None,
        first_list: tuple[list[dict], str] | None = None,
        watch_after: asyncio.Event | None = None,
    ) -> None:
        self.api = api
        self.kind = kind
        self.cache: dict[str, dict] = {}
        self.synced = False
        self.forbidden = ""  # the API's message when RBAC forbids listing this kind
        # RBAC often allows one namespace (the context's) where all namespaces are forbidden
        self.fallback_namespace = fallback_namespace
        self.scope: str | None = None  # the namespace listed and watched; None: all
        self._on_sync = on_sync
        self._on_event = on_event
        self._on_state = on_state
        self._retry_delay = retry_delay
        self._first_list = first_list  # (items, resourceVersion) listed before the app ran
        self._watch_after = watch_after

    async def run(self) -> None:
        kind = self.kind
        attempt = 0
        while True:
            try:
                if self._first_list is not None:  # used once: a restarted informer lists again
                    (items, rv), self._first_list = self._first_list, None
                else:
                    items, rv = await self.api.list(kind.plural, self.scope, kind.group_version)
                break
            except Disconnected as exc:
                self._on_state(kind, False, str(exc))
            except ApiError as exc:
                if exc.code == 403 and self.scope is None and kind.namespaced and self.fallback_namespace:
                    self.scope = self.fallback_namespace
                    continue
                if exc.code in (403, 404, 405):
                    # not served here (404/405), or RBAC forbids the list (403): an empty
                    # pane that says so (`forbidden`), never a retry loop or a crash
                    self.forbidden = (exc.message or str(exc)) if exc.code == 403 else ""
                    self._on_state(kind, True, "")
                    self.synced = True
                    self._on_sync(kind, [])
                    return
                self._on_state(kind, False, str(exc))
            await asyncio.sleep(min(self._retry_delay * 2**attempt, 5.0))
            attempt += 1
        self.cache = {o["metadata"]["uid"]: o for o in items if o.get("metadata", {}).get("uid")}
        self.synced = True
        self._on_state(kind, True, "")
        with paused_gc():
            self._on_sync(kind, items)
        # What is alive now (the listed objects, the rows built from them) lives long:
        # move it out of the cyclic GC's reach, or every full collection walks it all
        # (150 ms pauses with 1,000 pods listed). Changes later are freed by refcount.
        gc.freeze()
        if self._watch_after is not None:
            await self._watch_after.wait()  # what changes meanwhile comes as events: the watch starts at rv
        async for event_type, obj in self.api.watch(
            kind.plural, rv, self.scope, kind.group_version, known=self.cache
        ):
            if event_type == "DISCONNECTED":
                self._on_state(kind, False, obj.get("message", ""))
            elif event_type == "RECONNECTED":
                self._on_state(kind, True, "")
            else:
                self._on_event(kind, event_type, obj)
