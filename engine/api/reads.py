"""The API's read verbs: get, list and watch, as JSON objects or as a `meta.k8s.io` Table.

kubectl asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...` and prints
the server's columns; every other client gets the objects. The columns are the shared
ones of engine/present (the CLI and the TUI print the same).

Watches stream one JSON line per event, as the API server does:
- no `resourceVersion` (or "0"): synthetic ADDED events for what exists, then changes;
- a `resourceVersion` older than the kept history: one ERROR event with a 410 Expired
  Status, so informers relist;
- `allowWatchBookmarks=true`: a BOOKMARK (an object with only its resourceVersion) when
  the stream has been quiet for `BOOKMARK_EVERY` seconds, so a client can resume from a
  recent version after a reconnect;
- `timeoutSeconds`: the stream ends after that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime, timezone

from aiohttp import web

from ..manifests.kinds import KINDS
from ..selectors import matches_selector, parse_selector_string
from ..store import Store, StoreError
from .fields import parse_field_selector
from ..paths import Target
from .status import status_body

BOOKMARK_EVERY = 30.0


def wants_table(request: web.Request) -> bool:
    for part in request.headers.get("Accept", "").split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return True
        if part.strip().split(";")[0] in ("application/json", "*/*"):
            return False  # the client prefers plain objects
    return False


def _table(kind: str, objs: list[dict], request: web.Request, rv: str, *, no_headers: bool = False) -> dict:
    from ..present.table import table

    return table(kind, objs, now=datetime.now(timezone.utc), resource_version=rv, no_headers=no_headers,
                 include_object=request.query.get("includeObject", "Metadata"))


class Reads:
    def __init__(self, store: Store, *, bookmark_every: float = BOOKMARK_EVERY) -> None:
        self.store = store
        self.bookmark_every = bookmark_every

    def _filter(self, request: web.Request, kind: str):
        sel = request.query.get("labelSelector")
        sel_d = parse_selector_string(sel) if sel else None
        return sel_d, parse_field_selector(request.query.get("fieldSelector", ""), kind)

    def get(self, request: web.Request, t: Target, ns: str) -> web.Response:
        obj = self.store.peek(t.kind, ns, t.name)  # serialised right away, never mutated
        if obj is None:
            raise StoreError.not_found(t.kind, t.name)
        if wants_table(request):
            return web.json_response(_table(t.kind, [obj], request, obj["metadata"].get("resourceVersion", "")))
        return web.json_response(obj)

    def list(self, request: web.Request, t: Target) -> web.Response:
        sel, fields = self._filter(request, t.kind)
        items = self.store.list(t.kind, t.namespace if t.namespaced else None, sel, where=fields,
                                copy_=False)  # serialised right away, never mutated
        rv = str(self.store.rv)
        if wants_table(request):
            return web.json_response(_table(t.kind, items, request, rv))
        head = json.dumps({"kind": f"{t.kind}List", "apiVersion": KINDS[t.kind][0],
                           "metadata": {"resourceVersion": rv}}, separators=(",", ":"))
        body = head[:-1].encode() + b',"items":[' + b",".join(self.store.json_bytes(o) for o in items) + b"]}"
        return web.Response(body=body, content_type="application/json")

    async def watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        sel, fields = self._filter(request, t.kind)
        q = request.query
        rv = q.get("resourceVersion")
        since = int(rv) if rv not in (None, "", "0") else None
        as_table = wants_table(request)
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        sent = 0

        def line(etype: str, obj: dict) -> bytes:
            nonlocal sent
            if as_table and etype in ("ADDED", "MODIFIED", "DELETED"):
                obj = _table(t.kind, [obj], request, obj["metadata"].get("resourceVersion", ""), no_headers=sent > 0)
            sent += 1
            return json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode() + b"\n"

        def wanted(o: dict) -> bool:
            return o.get("kind") == t.kind and \
                not (t.namespaced and t.namespace and o["metadata"].get("namespace") != t.namespace) and \
                not (fields and not fields(o)) and \
                not (sel and not matches_selector(sel, o["metadata"].get("labels") or {}))

        async def stream() -> None:
            nonlocal since
            if since is None:
                for obj in self.store.list(t.kind, t.namespace if t.namespaced else None, sel, where=fields,
                                           copy_=False):
                    await resp.write(line("ADDED", obj))
                since = self.store.rv
            events = self.store.watch(since).__aiter__()
            # one pending __anext__ outlives each quiet spell: cancelling it would close the generator
            nxt = asyncio.ensure_future(events.__anext__())
            try:
                while True:
                    done, _ = await asyncio.wait({nxt}, timeout=self.bookmark_every if bookmarks else None)
                    if not done:
                        mark = {"kind": t.kind, "apiVersion": KINDS[t.kind][0],
                                "metadata": {"resourceVersion": str(self.store.rv)}}
                        await resp.write(line("BOOKMARK", mark))
                        continue
                    ev = nxt.result()
                    nxt = asyncio.ensure_future(events.__anext__())
                    if wanted(ev.object):
                        await resp.write(line(ev.type, ev.object))
            finally:
                nxt.cancel()  # runs the generator's own cleanup (its watcher queue goes) ...
                await asyncio.wait({nxt})  # ... before it is closed
                await events.aclose()

        try:
            await asyncio.wait_for(stream(), timeout)
        except asyncio.TimeoutError:
            pass
        except StoreError as e:
            with contextlib.suppress(ConnectionResetError):
                await resp.write(line("ERROR", status_body(e.code, e.reason, e.message)))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return resp
