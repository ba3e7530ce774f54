"""Options of the API's writes, through a real aiohttp server: `fieldValidation`
(engine/objects.py unknown_fields, engine/api/writes.py): Strict refuses unknown fields,
Warn (the default: what client libraries get) drops them with a Warning header each,
Ignore drops them silently, on create, update, patch and server-side apply; and a DELETE
on a collection (deletecollection) with the list's selectors."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from kubedeck.engine.api.server import build_app
from kubedeck.engine.api.tokens import Tokens

H = {"Authorization": "Bearer t", "Content-Type": "application/json"}
CM = "/api/v1/namespaces/default/configmaps"
DEP = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
           "metadata": {"labels": {"app": "web"}},
           "spec": {"containers": [{"name": "c", "image": "busybox", "bogus": 1,
                                    "ports": [{"containerPort": 80, "containerPorts": 81}]}]}}}}


@pytest.fixture
def call(cluster):
    loop = asyncio.new_event_loop()
    client = TestClient(TestServer(build_app(cluster.store, cluster.objects, "t", Tokens(cluster.store, "t"),
                                             kubelet=lambda: None, status=cluster.status)), loop=loop)
    loop.run_until_complete(client.start_server())

    def go(method: str, path: str, body, **headers) -> tuple[int, dict, list[str]]:
        async def run():
            data = None if body is None else json.dumps(body)
            async with client.request(method, path, data=data, headers={**H, **headers}) as r:
                return r.status, await r.json(), r.headers.getall("Warning", [])
        return loop.run_until_complete(run())
    yield go
    loop.run_until_complete(client.close())
    loop.close()


def test_unknown_fields_by_mode(call):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}, "foo": 1}
    status, body, _ = call("POST", CM + "?fieldValidation=Strict", cm)
    assert status == 400 and body["message"].endswith('strict decoding error: unknown field "foo"')
    status, body, warnings = call("POST", CM, cm)  # no fieldValidation: the server's default, Warn
    assert status == 201 and "foo" not in body and body["data"] == {"k": "v"}
    assert warnings == ['299 - "unknown field \\"foo\\""']
    status, body, warnings = call("POST", CM + "?fieldValidation=Ignore", {**cm, "metadata": {"name": "b"}})
    assert status == 201 and "foo" not in body and warnings == []
    status, body, _ = call("POST", CM + "?fieldValidation=Sometimes", cm)
    assert status == 400 and "fieldValidation" in body["message"]
    # nested, in lists, on a Deployment: each dropped where it was, the rest kept
    status, body, warnings = call("POST", "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Warn", DEP)
    assert status == 201, body
    c = body["spec"]["template"]["spec"]["containers"][0]
    assert "bogus" not in c and "containerPorts" not in c["ports"][0] and c["ports"][0]["containerPort"] == 80
    assert sorted(warnings) == ['299 - "unknown field \\"spec.template.spec.containers[0].bogus\\""',
                                '299 - "unknown field \\"spec.template.spec.containers[0].ports[0].containerPorts\\""']


def test_update_patch_and_apply_follow_the_mode(call):
    call("POST", CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}})
    status, body, warnings = call("PATCH", CM + "/a", {"zap": 1}, **{"Content-Type": "application/merge-patch+json"})
    assert status == 200 and "zap" not in body and warnings == ['299 - "unknown field \\"zap\\""']
    status, body, _ = call("PATCH", CM + "/a?fieldValidation=Strict", {"zap": 1},
                           **{"Content-Type": "application/merge-patch+json"})
    assert status == 400
    live = call("GET", CM + "/a", None)[1]
    status, body, warnings = call("PUT", CM + "/a?fieldValidation=Ignore", {**live, "zap": 2})
    assert status == 200 and "zap" not in body and warnings == []
    applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "w"}, "zap": 3}
    status, body, warnings = call("PATCH", CM + "/a?fieldManager=me&force=true", applied,
                                  **{"Content-Type": "application/apply-patch+yaml"})
    assert status == 200 and body["data"] == {"k": "w"} and "zap" not in body, body
    assert warnings == ['299 - "unknown field \\"zap\\""']
    status, body, _ = call("PATCH", CM + "/a?fieldManager=me&force=true&fieldValidation=Strict", applied,
                           **{"Content-Type": "application/apply-patch+yaml"})
    assert status == 400 and 'unknown field "zap"' in body["message"]


def test_delete_collection_takes_the_lists_selectors(call):
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        call("POST", CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"team": team}}})
    status, body, _ = call("DELETE", CM + "?labelSelector=team%3Dx&dryRun=All", None)
    assert status == 200 and sorted(i["metadata"]["name"] for i in body["items"]) == ["a", "b"]
    assert len(call("GET", CM, None)[1]["items"]) == 3  # a dry run deletes nothing
    status, body, _ = call("DELETE", CM + "?labelSelector=team%3Dx", None)
    assert status == 200 and body["kind"] == "ConfigMapList" and len(body["items"]) == 2
    assert [i["metadata"]["name"] for i in call("GET", CM, None)[1]["items"]] == ["c"]
    status, body, _ = call("DELETE", CM + "?fieldSelector=metadata.name%3Dc", {"propagationPolicy": "Background"})
    assert status == 200 and [i["metadata"]["name"] for i in body["items"]] == ["c"]
    assert call("GET", CM, None)[1]["items"] == []
    status, body, _ = call("DELETE", "/api/v1/namespaces", None)
    assert status == 405 and body["reason"] == "MethodNotAllowed"
    status, doc, _ = call("GET", "/api/v1", None)
    verbs = {r["name"]: r["verbs"] for r in doc["resources"]}
    assert "deletecollection" in verbs["configmaps"] and "deletecollection" not in verbs["namespaces"]
