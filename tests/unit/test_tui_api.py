"""The API clients: shared paths and errors, then ApiClient against the fake API (auth, watch relist, logs)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_fake_api import TOKEN, FakeApi  # noqa: E402

from kubedeck.engine.client import ApiError, Client, log_params  # noqa: E402
from kubedeck.engine.paths import path_for, resource_path  # noqa: E402
from kubedeck.engine.state import Connection  # noqa: E402
from kubedeck.tui.api import ApiClient, Disconnected  # noqa: E402


def test_paths():
    assert resource_path("pods") == "/api/v1/pods"
    assert resource_path("pods", "ns", name="p") == "/api/v1/namespaces/ns/pods/p"
    assert resource_path("deployments", "ns", "apps/v1") == "/apis/apps/v1/namespaces/ns/deployments"
    assert resource_path("nodes", None, "v1", "n1") == "/api/v1/nodes/n1"
    # the by-kind shortcut is the same builder; a cluster-scoped kind drops the namespace
    assert path_for("Deployment", "ns", "web") == resource_path("deployments", "ns", "apps/v1", "web")
    assert path_for("Node", "ns", "n1") == "/api/v1/nodes/n1"
    assert path_for("Ingress", "ns") == "/apis/networking.k8s.io/v1/namespaces/ns/ingresses"


def test_api_error_from_any_answer():
    status = {"kind": "Status", "code": 409, "reason": "AlreadyExists", "message": 'pods "a" already exists'}
    err = ApiError.from_response(httpx.Response(409, json=status))
    assert (err.code, err.reason, err.message) == (409, "AlreadyExists", 'pods "a" already exists')
    assert str(err) == '409 AlreadyExists: pods "a" already exists'
    # a proxy's page or a JSON body that is not a Status: its text, cut short
    err = ApiError.from_response(httpx.Response(502, text="<html>" + "x" * 2000))
    assert (err.code, err.reason, err.message[:6], len(err.message)) == (502, "", "<html>", 500)
    err = ApiError.from_response(httpx.Response(500, json=["not", "a", "status"]))
    assert err.message == '["not","a","status"]' and str(err) == '500: ["not","a","status"]'


def test_log_params():
    assert log_params() == {}
    assert log_params(container="", follow=True, tail=0, previous=True, since_seconds=30) == {
        "follow": "true", "tailLines": "0", "previous": "true", "sinceSeconds": "30"}


def test_connection_info(tmp_path):
    (tmp_path / "api.json").write_text('{"url": "https://127.0.0.1:1", "token": "t", "ca": "/x/ca.crt", "pid": 1}')
    assert Connection.from_state(tmp_path) == Connection("https://127.0.0.1:1", "t", "/x/ca.crt")


@pytest.fixture
async def fake():
    api = FakeApi()
    api.add("pods", {"metadata": {"name": "a", "namespace": "default"}})
    await api.start()
    yield api
    await api.stop()


async def test_list_patch_delete_and_auth(fake):
    client = ApiClient(fake.url, TOKEN)
    items, rv = await client.list("pods")
    assert [i["metadata"]["name"] for i in items] == ["a"] and rv.isdigit()
    await client.patch_merge("pods", "default", "a", {"metadata": {"labels": {"x": "y"}}})
    assert fake.find("pods", "a")["metadata"]["labels"] == {"x": "y"}
    with pytest.raises(ApiError) as err:
        await client.delete("pods", "default", "missing")
    assert err.value.code == 404 and err.value.reason == "NotFound"
    await client.delete("pods", "default", "a", grace_period_seconds=0)
    assert fake.calls("DELETE")[-1].query == {"gracePeriodSeconds": "0"}
    await client.aclose()
    bad = ApiClient(fake.url, "wrong")
    with pytest.raises(ApiError) as err:
        await bad.list("pods")
    assert err.value.code == 401
    await bad.aclose()


async def test_both_clients_raise_the_same_error(fake):
    """The CLI's sync client and the TUI's async one read a Status into one ApiError."""
    sync = Client(Connection(fake.url, TOKEN))
    with pytest.raises(ApiError) as sync_err:
        await asyncio.to_thread(sync.get, "Pod", "default", "missing")
    sync.close()
    client = ApiClient(fake.url, TOKEN)
    with pytest.raises(ApiError) as async_err:
        await client.get("pods", "default", "missing")
    await client.aclose()
    assert fake.calls("GET")[-1].path == fake.calls("GET")[-2].path == "/api/v1/namespaces/default/pods/missing"
    assert (sync_err.value.code, sync_err.value.reason) == (404, "NotFound")
    assert str(sync_err.value) == str(async_err.value) and sync_err.value.message == async_err.value.message


async def test_unreachable_raises_disconnected():
    client = ApiClient("http://127.0.0.1:9", TOKEN)
    with pytest.raises(Disconnected):
        await client.status()
    await client.aclose()


async def test_watch_streams_and_relists_after_outage(fake):
    client = ApiClient(fake.url, TOKEN, retry_delay=lambda n: 0.01)
    items, rv = await client.list("pods")
    known = {i["metadata"]["uid"]: i for i in items}
    stream = client.watch("pods", rv, known=known)
    fake.inject("pods", "ADDED", {"metadata": {"name": "b", "namespace": "default"}})
    kind, obj = await anext(stream)
    assert (kind, obj["metadata"]["name"]) == ("ADDED", "b")
    await fake.stop()
    kind, _ = await anext(stream)
    assert kind == "DISCONNECTED"
    # while down, "a" goes away and "c" appears; the relist must report both
    fake.objects["pods"].pop(next(u for u, o in fake.objects["pods"].items() if o["metadata"]["name"] == "a"))
    fake.add("pods", {"metadata": {"name": "c", "namespace": "default"}})
    fake.history.clear()
    await fake.start_again()
    seen = {}
    while len(seen) < 3:
        kind, obj = await anext(stream)
        seen[kind] = obj.get("metadata", {}).get("name")
    assert seen == {"RECONNECTED": None, "DELETED": "a", "ADDED": "c"}
    await stream.aclose()
    await client.aclose()


async def test_logs(fake):
    fake.logs[("default", "a")] = ["one", "two"]
    client = ApiClient(fake.url, TOKEN)
    lines = [line async for line in client.logs("default", "a", follow=False, tail=10, timestamps=True)]
    assert lines == ["one", "two"]
    call = fake.calls("GET")[-1]
    assert call.path == "/api/v1/namespaces/default/pods/a/log"
    assert call.query == {"tailLines": "10", "timestamps": "true"}
    await client.aclose()
