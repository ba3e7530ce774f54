"""Kubernetes strategic merge patch (SMP), as the API server applies it.

SMP is JSON merge patch plus field metadata: a list whose field says
`x-kubernetes-patch-strategy: merge` is merged element by element (maps matched on the
field's `x-kubernetes-patch-merge-key`, primitives as a set union) instead of replaced,
a field with strategy `replace` is replaced whole, and the patch may carry directives:
`$patch: replace|delete` in a map or list element, `$setElementOrder/<list>` (the order the
merged list must have), `$retainKeys` (the only keys a map keeps, for union fields such as
volume sources and a Deployment's strategy) and `$deleteFromPrimitiveList/<list>`.

The metadata comes from the Kubernetes OpenAPI definitions that
`engine/manifests/schema.py` already loads (the same Kubernetes version): the patch walks the
schema alongside the object, following `$ref`, and reads the extensions from the property
that holds each field. Only the patch extensions count, as in the API server: a list that
only says `x-kubernetes-list-type: map` (for example `resources.claims`) is replaced.
Kinds the definitions do not know (custom resources) get 415, as the API server answers.

The order of merged lists follows apimachinery's `strategicpatch`: patch items keep the
patch's (or `$setElementOrder`'s) relative order, server-only items keep theirs, and the two
are interleaved by their positions in the live list. Where apimachinery keeps directives in
a value it takes whole (a field the object lacks), this module applies that value to an
empty one instead, so no `$...` key and no null leaks into the stored object. `$patch: merge`
is accepted as "merge as usual" (the API server rejects it).
"""

from __future__ import annotations

import copy
from typing import NamedTuple

from ..manifests.schema import definitions, lookup
from .patch_error import bad_request, invalid, unsupported_media_type

_PATCH = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
_DROP = object()  # a value that removes its key (a map carrying `$patch: delete`)


class _Field(NamedTuple):
    schema: dict | None  # resolved schema of the field's value; None where unknown
    strategy: str  # "merge", "replace" or "" (maps merge, lists are replaced)
    merge_key: str


_UNKNOWN = _Field(None, "", "")


def strategic_merge_patch(obj: dict, patch: dict, *, api_version: str, kind: str) -> dict:
    """`obj` with the strategic merge `patch` applied; neither argument is modified.
    Raises PatchError: 415 for kinds without Kubernetes metadata, 400/422 for bad patches."""
    def_name = lookup(api_version, kind)
    if def_name is None:
        raise unsupported_media_type()
    if not isinstance(patch, dict):
        raise bad_request("invalid JSON document")
    root = definitions()["$defs"][def_name]
    return _merge_map(copy.deepcopy(obj), copy.deepcopy(patch), root)


# --- schema metadata ----------------------------------------------------------------------

def _resolve(node) -> dict | None:
    defs = definitions()["$defs"]
    while isinstance(node, dict) and "$ref" in node:
        node = defs.get(node["$ref"].rsplit("/", 1)[-1])
    return node if isinstance(node, dict) else None


def _field(schema: dict | None, key: str) -> _Field:
    if schema is None:
        return _UNKNOWN
    node = (schema.get("properties") or {}).get(key)
    if node is None:
        node = schema.get("additionalProperties")  # maps such as labels: every key alike
    if not isinstance(node, dict):
        return _UNKNOWN
    strategies = node.get("x-kubernetes-patch-strategy", "").split(",")
    strategy = next((s for s in strategies if s not in ("", "retainKeys")), "")
    return _Field(_resolve(node), strategy, node.get("x-kubernetes-patch-merge-key", ""))


def _items(field: _Field) -> dict | None:
    return _resolve(field.schema.get("items")) if field.schema else None


# --- maps ---------------------------------------------------------------------------------

def _merge_map(original: dict, patch: dict, schema: dict | None) -> dict:
    if _PATCH in patch:
        directive = patch.pop(_PATCH)
        if directive == "delete":
            return {}
        if directive == "replace":
            return _merge_map({}, patch, schema)
        if directive != "merge":
            raise bad_request(f"unknown patch type: {directive} in map: {patch}")
    _retain_keys(original, patch)
    _set_element_orders(original, patch, schema)
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVE):
            _delete_from_primitive_list(original, key[len(_DELETE_PRIMITIVE):], value)
            continue
        if value is None:
            original.pop(key, None)
            continue
        field = _field(schema, key)
        current = original.get(key)
        if isinstance(current, dict) and isinstance(value, dict) and field.strategy != "replace":
            original[key] = _merge_map(current, value, field.schema)
        elif isinstance(current, list) and isinstance(value, list) and field.strategy == "merge":
            original[key] = _merge_list(current, value, field)
        else:
            fresh = _fresh(value, field)
            if fresh is _DROP:
                original.pop(key, None)
            else:
                original[key] = fresh
    return original


def _fresh(value, field: _Field):
    """A patch value that replaces what is there (or fills a gap), directives applied."""
    if isinstance(value, dict):
        return _DROP if value.get(_PATCH) == "delete" else _merge_map({}, value, field.schema)
    if isinstance(value, list):
        return _fresh_list(value, field)
    return value


def _fresh_list(value: list, field: _Field) -> list:
    if field.strategy == "merge":
        return _merge_list([], value, field)
    items = _items(field)
    return [_merge_map({}, v, items) if isinstance(v, dict) else v
            for v in value if not (isinstance(v, dict) and _PATCH in v)]


def _retain_keys(original: dict, patch: dict) -> None:
    if _RETAIN_KEYS not in patch:
        return
    keep = patch.pop(_RETAIN_KEYS)
    if not isinstance(keep, list):
        raise bad_request("invalid patch format of retainKeys")
    for key, value in patch.items():
        if value is not None and not key.startswith((_SET_ORDER, _DELETE_PRIMITIVE)) and key not in keep:
            raise bad_request(f"invalid patch format of retainKeys: {key!r} is not in {keep}")
    for key in [k for k in original if k not in keep]:
        del original[key]


def _delete_from_primitive_list(original: dict, key: str, values) -> None:
    if not key or not isinstance(values, list):
        raise bad_request("invalid patch format of primitive list")
    current = original.get(key)
    if not isinstance(current, list):
        return
    if any(isinstance(v, (dict, list)) for v in current + values):
        raise bad_request(f"invalid patch format of primitive list: {key} does not hold primitives")
    original[key] = [v for v in current if v not in values]


def _set_element_orders(original: dict, patch: dict, schema: dict | None) -> None:
    """Merge each list that has a `$setElementOrder` and put it in that order; the list's
    own patch is consumed here so the main loop does not merge it again."""
    for directive in [k for k in patch if k.startswith(_SET_ORDER)]:
        order = patch.pop(directive)
        key = directive[len(_SET_ORDER):]
        change = patch.pop(key, None)
        if not key or not isinstance(order, list) or not isinstance(change, (list, type(None))):
            raise bad_request("invalid patch format of setElementOrder list")
        field = _field(schema, key)
        _check_order(change or [], order, field.merge_key)
        current = original.get(key) if isinstance(original.get(key), list) else None
        if change is None:
            if current is None:
                continue
            merged = current
        elif current is not None and field.strategy == "merge":
            merged = _combine(current, change, field)[0]
            # apimachinery ranks server-only items by the live list as the merge left it in
            # place: deletions shifted left, new items written into the freed slots
            current = merged[:len(current)]
        else:
            merged = _fresh_list(change, field)
        original[key] = _ordered(merged, order, current or [], field.merge_key)


def _check_order(change: list, order: list, key: str) -> None:
    """The patch's items must appear in `$setElementOrder` in the same relative order."""
    if key and not all(isinstance(e, dict) and key in e for e in order):
        raise bad_request(f"$setElementOrder list {order} does not hold the merge key {key!r} in every item")
    pending = [e for e in change if not (isinstance(e, dict) and _PATCH in e)]
    done = 0
    for entry in order:
        if done < len(pending) and _key_of(pending[done], key) == _key_of(entry, key):
            done += 1
    if done < len(pending):
        raise bad_request(f"The order in patch list:\n{change}\n doesn't match $setElementOrder list:\n{order}")


# --- lists --------------------------------------------------------------------------------

def _merge_list(original: list, patch: list, field: _Field) -> list:
    if not original and not patch:
        return []
    merged, server_order, rest = _combine(original, patch, field)
    return _ordered(merged, rest, server_order, field.merge_key)


def _combine(original: list, patch: list, field: _Field) -> tuple[list, list, list]:
    """(merged items in the order they land: the live ones left after `$patch: delete`,
    then new ones appended; those live ones; the patch without directive elements)."""
    key = field.merge_key
    if _element_kind(original + patch) != "map":
        return _dedupe(original + patch), original, patch
    if not key:
        raise bad_request("cannot merge lists of maps without a merge key")
    original, patch = _list_directives(original, patch, key)
    items = _items(field)
    merged = list(original)
    for elem in patch:
        if key not in elem:
            raise bad_request(f"map: {elem} does not contain declared merge key: {key}")
        at = next((i for i, m in enumerate(merged) if key in m and m[key] == elem[key]), None)
        if at is None:
            merged.append(_merge_map({}, elem, items))
        else:
            merged[at] = _merge_map(merged[at], elem, items)
    return merged, original, patch


def _list_directives(original: list, patch: list, key: str) -> tuple[list, list]:
    """Apply `$patch` elements: delete removes matching items from `original`, replace
    drops `original` altogether. Returns (original, patch without directive elements)."""
    rest, replace = [], False
    for elem in patch:
        if _PATCH not in elem:
            rest.append(elem)
            continue
        directive = elem[_PATCH]
        if directive == "delete":
            if key not in elem:
                raise bad_request(f"map: {elem} does not contain declared merge key: {key}")
            original = [m for m in original if not (key in m and m[key] == elem[key])]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            rest.append({k: v for k, v in elem.items() if k != _PATCH})
        else:
            raise bad_request(f"unknown patch type: {directive} in map: {elem}")
    return ([] if replace else original), rest


def _element_kind(values: list) -> str:
    kinds = {_kind(v) for v in values}
    if "list" in kinds:
        raise invalid("lists of lists are not supported")
    if len(kinds) > 1:
        raise bad_request(f"list element types are not identical: {values}")
    return kinds.pop() if kinds else "null"


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "map", list: "list", str: "string"}.get(type(value), "null")


def _dedupe(values: list) -> list:
    out: list = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _key_of(item, key: str):
    return item.get(key) if key and isinstance(item, dict) else item


def _index(items: list, item, key: str) -> int:
    probe = _key_of(item, key)
    return next((i for i, v in enumerate(items) if _key_of(v, key) == probe), -1)


def _ordered(merged: list, patch_order: list, server_order: list, key: str) -> list:
    """Items named in `patch_order` in that order, the others in `server_order`'s, then
    interleaved: a server-only item goes before a patch item only if it came before it
    in the live list (items new to the list come before the server-only ones after them)."""
    def rank(order: list):
        return lambda item: _index(order, item, key) % (len(order) + 1)  # not found: last

    from_patch = sorted((m for m in merged if _index(patch_order, m, key) >= 0), key=rank(patch_order))
    server_only = sorted((m for m in merged if _index(patch_order, m, key) < 0), key=rank(server_order))
    out, i, j = [], 0, 0
    while i < len(server_only) and j < len(from_patch):
        left, right = _index(server_order, server_only[i], key), _index(server_order, from_patch[j], key)
        if 0 <= left < right:
            out.append(server_only[i])
            i += 1
        else:
            out.append(from_patch[j])
            j += 1
    return out + server_only[i:] + from_patch[j:]
