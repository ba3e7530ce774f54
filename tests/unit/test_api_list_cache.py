"""The plain LIST body cache of the API's reads (issue 18), on a real store and a real
aiohttp server (no Docker): a body is built once per store revision and served again
byte for byte; any write builds a fresh one; selectors, Tables and namespaces are never
answered from another request's body; a body over 128 KiB goes gzip-compressed to a
client that accepts it, as the API server does."""

from __future__ import annotations

import gzip
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kubedeck.engine.api import reads
from kubedeck.engine.paths import parse_path
from kubedeck.engine.store import Store

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def cm(name: str, ns: str = "default", data: str = "", **labels) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "labels": labels}, "data": {"d": data}}


@pytest.fixture
async def api(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    for ns in ("default", "other"):
        store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    r = reads.Reads(store)
    built: list[int] = []
    real = store.list

    def counting_list(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)
    store.list = counting_list

    async def handle(request: web.Request):
        return r.list(request, parse_path(request.path))
    app = web.Application()
    app.router.add_get("/{rest:.*}", handle)
    async with TestClient(TestServer(app)) as client:
        yield store, client, built
    store.close()


async def get(client, path: str, **kw) -> tuple[bytes, dict]:
    resp = await client.get(path, auto_decompress=False, **kw)
    assert resp.status == 200
    return await resp.read(), dict(resp.headers)


async def test_a_plain_list_is_built_once_per_revision(api):
    store, client, built = api
    store.create(cm("a", app="x"))
    store.create(cm("b"))
    url = "/api/v1/namespaces/default/configmaps"
    first, _ = await get(client, url)
    again, _ = await get(client, url)
    assert again == first and len(built) == 1
    body = json.loads(first)
    assert [o["metadata"]["name"] for o in body["items"]] == ["a", "b"]
    assert body["metadata"]["resourceVersion"] == str(store.rv)
    store.create(cm("c", ns="other"))  # a write anywhere: the list's resourceVersion moves
    third, _ = await get(client, url)
    assert len(built) == 2 and json.loads(third)["metadata"]["resourceVersion"] == str(store.rv)
    assert [o["metadata"]["name"] for o in json.loads(third)["items"]] == ["a", "b"]


async def test_selectors_tables_and_namespaces_get_their_own_answer(api):
    store, client, built = api
    store.create(cm("a", app="x"))
    store.create(cm("b"))
    store.create(cm("c", ns="other"))
    await get(client, "/api/v1/namespaces/default/configmaps")  # cached, and must not leak below
    sel, _ = await get(client, "/api/v1/namespaces/default/configmaps", params={"labelSelector": "app=x"})
    assert [o["metadata"]["name"] for o in json.loads(sel)["items"]] == ["a"]
    fld, _ = await get(client, "/api/v1/namespaces/default/configmaps", params={"fieldSelector": "metadata.name=b"})
    assert [o["metadata"]["name"] for o in json.loads(fld)["items"]] == ["b"]
    other, _ = await get(client, "/api/v1/namespaces/other/configmaps")
    assert [o["metadata"]["name"] for o in json.loads(other)["items"]] == ["c"]
    every, _ = await get(client, "/api/v1/configmaps")
    assert [o["metadata"]["name"] for o in json.loads(every)["items"]] == ["a", "b", "c"]
    table, _ = await get(client, "/api/v1/namespaces/default/configmaps", headers={"Accept": TABLE})
    assert json.loads(table)["kind"] == "Table" and len(json.loads(table)["rows"]) == 2
    assert len(built) == 6, "a request was answered from another one's body"


async def test_a_large_body_is_gzipped_for_a_client_that_accepts_it(api):
    store, client, _ = api
    for i in range(40):
        store.create(cm(f"cm{i:02d}", data="x" * 4096))
    url = "/api/v1/namespaces/default/configmaps"
    plain, h1 = await get(client, url, headers={"Accept-Encoding": "identity"})
    assert len(plain) > reads.GZIP_OVER and "Content-Encoding" not in h1
    for _ in range(2):  # compressed once the revision is asked for again, then kept
        packed, h2 = await get(client, url, headers={"Accept-Encoding": "gzip, deflate"})
        assert h2["Content-Encoding"] == "gzip" and "Accept-Encoding" in h2["Vary"]
        assert gzip.decompress(packed) == plain and len(packed) < len(plain) / 10
    again, h3 = await get(client, url, headers={"Accept-Encoding": "identity"})
    assert again == plain and "Content-Encoding" not in h3
    small = "/api/v1/namespaces/other/configmaps"
    for _ in range(2):
        _, h4 = await get(client, small, headers={"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in h4
