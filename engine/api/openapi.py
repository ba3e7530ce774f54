"""OpenAPI documents of kubedeck's API: ``/openapi/v2`` and ``/openapi/v3``.

Everything is generated from the kinds table (which paths exist) and the bundled
upstream Kubernetes definitions (what the objects look like; see ``openapi_schemas``):
no schema is written by hand. Each document holds the paths of the kinds kubedeck
serves and the definitions those paths reach, so ``kubectl explain`` and kubectl's
client-side apply machinery find the kinds, their descriptions, patch strategies and
merge keys.

Serving follows kube-apiserver:
- ``/openapi/v2`` is Swagger 2.0. client-go asks for it with
  ``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and decodes
  the body as gnostic's ``openapi_v2.Document`` protobuf, so that is what it gets
  (``openapi_pb``); other clients get JSON. Both bodies are built on first use, kept,
  and served with an ETag.
- ``/openapi/v3`` is an index of one document per group-version, each named with the
  SHA-512 of its bytes (``?hash=``); a request carrying the current hash may be cached
  for a year, any other is ``no-cache``, and a stale hash is redirected to the current
  one (kube-apiserver answers 301 the same way).

All functions are pure (no aiohttp): the server turns a ``Reply`` into a response.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import NamedTuple

from ..manifests.kinds import KINDS
from ..manifests.schema import SCHEMA_VERSION
from . import openapi_pb
from .openapi_paths import operations, path_prefix, v2_path_item, v3_path_item
from .openapi_schemas import closure, definition_for, swagger_schema, v3_schema

__all__ = ["PROTOBUF_V2", "Reply", "v2_body", "v2_reply", "v3_document", "v3_index", "v3_reply"]

# Sent as the content type: Go's mime parser rejects the "@" of the name clients accept.
PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_INFO = {"title": "Kubernetes", "version": f"v{SCHEMA_VERSION}"}
# The meta types every document needs whatever its kinds (delete, patch and error bodies).
_META = ["io.k8s.apimachinery.pkg.apis.meta.v1." + n for n in ("DeleteOptions", "Patch", "Status")]
_IMMUTABLE = "public, immutable, max-age=31536000"
_NO_CACHE = "no-cache, private"


class Reply(NamedTuple):
    status: int
    body: bytes
    headers: dict[str, str]


def _api_versions() -> list[str]:
    return sorted({info.api_version for info in KINDS.values()})


def _tag(api_version: str) -> str:
    """``apps/v1`` -> ``apps_v1``, ``v1`` -> ``core_v1`` (kube-apiserver's tags)."""
    group, _, version = api_version.rpartition("/")
    return f"{group.removesuffix('.k8s.io').replace('.', '_') or 'core'}_{version}"


def _roots(api_version: str) -> list[str]:
    """Definitions the operations of one group-version reference directly."""
    names = set(_META)
    for ops in operations(api_version).values():
        for op in ops:
            names.update(n for n in (op.body, op.response) if n and n.startswith("io."))
    for kind, info in KINDS.items():
        if info.api_version == api_version:
            names.add(definition_for(api_version, kind))
    return sorted(names)


def swagger() -> dict:
    """The whole Swagger 2.0 document (built on every call; callers cache the bytes)."""
    paths, roots = {}, set()
    for gv in _api_versions():
        for path, ops in operations(gv).items():
            paths[path] = v2_path_item(path, ops, _tag(gv))
        roots.update(_roots(gv))
    return {"swagger": "2.0", "info": _INFO, "paths": paths,
            "definitions": {name: swagger_schema(name) for name in closure(roots)}}


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha512(body).hexdigest()[:32].upper() + '"'


@functools.cache
def _v2(protobuf: bool) -> tuple[bytes, str]:
    """(body, ETag) of one encoding, built once."""
    doc = swagger()
    body = openapi_pb.encode_document(doc) if protobuf else json.dumps(doc, separators=(",", ":")).encode()
    return body, _etag(body)


def _wants_protobuf(accept: str) -> bool:
    # kube-apiserver serves protobuf to both the current and the older (".v1.0") names.
    return "com.github.proto-openapi.spec.v2" in (accept or "")


def v2_body(accept: str) -> tuple[bytes, str]:
    """(body, content type) of ``/openapi/v2`` for an ``Accept`` header."""
    protobuf = _wants_protobuf(accept)
    return _v2(protobuf)[0], PROTOBUF_V2 if protobuf else "application/json"


def v2_reply(*, accept: str, if_none_match: str | None = None) -> Reply:
    """The whole answer to ``GET /openapi/v2``: 200 with ETag, or 304."""
    protobuf = _wants_protobuf(accept)
    body, etag = _v2(protobuf)
    headers = {"ETag": etag, "Cache-Control": _NO_CACHE, "Vary": "Accept"}
    if if_none_match and etag in if_none_match:
        return Reply(304, b"", headers)
    return Reply(200, body, {**headers, "Content-Type": PROTOBUF_V2 if protobuf else "application/json"})


def _v3(api_version: str) -> dict:
    paths = {path: v3_path_item(path, ops, _tag(api_version)) for path, ops in operations(api_version).items()}
    schemas = {name: v3_schema(name) for name in closure(_roots(api_version))}
    return {"openapi": "3.0.0", "info": _INFO, "paths": paths,
            "components": {"schemas": schemas}}


@functools.lru_cache(maxsize=1)
def _index_keys() -> dict[str, str]:
    """``apis/apps/v1`` -> ``apps/v1`` for every served group-version."""
    return {path_prefix(gv).lstrip("/"): gv for gv in _api_versions()}


@functools.cache
def _v3_built(api_version: str) -> tuple[bytes, str]:
    body = json.dumps(_v3(api_version), separators=(",", ":")).encode()
    return body, hashlib.sha512(body).hexdigest().upper()


def _v3_bytes(key: str) -> tuple[bytes, str] | None:
    gv = _index_keys().get(key)
    return _v3_built(gv) if gv else None


def v3_document(path: str) -> bytes | None:
    """JSON of ``/openapi/v3/<path>`` (``api/v1``, ``apis/apps/v1``), or None if not served."""
    found = _v3_bytes(path.strip("/"))
    return found[0] if found else None


def v3_index() -> dict:
    """``/openapi/v3``: every served group-version with its hashed URL."""
    return {"paths": {key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={_v3_built(gv)[1]}"}
                      for key, gv in _index_keys().items()}}


def v3_reply(path: str, *, hash: str | None = None, if_none_match: str | None = None) -> Reply | None:
    """The whole answer to ``GET /openapi/v3/<path>[?hash=H]``; None means 404."""
    found = _v3_bytes(path.strip("/"))
    if found is None:
        return None
    body, digest = found
    etag = f'"{digest}"'
    if hash and hash != digest:
        location = f"/openapi/v3/{path.strip('/')}?hash={digest}"
        return Reply(301, b"", {"Location": location, "Cache-Control": _NO_CACHE})
    headers = {"ETag": etag, "Cache-Control": _IMMUTABLE if hash else _NO_CACHE}
    if if_none_match and etag in if_none_match:
        return Reply(304, b"", headers)
    return Reply(200, body, {**headers, "Content-Type": "application/json"})
