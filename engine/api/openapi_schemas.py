"""Kubernetes type definitions for the OpenAPI documents, converted from the bundled ones.

The only source is the upstream Kubernetes OpenAPI data that ``kubernetes-validate``
ships as JSON Schema 2020-12 (``engine/manifests/schema.py`` loads it once). That
generator changed the upstream form in a few mechanical ways, which we undo:

- ``#/$defs/X`` refs go back to ``#/definitions/X`` (Swagger 2.0) or
  ``#/components/schemas/X`` (OpenAPI 3.0);
- ``"type": ["integer", "null"]`` goes back to a single type (nullability is dropped,
  as upstream never declared it);
- the strict variant's ``additionalProperties: false`` and the ``enum`` it pinned on
  ``apiVersion``/``kind`` go (upstream has neither);
- ``oneOf`` of string and integer (IntOrString) becomes ``string`` with format
  ``int-or-string``, any other ``oneOf`` of primitives (Quantity) its first type, since
  Swagger 2.0 has no ``oneOf``.

Descriptions and the ``x-kubernetes-*`` extensions (group-version-kind, patch strategy,
merge keys, list types) pass through untouched. In OpenAPI 3.0 a ``$ref`` ignores its
siblings, so a ref carrying a description or extensions is wrapped in ``allOf``, as
kube-apiserver does. ``closure`` picks the definitions a set of roots needs, so every
document holds only what its paths reference.
"""

from __future__ import annotations

import functools

from ..manifests import schema

__all__ = ["V2_PREFIX", "V3_PREFIX", "closure", "definition_for", "swagger_schema", "v3_schema"]

_DEFS_PREFIX = "#/$defs/"
V2_PREFIX = "#/definitions/"
V3_PREFIX = "#/components/schemas/"
_TYPE_META = ("apiVersion", "kind")


@functools.lru_cache(maxsize=1)
def _defs() -> dict[str, dict]:
    return schema.definitions()["$defs"]


def definition_for(api_version: str, kind: str) -> str:
    """Definition name of a served kind; KeyError if the bundled data lacks it."""
    name = schema.lookup(api_version, kind)
    if name is None:
        raise KeyError(f"no OpenAPI definition for {api_version} {kind}")
    return name


def _refs(node, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX):
            out.add(ref[len(_DEFS_PREFIX):])
        for key, value in node.items():
            if key == "properties":
                for sub in value.values():
                    _refs(sub, out)
            elif key not in ("x-kubernetes-group-version-kind", "enum", "required"):
                _refs(value, out)
    elif isinstance(node, list):
        for item in node:
            _refs(item, out)


@functools.cache
def _direct_refs(name: str) -> frozenset[str]:
    out: set[str] = set()
    _refs(_defs()[name], out)
    return frozenset(out)


def closure(roots) -> list[str]:
    """Sorted names of ``roots`` and every definition they reference, transitively."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_direct_refs(name) - seen)
    return sorted(seen)


def _single_type(types) -> str | None:
    if isinstance(types, str):
        return types
    real = [t for t in types or () if t != "null"]
    return real[0] if real else None


def _from_one_of(alternatives: list) -> dict:
    types = [_single_type(a.get("type")) for a in alternatives if isinstance(a, dict)]
    if "string" in types and "integer" in types:
        return {"type": "string", "format": "int-or-string"}
    first = next((t for t in types if t), None)
    return {"type": first} if first else {}


def _convert(node: dict, ref_prefix: str, *, top: bool = False) -> dict:
    out: dict = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = ref_prefix + value[len(_DEFS_PREFIX):]
        elif key == "type":
            t = _single_type(value)
            if t:
                out[key] = t
        elif key == "properties":
            props = {}
            for prop, sub in value.items():
                converted = _convert(sub, ref_prefix)
                if top and prop in _TYPE_META:
                    converted.pop("enum", None)
                props[prop] = converted
            out[key] = props
        elif key == "items" and isinstance(value, dict):
            out[key] = _convert(value, ref_prefix)
        elif key == "additionalProperties":
            if isinstance(value, dict):
                out[key] = _convert(value, ref_prefix)
        elif key == "oneOf":
            for k, v in _from_one_of(value).items():
                out.setdefault(k, v)
        else:
            out[key] = value
    return out


@functools.cache
def swagger_schema(name: str) -> dict:
    """The Swagger 2.0 form of one definition (shared: never mutate it)."""
    return _convert(_defs()[name], V2_PREFIX, top=True)


def _wrap_refs(node: dict) -> dict:
    """OpenAPI 3.0 form: a ``$ref`` with siblings goes inside ``allOf``."""
    out = dict(node)
    if "$ref" in out and len(out) > 1:
        out["allOf"] = [{"$ref": out.pop("$ref")}]
    if "properties" in out:
        out["properties"] = {k: _wrap_refs(v) for k, v in out["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _wrap_refs(out[key])
    return out


@functools.cache
def v3_schema(name: str) -> dict:
    """The OpenAPI 3.0 form of one definition (shared: never mutate it)."""
    return _wrap_refs(_convert(_defs()[name], V3_PREFIX, top=True))
