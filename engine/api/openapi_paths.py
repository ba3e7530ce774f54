"""The REST operations kubedeck serves, described once and rendered as OpenAPI paths.

Operations come from the kinds table (``KINDS``: group/version, plural, scope) and the
subresources discovery advertises (``discovery.SUBRESOURCES``), laid out as
kube-apiserver lays out its own: a collection path (list, create), an item path (read,
replace, patch, delete), an all-namespaces list for namespaced kinds, and the
subresources. Each operation carries ``x-kubernetes-action`` and
``x-kubernetes-group-version-kind``, which is how kubectl ties a path to a kind.

Write operations list the ``dryRun``, ``fieldManager`` and ``fieldValidation`` query
parameters inline (not by ``$ref``): kubectl's query-parameter verifier reads the PATCH
operation's own parameter names to decide that the server validates fields itself.

``operations()`` gives the neutral description; ``v2_path_item`` and ``v3_path_item``
render one path for Swagger 2.0 and OpenAPI 3.0.
"""

from __future__ import annotations

from typing import NamedTuple

from ..manifests.kinds import KINDS, group_of
from . import discovery
from .openapi_schemas import V2_PREFIX, V3_PREFIX, definition_for

__all__ = ["Op", "Param", "operations", "path_prefix", "v2_path_item", "v3_path_item"]

_JSON = ["application/json"]
_PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json", "application/apply-patch+yaml"]
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
STRING = "string"  # a response that is text, not a definition


class Param(NamedTuple):
    name: str
    where: str  # "path" or "query"
    type: str
    description: str


class Op(NamedTuple):
    method: str
    action: str
    op_id: str
    description: str
    gvk: dict
    params: tuple[Param, ...]
    body: str | None  # definition name of the request body
    response: str  # definition name, or STRING
    consumes: tuple[str, ...] = ("*/*",)


_NAME = Param("name", "path", "string", "name of the object")
_NAMESPACE = Param("namespace", "path", "string", "object name and auth scope, such as for teams and projects")
_PRETTY = Param("pretty", "query", "string", "If 'true', then the output is pretty printed.")
_WRITE = (
    Param("dryRun", "query", "string", "When present, indicates that modifications should not be persisted. "
          "Valid values are: - All: all dry run stages will be processed"),
    Param("fieldManager", "query", "string", "a name associated with the actor or entity that is making these changes."),
    Param("fieldValidation", "query", "string", "instructs the server on how to handle objects in the request "
          "containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict."),
)
_FORCE = Param("force", "query", "boolean", "Force is going to \"force\" Apply requests.")
_LIST = tuple(Param(n, "query", t, d) for n, t, d in (
    ("labelSelector", "string", "A selector to restrict the list of returned objects by their labels."),
    ("fieldSelector", "string", "A selector to restrict the list of returned objects by their fields."),
    ("resourceVersion", "string", "resourceVersion sets a constraint on what resource versions a request may be served from."),
    ("watch", "boolean", "Watch for changes to the described resources and return them as a stream."),
    ("limit", "integer", "limit is a maximum number of responses to return for a list call."),
    ("continue", "string", "The continue option should be set when retrieving more results from the server."),
    ("timeoutSeconds", "integer", "Timeout for the list/watch call."),
))
_DELETE = (
    Param("dryRun", "query", "string", _WRITE[0].description),
    Param("gracePeriodSeconds", "query", "integer", "The duration in seconds before the object should be deleted."),
    Param("propagationPolicy", "query", "string", "Whether and how garbage collection will be performed."),
)


def path_prefix(api_version: str) -> str:
    """``/api/v1`` for the core group, ``/apis/G/V`` for the others."""
    return f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"


def _camel(api_version: str) -> str:
    """``networking.k8s.io/v1`` -> ``NetworkingV1``; ``v1`` -> ``CoreV1`` (operation ids)."""
    group = group_of(api_version).removesuffix(".k8s.io") or "core"
    version = api_version.rsplit("/", 1)[-1]
    return "".join(w[:1].upper() + w[1:] for w in group.split(".")) + version[:1].upper() + version[1:]


def _gvk(api_version: str, kind: str) -> dict:
    return {"group": group_of(api_version), "kind": kind, "version": api_version.rsplit("/", 1)[-1]}


_LOG = (Param("container", "query", "string", "The container for which to stream logs."),
        Param("follow", "query", "boolean", "Follow the log stream of the pod."),
        Param("tailLines", "query", "integer", "The number of lines from the end of the logs to show."),
        Param("timestamps", "query", "boolean", "Add an RFC3339 timestamp to every line."),
        Param("previous", "query", "boolean", "Return previous terminated container logs."))
# discovery verb -> (HTTP method, operation id verb)
_SUB_VERBS = {"get": ("get", "read"), "create": ("post", "create"), "patch": ("patch", "patch"),
              "update": ("put", "replace")}


def _subresource_ops(kind: str, info, entries: list[dict], item_path: str, camel: str) -> dict[str, list[Op]]:
    """Operations of one kind's subresources, from discovery's entries (verbs, response kind)."""
    out: dict[str, list[Op]] = {}
    for entry in entries:
        resource, _, sub = entry["name"].partition("/")
        if resource != info.plural or not sub:
            continue
        sub_gv = f"{entry['group']}/{entry['version']}" if entry.get("group") else info.api_version
        gvk = _gvk(sub_gv, entry["kind"])
        name = ("Namespaced" if info.namespaced else "") + kind + sub[:1].upper() + sub[1:]
        # exec, attach and portforward are upgrades (action connect); log is text
        connect = entry["kind"].endswith("Options")
        target = STRING if connect or sub == "log" else definition_for(sub_gv, entry["kind"])
        ops = []
        for verb in entry["verbs"]:
            method, word = _SUB_VERBS[verb]
            if connect:
                ops.append(Op(method, "connect", f"connect{camel}{method.capitalize()}{name}",
                              f"connect {method.upper()} requests to {sub} of {kind}", gvk, (), None, STRING))
            elif method == "patch":
                ops.append(Op(method, method, f"patch{camel}{name}", f"partially update {sub} of {kind}",
                              gvk, _WRITE + (_FORCE,), _META + "Patch", target, tuple(_PATCH_TYPES)))
            else:
                body = target if method in ("put", "post") else None
                ops.append(Op(method, method, f"{word}{camel}{name}", f"{word} {sub} of {kind}", gvk,
                              _LOG if sub == "log" else _WRITE if body else (), body, target))
        out[f"{item_path}/{sub}"] = ops
    return out


def operations(api_version: str) -> dict[str, list[Op]]:
    """Path -> operations for every kind kubedeck serves in ``api_version``."""
    camel = _camel(api_version)
    prefix = path_prefix(api_version)
    paths: dict[str, list[Op]] = {}
    entries = (discovery.resource_list(api_version) or {}).get("resources", [])
    for kind, info in sorted(KINDS.items()):
        if info.api_version != api_version:
            continue
        defn = definition_for(api_version, kind)
        list_defn = definition_for(api_version, kind + "List")
        gvk = _gvk(api_version, kind)
        scope = "Namespaced" if info.namespaced else ""
        coll = f"{prefix}{'/namespaces/{namespace}' if info.namespaced else ''}/{info.plural}"
        paths[coll] = [
            Op("get", "list", f"list{camel}{scope}{kind}", f"list or watch objects of kind {kind}",
               gvk, _LIST, None, list_defn),
            Op("post", "post", f"create{camel}{scope}{kind}", f"create a {kind}", gvk, _WRITE, defn, defn),
        ]
        paths[coll + "/{name}"] = [
            Op("get", "get", f"read{camel}{scope}{kind}", f"read the specified {kind}", gvk, (), None, defn),
            Op("put", "put", f"replace{camel}{scope}{kind}", f"replace the specified {kind}", gvk, _WRITE, defn, defn),
            Op("patch", "patch", f"patch{camel}{scope}{kind}", f"partially update the specified {kind}",
               gvk, _WRITE + (_FORCE,), _META + "Patch", defn, tuple(_PATCH_TYPES)),
            Op("delete", "delete", f"delete{camel}{scope}{kind}", f"delete a {kind}",
               gvk, _DELETE, _META + "DeleteOptions", _META + "Status"),
        ]
        if info.namespaced:
            paths[f"{prefix}/{info.plural}"] = [
                Op("get", "list", f"list{camel}{kind}ForAllNamespaces", f"list or watch objects of kind {kind}",
                   gvk, _LIST, None, list_defn)]
        paths.update(_subresource_ops(kind, info, entries, coll + "/{name}", camel))
    return paths


def _path_params(path: str) -> list[Param]:
    params = [p for p in (_NAME, _NAMESPACE) if "{" + p.name + "}" in path]
    return params + [_PRETTY]


def _v2_param(p: Param) -> dict:
    out = {"name": p.name, "in": p.where, "type": p.type, "description": p.description, "uniqueItems": True}
    if p.where == "path":
        out["required"] = True
    return out


def v2_path_item(path: str, ops: list[Op], tag: str) -> dict:
    item: dict = {"parameters": [_v2_param(p) for p in _path_params(path)]}
    for op in ops:
        params = [_v2_param(p) for p in op.params]
        if op.body:
            params.insert(0, {"name": "body", "in": "body", "required": True, "schema": {"$ref": V2_PREFIX + op.body}})
        schema = {"type": "string"} if op.response == STRING else {"$ref": V2_PREFIX + op.response}
        responses = {"200": {"description": "OK", "schema": schema}}
        if op.action == "post":
            responses["201"] = {"description": "Created", "schema": schema}
        responses["401"] = {"description": "Unauthorized"}
        item[op.method] = {
            "description": op.description, "operationId": op.op_id, "tags": [tag], "schemes": ["https"],
            "consumes": list(op.consumes), "produces": ["text/plain"] if op.response == STRING else _JSON,
            "parameters": params, "responses": responses,
            "x-kubernetes-action": op.action, "x-kubernetes-group-version-kind": op.gvk,
        }
    return item


def _v3_param(p: Param) -> dict:
    out = {"name": p.name, "in": p.where, "description": p.description,
           "schema": {"type": p.type, "uniqueItems": True}}
    if p.where == "path":
        out["required"] = True
    return out


def v3_path_item(path: str, ops: list[Op], tag: str) -> dict:
    item: dict = {"parameters": [_v3_param(p) for p in _path_params(path)]}
    for op in ops:
        if op.response == STRING:
            content = {"text/plain": {"schema": {"type": "string"}}}
        else:
            content = {t: {"schema": {"$ref": V3_PREFIX + op.response}} for t in _JSON}
        responses = {"200": {"description": "OK", "content": content}}
        if op.action == "post":
            responses["201"] = {"description": "Created", "content": content}
        responses["401"] = {"description": "Unauthorized"}
        out = {"description": op.description, "operationId": op.op_id, "tags": [tag],
               "parameters": [_v3_param(p) for p in op.params], "responses": responses,
               "x-kubernetes-action": op.action, "x-kubernetes-group-version-kind": op.gvk}
        if op.body:
            types = op.consumes if op.consumes != ("*/*",) else _JSON
            out["requestBody"] = {"required": True,
                                  "content": {t: {"schema": {"$ref": V3_PREFIX + op.body}} for t in types}}
        item[op.method] = out
    return item
