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

A plain JSON LIST (no label or field selector, not a Table) is kept serialised per
(kind, namespace) with the store revision it was made at, and served again while the
store has not changed: 20 clients listing 500 pods get one body built once, not 20
(each object's bytes are cached by the store already; joining, sorting and filtering
500 of them still cost a few ms of the one event loop per request). The key is all the
plain output depends on: the store revision is the list's own resourceVersion, so any
write anywhere makes the next LIST build a fresh body. Tables and selected lists are
built per request (the Table has ages in it; selectors are per client).

Such a body over 128 KiB goes gzip-compressed (level 1) to a client that accepts gzip,
as the API server does (APIResponseCompression: the same threshold and level; kubectl
and client-go ask for gzip). It is compressed once, when the same revision is asked for
a second time, and kept beside the plain bytes: under churn every LIST is new and
compressing it would cost more than sending it, while 20 clients polling an idle cluster
get ~10x fewer bytes through TLS, which was most of a cached LIST's cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from datetime import datetime, timezone

from aiohttp import web

from ..manifests.kinds import KINDS
from ..selectors import matches_selector, parse_selector_string
from ..store import Store, StoreError
from .fields import parse_field_selector
from ..paths import Target
from .status import status_body

BOOKMARK_EVERY = 30.0
LIST_BODIES = 64  # plain LIST bodies kept, one per (kind, namespace), oldest dropped first
GZIP_OVER = 128 * 1024  # the API server's defaultGzipThresholdBytes


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
        # (kind, ns) -> [store rv, body, gzipped body or None]
        self._bodies: dict[tuple[str, str | None], list] = {}

    def _filter(self, request: web.Request, kind: str):
        sel = request.query.get("labelSelector")
        sel_d = parse_selector_string(sel) if sel else None
        return sel_d, parse_field_selector(request.query.get("fieldSelector", ""), kind)

    def selection(self, request: web.Request, t: Target) -> list[dict]:
        """The objects a list with this request's selectors gives (deletecollection's)."""
        sel, fields = self._filter(request, t.kind)
        return self.store.list(t.kind, t.namespace if t.namespaced else None, sel, where=fields)

    def get(self, request: web.Request, t: Target, ns: str) -> web.Response:
        obj = self.store.peek(t.kind, ns, t.name)  # serialised right away, never mutated
        if obj is None:
            raise StoreError.not_found(t.kind, t.name)
        if wants_table(request):
            return web.json_response(_table(t.kind, [obj], request, obj["metadata"].get("resourceVersion", "")))
        return web.json_response(obj)

    def list(self, request: web.Request, t: Target) -> web.Response:
        sel, fields = self._filter(request, t.kind)
        ns = t.namespace if t.namespaced else None
        table = wants_table(request)
        key = None if sel or fields or table else (t.kind, ns)
        revision = self.store.rv
        hit = self._bodies.get(key) if key else None
        if hit is not None and hit[0] == revision:
            if len(hit[1]) > GZIP_OVER and "gzip" in request.headers.get("Accept-Encoding", ""):
                if hit[2] is None:
                    hit[2] = zlib.compress(hit[1], 1, wbits=31)  # wbits 31: the gzip container
                return web.Response(body=hit[2], content_type="application/json",
                                    headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
            return web.Response(body=hit[1], content_type="application/json")
        items = self.store.list(t.kind, ns, sel, where=fields, copy_=False)  # serialised right away, never mutated
        rv = str(revision)
        if table:
            return web.json_response(_table(t.kind, items, request, rv))
        head = json.dumps({"kind": f"{t.kind}List", "apiVersion": KINDS[t.kind][0],
                           "metadata": {"resourceVersion": rv}}, separators=(",", ":"))
        body = head[:-1].encode() + b',"items":[' + b",".join(self.store.json_bytes(o) for o in items) + b"]}"
        if key:
            self._bodies.pop(key, None)  # re-inserted last: the dict's order is the age order
            self._bodies[key] = [revision, body, None]
            if len(self._bodies) > LIST_BODIES:
                del self._bodies[next(iter(self._bodies))]
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
