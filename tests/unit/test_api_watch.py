"""Watch semantics of the API's reads on a real store and a real aiohttp server (no Docker):
resourceVersion resume, 410 Expired for a version older than the history, bookmarks,
timeoutSeconds, and the Table kubectl asks for."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kubedeck.engine.api import reads
from kubedeck.engine.paths import parse_path
from kubedeck.engine import store as store_mod
from kubedeck.engine.store import Store

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"}}


@pytest.fixture
async def api(tmp_path, monkeypatch):
    store = Store(tmp_path / "store.sqlite")
    store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    r = reads.Reads(store, bookmark_every=0.05)

    async def handle(request: web.Request):
        t = parse_path(request.path)
        if request.query.get("watch"):
            return await r.watch(request, t)
        return r.list(request, t)
    app = web.Application()
    app.router.add_get("/{rest:.*}", handle)
    async with TestClient(TestServer(app)) as client:
        yield store, client
    store.close()


async def _events(resp, n: int) -> list[dict]:
    out = []
    while len(out) < n:
        line = await resp.content.readline()
        if not line:
            break
        out.append(json.loads(line))
    return out


async def test_resume_from_a_resource_version(api):
    store, client = api
    first = store.create(CM)
    rv = first["metadata"]["resourceVersion"]
    store.update({**first, "data": {"x": "1"}})
    resp = await client.get("/api/v1/namespaces/default/configmaps", params={"watch": "1", "resourceVersion": rv})
    evs = await _events(resp, 1)
    assert [(e["type"], e["object"]["data"]) for e in evs] == [("MODIFIED", {"x": "1"})]


async def test_too_old_resource_version_is_410(api, monkeypatch):
    store, client = api
    monkeypatch.setattr(store_mod, "HISTORY_MAX", 2)
    first = store.create(CM)
    for i in range(5):
        store.update({**store.get("ConfigMap", "default", "a"), "data": {"i": str(i)}})
    resp = await client.get("/api/v1/namespaces/default/configmaps",
                            params={"watch": "1", "resourceVersion": first["metadata"]["resourceVersion"]})
    (ev,) = await _events(resp, 1)
    assert ev["type"] == "ERROR" and ev["object"]["code"] == 410 and ev["object"]["reason"] == "Expired"


def test_history_keeps_the_last_75_seconds_within_its_bounds(tmp_path, monkeypatch):
    """As the API server's watch cache: events older than 75 s go once more than 100 are
    kept, so the history (and the engine's memory) levels off under steady writes."""
    clock = [1000.0]
    monkeypatch.setattr(store_mod.time, "monotonic", lambda: clock[0])
    s = store_mod.Store(None)
    s.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    first = s.create(CM)
    for i in range(150):
        clock[0] += 1  # one write a second
        s.update({**s.get("ConfigMap", "default", "a"), "data": {"i": str(i)}})
    assert len(s._history) == 100  # the floor, though only 76 of them are from the last 75 s
    clock[0] += 1
    for i in range(300):  # a burst within one second: all of it is fresh, and kept
        s.update({**s.get("ConfigMap", "default", "a"), "data": {"j": str(i)}})
    assert len(s._history) == 75 + 300  # the writes of the last 75 s (t=1076..1150) and the burst
    assert s.oldest_rv() > int(first["metadata"]["resourceVersion"])


async def test_bookmarks_and_timeout(api):
    store, client = api
    store.create(CM)
    rv = str(store.rv)
    resp = await client.get("/api/v1/namespaces/default/configmaps",
                            params={"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true",
                                    "timeoutSeconds": "1"})
    evs = [json.loads(line) async for line in resp.content]  # ends after timeoutSeconds
    assert evs and all(e["type"] == "BOOKMARK" for e in evs)
    assert evs[-1]["object"]["metadata"]["resourceVersion"] == rv and evs[-1]["object"]["kind"] == "ConfigMap"


async def test_table_watch_sends_columns_once(api):
    store, client = api
    store.create(CM)
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    resp = await client.get("/api/v1/namespaces/default/configmaps", params={"watch": "1"},
                            headers={"Accept": accept})
    store.create({**CM, "metadata": {"name": "b", "namespace": "default"}})
    a, b = await _events(resp, 2)
    assert a["object"]["kind"] == "Table" and [c["name"] for c in a["object"]["columnDefinitions"]] == \
        ["Name", "Data", "Age"]
    assert b["object"]["columnDefinitions"] is None and b["object"]["rows"][0]["cells"][0] == "b"
