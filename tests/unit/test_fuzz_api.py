"""Fuzzing (hypothesis) the API's request decoding through the real aiohttp app
(engine/api/server.build_app on an in-process cluster, no Docker): create, replace and
patch bodies of any bytes, type and shape, and list/watch queries with any label and
field selectors. Nothing may answer 5xx: a request the server cannot use is a 4xx
Status. The limits (413 over 3 MiB, 400 for malformed or over-deep JSON, 422 for a name
that is not DNS-1123) are checked here and, against a live engine, in
tests/e2e/test_api_limits.py."""

from __future__ import annotations

import asyncio
import io
import json
import os

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubedeck.engine.paths import path_for
from kubedeck.engine.api.server import build_app
from kubedeck.engine.api.tokens import Tokens

from test_fuzz_input import PATCH_TYPES, json_op, json_values, objects, smp

API = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 60)), deadline=3000, derandomize=True,
               database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
API_HALF = settings(API, max_examples=API.max_examples // 2)  # two requests per example
TOKEN = "fuzz"
H = {"Authorization": f"Bearer {TOKEN}"}
DEP = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {
           "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
CTYPES = ["application/json", "application/yaml", "text/plain", "application/vnd.kubernetes.protobuf", ""]


class Api:
    """A real aiohttp server and client on a private loop, driven from sync tests
    (hypothesis runs each example as a plain call)."""

    def __init__(self, cluster):
        self.loop = asyncio.new_event_loop()
        self.client = TestClient(TestServer(build_app(cluster.store, cluster.objects, TOKEN, Tokens(cluster.store, TOKEN), kubelet=lambda: None,
                                                                status=cluster.status)), loop=self.loop)
        self.loop.run_until_complete(self.client.start_server())

    def __call__(self, method: str, path: str, **kw) -> tuple[int, bytes]:
        async def go():
            async with self.client.request(method, path, headers={**H, **kw.pop("headers", {})}, **kw) as r:
                return r.status, await r.read()
        return self.loop.run_until_complete(go())

    def close(self):
        self.loop.run_until_complete(self.client.close())
        self.loop.close()


@pytest.fixture
def api(cluster):
    a = Api(cluster)
    status, body = a("POST", path_for("Deployment", "default"), data=json.dumps(DEP),
                     headers={"Content-Type": "application/json"})
    assert status == 201, body
    yield a
    a.close()


def ok(status: int, body: bytes) -> None:
    assert status < 500, body[:500]
    if status >= 400:
        assert json.loads(body)["kind"] == "Status", body[:300]


@API
@given(body=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()),
       ctype=st.sampled_from(CTYPES), kind=st.sampled_from(["ConfigMap", "Pod", "Deployment", "Secret", "Service"]))
def test_create_with_any_body(api, body, ctype, kind):
    ok(*api("POST", path_for(kind, "default"), data=body, headers={"Content-Type": ctype}))


@API_HALF
@given(obj=objects())
def test_create_and_replace_with_manifest_shaped_objects(api, obj):
    kind = obj["kind"] if obj["kind"] in ("ConfigMap", "Pod", "Deployment", "Service", "Secret", "Job") else "ConfigMap"
    data = json.dumps(obj)
    ok(*api("POST", path_for(kind, "default"), data=data, headers={"Content-Type": "application/json"}))
    ok(*api("PUT", path_for("Deployment", "default", "web"), data=data, headers={"Content-Type": "application/json"}))


@API
@given(ctype=st.sampled_from(PATCH_TYPES + ["application/apply-patch+yaml", "application/json"]),
       body=st.one_of(smp, st.lists(json_op, max_size=4), json_values), cut=st.booleans())
def test_patch_with_any_body(api, ctype, body, cut):
    data = json.dumps(body)
    data = data[: len(data) // 2] if cut else data
    path = path_for("Deployment", "default", "web") + ("?fieldManager=fuzz" if "apply" in ctype else "")
    ok(*api("PATCH", path, data=data, headers={"Content-Type": ctype}))
    ok(*api("PATCH", path_for("Deployment", "default", "web") + "/scale", data=data,
            headers={"Content-Type": ctype}))


selector_text = st.text(alphabet="abc=!,() in notx./-_é\x7f%&#", max_size=30)


@API
@given(labels=selector_text, fields=selector_text | st.sampled_from(["metadata.name=web", "status.phase!=x"]),
       kind=st.sampled_from(["Pod", "Deployment", "Event", "Secret"]),
       extra=st.dictionaries(st.sampled_from(["limit", "resourceVersion", "continue", "timeoutSeconds",
                                              "resourceVersionMatch"]), st.text(max_size=6), max_size=2))
def test_list_with_any_selectors(api, labels, fields, kind, extra):
    ok(*api("GET", path_for(kind, "default"), params={"labelSelector": labels, "fieldSelector": fields, **extra}))


def test_the_body_limits(api):
    create = path_for("ConfigMap", "default")
    json_h = {"Content-Type": "application/json"}
    status, body = api("POST", create, data=io.BytesIO(b'{"a": "' + b"x" * (3 << 20) + b'"}'),
                       headers=json_h)
    assert status == 413 and json.loads(body)["reason"] == "RequestEntityTooLarge", body[:200]
    for deep in (b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
        status, body = api("POST", create, data=deep, headers=json_h)
        assert status == 400 and json.loads(body)["reason"] == "BadRequest", body[:200]
    status, body = api("PATCH", path_for("Deployment", "default", "web"), data=b"[" * 100_000,
                       headers={"Content-Type": "application/merge-patch+json"})
    assert status == 400, body[:200]
    status, body = api("POST", create, data=b'{"metadata": {"name": "a', headers=json_h)
    assert status == 400 and json.loads(body)["reason"] == "BadRequest"
    for name in ("Bad_Name", "UPPER", "-lead", "a" * 254, "dots..x", "sp ace"):
        status, body = api("POST", create, data=json.dumps({"metadata": {"name": name}}), headers=json_h)
        assert status == 422 and json.loads(body)["reason"] == "Invalid", (name, body[:200])
