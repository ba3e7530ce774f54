"""Structural validation against the Kubernetes OpenAPI schemas.

The JSON schemas come from the ``kubernetes-validate`` package (strict
variants: unknown fields are errors).  ``kubernetes_validate.validate`` reads
and parses the schema files on every call and stops at the first error, so we
use its bundled ``_definitions.json`` directly: it is loaded once, every
top-level type in it carries ``x-kubernetes-group-version-kind``, which gives
us the (group, version, kind) index, and one ``jsonschema`` validator is
cached per kind.  ``iter_errors`` reports all errors, each turned into
user-facing words (``unknown field "x" (did you mean "y"?)``,
``missing required field "image"``, ``expected integer, got string "abc"``).
"""
from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import re
import threading
from pathlib import Path


__all__ = ["SCHEMA_VERSION", "api_versions_for_kind", "definitions", "gvk_index", "lookup", "schema_errors"]

_PREFERRED_VERSION = "1.30.0"
_DEFS_URI = "https://kubernetes.io/api/_definitions.json"
_lock = threading.Lock()


def _schema_dir() -> Path:
    """kubernetes-validate's schema folder, found without importing the package: its
    __init__ imports jsonschema, ~50 ms that the API's start and the CLI do not need."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("kubernetes_validate")
    return Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"


def _pick_version() -> str:
    """The preferred schema version if bundled, else the newest (as its `all_versions`)."""
    try:
        found = {m[1] for d in _schema_dir().iterdir() if (m := re.match(r"v(\d+(?:\.\d+)*)-", d.name))}
    except OSError:  # pragma: no cover
        return _PREFERRED_VERSION
    if _PREFERRED_VERSION in found or not found:
        return _PREFERRED_VERSION
    return max(found, key=lambda v: tuple(int(x) for x in v.split(".")))


SCHEMA_VERSION = _pick_version()


@functools.lru_cache(maxsize=1)
def _definitions() -> dict:
    path = _schema_dir() / f"v{SCHEMA_VERSION}-local-strict" / "_definitions.json"
    with path.open("r", encoding="utf-8") as fh:
        return json.load(fh)


def definitions() -> dict:
    """The parsed ``_definitions.json`` (strict variant), loaded once; never mutate it."""
    return _definitions()


@functools.lru_cache(maxsize=1)
def _registry():
    # jsonschema and referencing load only when something is validated: the patch and
    # apply code reads the definitions and needs neither
    from referencing import Registry, Resource

    return Resource.from_contents(_definitions()) @ Registry()


@functools.lru_cache(maxsize=1)
def gvk_index() -> dict[tuple[str, str, str], str]:
    """(group, version, kind) -> definition name, for every Kubernetes type."""
    index = {}
    for name, schema in _definitions().get("$defs", {}).items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
            # the same kind may be listed under several defs (meta types); keep the first
            index.setdefault(key, name)
    return index


@functools.lru_cache(maxsize=1)
def _kinds() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for group, version, kind in gvk_index():
        out.setdefault(kind, []).append(f"{group}/{version}" if group else version)
    return out


def _version_rank(api_version: str) -> tuple:
    version = api_version.rsplit("/", 1)[-1]
    stability = 2 if "alpha" in version else 1 if "beta" in version else 0
    return (stability, version)


def api_versions_for_kind(kind: str) -> list[str]:
    """Kubernetes apiVersions that serve ``kind``, stable ones first."""
    return sorted(_kinds().get(kind, []), key=_version_rank)


def lookup(api_version: str, kind: str) -> str | None:
    """Definition name for a Kubernetes apiVersion/kind, or None."""
    group, _, version = api_version.rpartition("/")
    return gvk_index().get((group, version, kind))


def _validator(def_name: str):
    with _lock:
        return _validator_cached(def_name)


@functools.lru_cache(maxsize=None)
def _validator_cached(def_name: str):
    schema = {"$ref": f"{_DEFS_URI}#/$defs/{def_name}"}
    import jsonschema

    return jsonschema.Draft202012Validator(schema, registry=_registry())


def _describe(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value:g}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {json.dumps(shown)}"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


_TYPE_WORDS = {"object": "mapping", "array": "list"}


def _type_words(types) -> str:
    if isinstance(types, str):
        types = [types]
    words = []
    for t in types:
        if t == "null":
            continue
        w = _TYPE_WORDS.get(t, t)
        if w not in words:
            words.append(w)
    return " or ".join(words) or "null"


def _one_of_types(schemas) -> list[str]:
    types: list[str] = []
    for sub in schemas or ():
        t = sub.get("type") if isinstance(sub, dict) else None
        for x in [t] if isinstance(t, str) else (t or []):
            if x != "null" and x not in types:
                types.append(x)
    return types


def suggest(word: str, allowed) -> str | None:
    allowed = list(allowed)
    lower = {a.lower(): a for a in allowed}
    if word.lower() in lower:
        return lower[word.lower()]
    close = difflib.get_close_matches(word, allowed, n=1, cutoff=0.6)
    return close[0] if close else None


def _messages(err) -> list[tuple[tuple, str, tuple | None]]:
    """(field path, message, path for the line or None) for one jsonschema error."""
    path = tuple(err.absolute_path)
    v = err.validator
    inst = err.instance
    if v == "additionalProperties" and isinstance(inst, dict):
        props = err.schema.get("properties") or {}
        patterns = err.schema.get("patternProperties") or {}
        out = []
        for key in inst:
            if key in props or patterns:
                continue
            msg = f'unknown field "{key}"'
            guess = suggest(key, props) if props else None
            if guess:
                msg += f' (did you mean "{guess}"?)'
            out.append((path, msg, path + (key,)))
        return out or [(path, err.message, None)]
    if v == "required" and isinstance(inst, dict):
        return [(path, f'missing required field "{name}"', None) for name in err.validator_value if name not in inst]
    if v == "type":
        return [(path, f"expected {_type_words(err.validator_value)}, got {_describe(inst)}", None)]
    if v == "oneOf" or v == "anyOf":
        types = _one_of_types(err.validator_value)
        if types:
            return [(path, f"expected {_type_words(types)}, got {_describe(inst)}", None)]
    if v == "enum":
        allowed = ", ".join(json.dumps(x) for x in err.validator_value if x is not None)
        return [(path, f"unsupported value {json.dumps(inst) if not isinstance(inst, (dict, list)) else _describe(inst)}: supported values: {allowed}", None)]
    return [(path, err.message, None)]


def schema_errors(obj: dict, def_name: str) -> list[tuple[tuple, str, tuple | None]]:
    """All structural problems in ``obj`` as (field path, message, line path)."""
    from . import schema_fast

    if schema_fast.valid(def_name, obj):  # the common case, compiled (see schema_fast.py)
        return []
    validator = _validator(def_name)
    out = []
    seen = set()
    for err in validator.iter_errors(obj):
        for item in _messages(err):
            key = (item[0], item[1])
            if key not in seen:
                seen.add(key)
                out.append(item)
    return out
