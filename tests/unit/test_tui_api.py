"""ApiClient against the fake API: paths, auth, errors, watch relist, logs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_fake_api import TOKEN, FakeApi  # noqa: E402

from kubedeck.engine.state import Connection  # noqa: E402
from kubedeck.tui.api import ApiClient, ApiError, Disconnected, resource_path  # noqa: E402


def test_paths():
    assert resource_path("pods") == "/api/v1/pods"
    assert resource_path("pods", "ns", name="p") == "/api/v1/namespaces/ns/pods/p"
    assert resource_path("deployments", "ns", "apps/v1") == "/apis/apps/v1/namespaces/ns/deployments"
    assert resource_path("nodes", None, "v1", "n1") == "/api/v1/nodes/n1"


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
