"""OpenAPI documents: Swagger 2.0 (JSON and gnostic protobuf) and OpenAPI 3.0 per group-version."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml
from kubedeck.engine.api import discovery, openapi, openapi_pb
from kubedeck.engine.api.openapi_paths import path_prefix
from kubedeck.engine.manifests.kinds import KINDS

PB_ACCEPT = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json"
WRITE_PARAMS = {"dryRun", "fieldManager", "fieldValidation"}


@pytest.fixture(scope="module")
def swagger() -> dict:
    return json.loads(openapi.v2_body("application/json")[0])


def _walk(schema: dict, visit):
    """Call visit(d) on a schema and every schema nested in it (not on property-name maps)."""
    visit(schema)
    for sub in (schema.get("properties") or {}).values():
        _walk(sub, visit)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _walk(schema[key], visit)
    for sub in schema.get("allOf", ()):
        _walk(sub, visit)


def _refs(node) -> set[str]:
    """Every "$ref" value anywhere in a document (no definition has a property named $ref here)."""
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for k, v in node.items() if k != "properties"),
                           *(_refs(v) for v in (node.get("properties") or {}).values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _gvk(api_version: str, kind: str) -> dict:
    group, _, version = api_version.rpartition("/")
    return {"group": group, "kind": kind, "version": version}


def test_v2_refs_resolve_and_schemas_are_swagger_2(swagger):
    defs = swagger["definitions"]
    refs = _refs(swagger)
    assert refs and all(r.startswith("#/definitions/") for r in refs)
    missing = {r for r in refs if r.removeprefix("#/definitions/") not in defs}
    assert not missing
    problems = []

    def check(d):
        if isinstance(d.get("type"), list) or d.get("type") == "null":
            problems.append(("type", d["type"]))
        if "oneOf" in d or "nullable" in d or d.get("additionalProperties") is False:
            problems.append(("keyword", sorted(d)))
        if "$ref" in d and "type" in d:
            problems.append(("ref with type", d["$ref"]))

    for schema in defs.values():
        _walk(schema, check)
    assert not problems[:5]


def test_v2_keeps_descriptions_patch_strategies_and_merge_keys(swagger):
    defs = swagger["definitions"]
    containers = defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["items"] == {"$ref": "#/definitions/io.k8s.api.core.v1.Container"}
    assert defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]["x-kubernetes-patch-strategy"] == "retainKeys"
    assert defs["io.k8s.api.apps.v1.Deployment"]["description"].startswith("Deployment enables")
    # the JSON Schema form pinned apiVersion/kind with an enum; upstream has none
    assert "enum" not in defs["io.k8s.api.apps.v1.Deployment"]["properties"]["kind"]
    assert defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {"type": "string", "format": "int-or-string"}
    assert defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"


def test_v2_has_paths_and_a_definition_for_every_served_kind(swagger):
    defs, paths = swagger["definitions"], swagger["paths"]
    by_gvk = {}
    for name, schema in defs.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            by_gvk[(gvk["group"], gvk["version"], gvk["kind"])] = name
    for kind, info in KINDS.items():
        gvk = _gvk(info.api_version, kind)
        assert (gvk["group"], gvk["version"], kind) in by_gvk, kind
        coll = path_prefix(info.api_version) + ("/namespaces/{namespace}" if info.namespaced else "") + "/" + info.plural
        item = paths[coll + "/{name}"]
        assert paths[coll]["get"]["x-kubernetes-action"] == "list"
        assert paths[coll]["post"]["x-kubernetes-action"] == "post"
        for method in ("get", "put", "patch", "delete"):
            assert item[method]["x-kubernetes-group-version-kind"] == gvk, (kind, method)
        assert WRITE_PARAMS <= {p["name"] for p in item["patch"]["parameters"]}
        assert item["get"]["responses"]["200"]["schema"]["$ref"] == "#/definitions/" + by_gvk[(gvk["group"], gvk["version"], kind)]
        if info.namespaced:
            assert paths[path_prefix(info.api_version) + "/" + info.plural]["get"]["x-kubernetes-action"] == "list"


def test_v2_paths_are_the_discovered_resources(swagger):
    expected = set()
    for gv in {info.api_version for info in KINDS.values()}:
        for r in discovery.resource_list(gv)["resources"]:
            plural, _, sub = r["name"].partition("/")
            kind = next(k for k, i in KINDS.items() if i.api_version == gv and i.plural == plural)
            ns = "/namespaces/{namespace}" if r["namespaced"] else ""
            expected.add(f"{path_prefix(gv)}{ns}/{plural}" + (f"/{{name}}/{sub}" if sub else ""))
            if not sub and KINDS[kind].namespaced:
                expected.add(f"{path_prefix(gv)}/{plural}")
    served = {p for p in swagger["paths"] if not p.endswith("/{name}")}
    assert served == expected
    scale = swagger["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["get"]["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "kind": "Scale", "version": "v1"}
    assert scale["put"]["parameters"][0]["schema"] == {"$ref": "#/definitions/io.k8s.api.autoscaling.v1.Scale"}
    assert swagger["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/exec"]["post"]["x-kubernetes-action"] == "connect"
    # definitions are only those the paths reach
    assert "io.k8s.api.storage.v1.CSINode" not in swagger["definitions"]


def _schema_dict(msg) -> dict:
    """Back from a gnostic Schema message to Swagger JSON (the test's own decoder)."""
    out = {}
    for key, field in (("$ref", "_ref"), ("format", "format"), ("description", "description")):
        if getattr(msg, field):
            out[key] = getattr(msg, field)
    if msg.required:
        out["required"] = list(msg.required)
    if msg.type.value:
        (out["type"],) = msg.type.value
    if msg.items.schema:
        (item,) = msg.items.schema
        out["items"] = _schema_dict(item)
    if msg.HasField("properties"):
        out["properties"] = {p.name: _schema_dict(p.value) for p in msg.properties.additional_properties}
    if msg.additional_properties.HasField("schema"):
        out["additionalProperties"] = _schema_dict(msg.additional_properties.schema)
    for ext in msg.vendor_extension:
        out[ext.name] = yaml.safe_load(ext.value.yaml)
    return out


def test_protobuf_round_trips_every_definition_and_operation(swagger):
    body, ctype = openapi.v2_body(PB_ACCEPT)
    assert ctype == openapi.PROTOBUF_V2
    doc = openapi_pb.message_class("Document").FromString(body)
    assert doc.swagger == "2.0"
    decoded = {d.name: _schema_dict(d.value) for d in doc.definitions.additional_properties}
    assert list(decoded) == list(swagger["definitions"])
    assert decoded == swagger["definitions"]
    assert [p.name for p in doc.paths.path] == list(swagger["paths"])
    item = next(p.value for p in doc.paths.path if p.name == "/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    ext = {e.name: yaml.safe_load(e.value.yaml) for e in item.patch.vendor_extension}
    assert ext == {"x-kubernetes-action": "patch",
                   "x-kubernetes-group-version-kind": {"group": "apps", "kind": "Deployment", "version": "v1"}}
    query = {p.parameter.non_body_parameter.query_parameter_sub_schema.name for p in item.patch.parameters}
    assert WRITE_PARAMS <= query
    assert item.patch.parameters[0].parameter.body_parameter.schema._ref.endswith("meta.v1.Patch")
    (ok,) = [r for r in item.get.responses.response_code if r.name == "200"]
    assert ok.value.response.schema.schema._ref == "#/definitions/io.k8s.api.apps.v1.Deployment"


def test_protobuf_encoder_knows_every_schema_keyword_used(swagger):
    used: set[str] = set()
    for schema in swagger["definitions"].values():
        _walk(schema, lambda d: used.update(k for k in d if not k.startswith("x-")))
    assert used <= openapi_pb.SCHEMA_KEYS, used - openapi_pb.SCHEMA_KEYS


def test_v2_reply_negotiates_caches_and_answers_if_none_match():
    pb = openapi.v2_reply(accept=PB_ACCEPT)
    js = openapi.v2_reply(accept="application/json")
    assert pb.status == js.status == 200
    assert pb.headers["Content-Type"] == openapi.PROTOBUF_V2 and js.headers["Content-Type"] == "application/json"
    assert pb.headers["ETag"] != js.headers["ETag"]
    assert openapi.v2_body(PB_ACCEPT)[0] is pb.body  # built once, kept
    again = openapi.v2_reply(accept=PB_ACCEPT, if_none_match=pb.headers["ETag"])
    assert again.status == 304 and again.body == b""
    assert openapi.v2_reply(accept="", if_none_match=pb.headers["ETag"]).status == 200


def test_v3_index_names_every_group_version_with_its_hash():
    index = openapi.v3_index()["paths"]
    assert set(index) == {path_prefix(info.api_version).lstrip("/") for info in KINDS.values()}
    for key, entry in index.items():
        url, _, digest = entry["serverRelativeURL"].partition("?hash=")
        assert url == f"/openapi/v3/{key}"
        assert digest == hashlib.sha512(openapi.v3_document(key)).hexdigest().upper()
    assert openapi.v3_document("apis/nothing/v1") is None


@pytest.mark.parametrize("key", ["api/v1", "apis/apps/v1", "apis/networking.k8s.io/v1"])
def test_v3_documents_resolve_and_declare_server_side_validation(key):
    doc = json.loads(openapi.v3_document(key))
    assert doc["openapi"].startswith("3.0")
    schemas = doc["components"]["schemas"]
    refs = _refs(doc)
    assert refs and all(r.startswith("#/components/schemas/") for r in refs)
    assert {r.removeprefix("#/components/schemas/") for r in refs} <= set(schemas)
    problems = []
    for schema in schemas.values():
        _walk(schema, lambda d: problems.append(d) if "$ref" in d and len(d) > 1 else None)
    assert not problems[:3], "a $ref with siblings must sit in allOf"
    strategy = schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"] if key == "apis/apps/v1" else None
    if strategy:
        assert strategy["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}]
        assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"
    served = [kind for kind, info in KINDS.items() if path_prefix(info.api_version).lstrip("/") == key]
    patches = [item["patch"] for item in doc["paths"].values() if "patch" in item]
    for kind in served:
        ops = [op for op in patches if op["x-kubernetes-group-version-kind"]["kind"] == kind]
        assert ops, kind
        for op in ops:
            assert WRITE_PARAMS <= {p["name"] for p in op["parameters"] if p["in"] == "query"}
            assert "application/strategic-merge-patch+json" in op["requestBody"]["content"]


def test_v3_reply_caches_by_hash_and_redirects_a_stale_one():
    digest = openapi.v3_index()["paths"]["apis/apps/v1"]["serverRelativeURL"].split("hash=")[1]
    fresh = openapi.v3_reply("apis/apps/v1", hash=digest)
    assert fresh.status == 200 and "immutable" in fresh.headers["Cache-Control"]
    assert fresh.body == openapi.v3_document("apis/apps/v1")
    plain = openapi.v3_reply("apis/apps/v1")
    assert plain.status == 200 and "no-cache" in plain.headers["Cache-Control"]
    stale = openapi.v3_reply("apis/apps/v1", hash="0" * 128)
    assert stale.status == 301 and stale.headers["Location"] == f"/openapi/v3/apis/apps/v1?hash={digest}"
    assert openapi.v3_reply("apis/apps/v1", if_none_match=fresh.headers["ETag"]).status == 304
    assert openapi.v3_reply("apis/apps/v2") is None
