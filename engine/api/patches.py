"""PATCH bodies by content type: JSON patch (RFC 6902), JSON merge patch, strategic merge patch.

`apply_patch` is what the API's PATCH handler calls: it decodes the body, picks the patch
kind from the Content-Type and returns the patched object, or raises `PatchError` with the
Status the API server would send. JSON patch is applied by the `jsonpatch` library one
operation at a time, so a failure names the operation that failed in the words of the
API server's own library (evanphx/json-patch), e.g. `testing value /spec/replicas failed:
test failed`. (The real server then hides that text behind "the server rejected our
request due to an error in our request"; kubedeck keeps it.)
"""

from __future__ import annotations

import copy
import json

import jsonpatch

from ..merge import merge_patch
from .patch_error import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    PatchError,
    bad_request,
    invalid,
    unsupported_media_type,
)
from .strategic import strategic_merge_patch

MAX_JSON_PATCH_OPERATIONS = 10000  # the API server's limit
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)

_MISSING = {
    "add": 'add operation does not apply: doc is missing path: "{path}": missing value',
    "remove": 'remove operation does not apply: doc is missing path: "{path}": missing value',
    "replace": "replace operation does not apply: doc is missing key: {path}: missing value",
    "move": "move operation does not apply: doc is missing from path: {from_}: missing value",
    "copy": "copy operation does not apply: doc is missing from path: {from_}: missing value",
    "test": "test operation does not apply: is missing path: {path}: missing value",
}


def apply_patch(obj: dict, body: bytes, *, content_type: str, api_version: str, kind: str) -> dict:
    """`obj` patched by the request `body` of the given Content-Type (parameters such as
    `; charset=utf-8` are ignored). `obj` is not modified."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in PATCH_TYPES:
        raise unsupported_media_type(PATCH_TYPES)
    try:
        patch = json.loads(body)
    except ValueError as e:
        raise bad_request(f"error decoding patch: {e}") from None
    if media == JSON_PATCH:
        return json_patch(obj, patch)
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {_json_type(patch)} into Go value of type map[string]interface {{}}")
    if media == MERGE_PATCH:
        return merge_patch(obj, patch)
    return strategic_merge_patch(obj, patch, api_version=api_version, kind=kind)


def json_patch(obj: dict, ops: list) -> dict:
    """`obj` with the RFC 6902 operations applied in order; `obj` is not modified.
    A malformed patch is 400, an operation that does not apply (failed `test`, missing
    path) 422, more than MAX_JSON_PATCH_OPERATIONS operations 413."""
    if not isinstance(ops, list):
        raise bad_request(f"json: cannot unmarshal {_json_type(ops)} into Go value of type jsonpatch.Patch")
    for op in ops:
        if not isinstance(op, dict):
            raise bad_request(f"json: cannot unmarshal {_json_type(op)} into Go value of type jsonpatch.Operation")
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(413, "RequestEntityTooLarge", "Request entity too large: The allowed maximum operations "
                         f"in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}")
    doc = copy.deepcopy(obj)
    for op in ops:
        name = op.get("op")
        try:
            doc = jsonpatch.JsonPatch([op]).apply(doc, in_place=True)
        except jsonpatch.JsonPatchTestFailed:
            raise invalid(f"testing value {op.get('path')} failed: test failed") from None
        except (jsonpatch.JsonPatchConflict, jsonpatch.JsonPointerException):
            template = _MISSING.get(name, "{path}: missing value")
            raise invalid(template.format(path=op.get("path"), from_=op.get("from"))) from None
        except jsonpatch.InvalidJsonPatch as e:
            unknown = name if isinstance(name, str) else "unknown"  # what evanphx/json-patch calls a missing op
            raise invalid(str(e) if name in _MISSING else f"Unexpected kind: {unknown}") from None
    return doc


def _json_type(value) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else "null"
