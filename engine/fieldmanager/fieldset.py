"""Field sets for server-side apply: paths into an object, typed by the Kubernetes schema.

This is the part of structured-merge-diff (kubernetes-sigs/structured-merge-diff v4.4,
what a 1.30 API server runs) that server-side apply needs, on plain dicts:

- A *path* is a tuple of path elements: ``("f", "spec")`` for a field, ``("k", '{"name":"web"}')``
  for an item of a map-keyed list, ``("v", '"a"')`` for an item of a set, ``("i", 0)`` for an
  index (never produced here; atomic lists are leaves). Key and value elements hold canonical
  JSON, so equal items hash equal and serialize as the API server writes them.
- A *field set* is a Python ``set`` of paths, each one a member. FieldsV1 is its tree form:
  ``f:``/``k:``/``v:`` keys, ``{}`` for a member leaf, ``".": {}`` (written last, as Go's
  encoder does) for a node that is both a member and has members below it.
- The schema is the bundled OpenAPI (``engine/manifests/schema.py``), followed through
  ``$ref``. Lists are atomic unless ``x-kubernetes-list-type`` is ``set``/``map`` (keys from
  ``x-kubernetes-list-map-keys``), falling back to ``x-kubernetes-patch-strategy: merge``
  with ``x-kubernetes-patch-merge-key`` as kube-openapi's converter does; maps and structs
  are granular unless ``x-kubernetes-map-type: atomic``. A missing schema node (a custom
  resource, a field the schema does not know) means granular maps and atomic lists.

``field_set`` is SMD's ToFieldSet, ``compare`` its Compare (leaves added/modified/removed,
plus non-leaf nodes added or removed), ``merge`` its Merge with the applied config winning
(associative lists keep the order rules of SMD's merge walker), ``remove`` its RemoveItems.
"""

from __future__ import annotations

import json

from ..manifests import schema as k8s_schema

Path = tuple
FIELD, KEY, VALUE, INDEX = "f", "k", "v", "i"

# Keys of map lists that the API server defaults, so items may omit them (ports).
_KEY_DEFAULTS = {"protocol": "TCP"}
# Struct fields that are Go values, not pointers (the schema does not say which).
VALUE_STRUCTS = frozenset({"metadata", "spec", "status", "template", "strategy",
                            "updateStrategy", "jobTemplate", "resources"})


class FieldSetError(ValueError):
    """An object the schema cannot index (a map-list item without its key, a bad set item)."""


# -- schema --------------------------------------------------------------------------

def root_schema(api_version: str, kind: str) -> dict | None:
    name = k8s_schema.lookup(api_version, kind)
    return _defs().get(name) if name else None


def _defs() -> dict:
    return k8s_schema._definitions().get("$defs", {})


def _resolve(node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 64:
        node = _defs().get(node["$ref"].rsplit("/", 1)[-1])
        seen += 1
    return node if isinstance(node, dict) else None


def child_schema(node, key: str):
    if node is None:
        return None
    props = node.get("properties")
    if props is not None:
        return _resolve(props.get(key))
    extra = node.get("additionalProperties")
    return _resolve(extra) if isinstance(extra, dict) else None


def item_schema(node):
    return _resolve(node.get("items")) if node else None


def is_named(node, key: str) -> bool:
    return bool(node) and key in (node.get("properties") or {})


def is_atomic_map(node) -> bool:
    return bool(node) and node.get("x-kubernetes-map-type") == "atomic"


def list_kind(node) -> tuple[str, list[str]]:
    """("atomic"|"set"|"map", keys) for a list schema node."""
    if not node:
        return "atomic", []
    list_type = node.get("x-kubernetes-list-type")
    if list_type in ("set", "map"):
        keys = list(node.get("x-kubernetes-list-map-keys") or [])
        return ("map" if keys else "set"), keys
    if list_type is None and node.get("x-kubernetes-patch-strategy") == "merge":
        key = node.get("x-kubernetes-patch-merge-key")
        return ("map", [key]) if key else ("set", [])
    return "atomic", []


# -- path elements -------------------------------------------------------------------

def canonical_json(value) -> str:
    """JSON as Go's encoder writes it: sorted keys, no spaces, <>& escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def item_element(item, kind: str, keys: list[str]) -> tuple:
    if kind == "set":
        if isinstance(item, (dict, list)) or item is None:
            raise FieldSetError("associative list without keys has an element that is not a scalar")
        return (VALUE, canonical_json(item))
    if not isinstance(item, dict):
        raise FieldSetError("associative list with keys may not have non-map elements")
    fields = {}
    for key in keys:
        if item.get(key) is not None:
            fields[key] = item[key]
        elif key in _KEY_DEFAULTS:
            fields[key] = _KEY_DEFAULTS[key]
        else:
            raise FieldSetError(
                f'associative list with keys has an element that omits key field "{key}" '
                "(and doesn't have default value)")
    return (KEY, canonical_json(fields))


def index_items(items: list, kind: str, keys: list[str]) -> dict:
    """{path element: item}, first occurrence of each, in list order."""
    out = {}
    for i, item in enumerate(items):
        try:
            out.setdefault(item_element(item, kind, keys), item)
        except FieldSetError as e:
            raise FieldSetError(f"element {i}: {e}") from None
    return out


def _scalar_order(v) -> tuple:
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, (int, float)):
        return (0, v)
    if isinstance(v, str):
        return (1, v)
    return (3, canonical_json(v))


def element_order(pe: tuple) -> tuple:
    """SMD's PathElement ordering: fields, then keys, then values, then indexes."""
    tag, body = pe
    if tag == FIELD:
        return (0, body)
    if tag == KEY:
        return (1, tuple((k, _scalar_order(v)) for k, v in sorted(json.loads(body).items())))
    if tag == VALUE:
        return (2, _scalar_order(json.loads(body)))
    return (3, body)


def path_order(path: Path) -> tuple:
    """Set iteration order: at each level, members before the subtrees below it."""
    last = len(path) - 1
    return tuple((0 if i == last else 1, element_order(pe)) for i, pe in enumerate(path))


def _go_scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v, ensure_ascii=False) if isinstance(v, str) else str(v)


def path_string(path: Path) -> str:
    """``.spec.template.spec.containers[name="web"].image``, as conflict messages print it."""
    out = []
    for tag, body in path:
        if tag == FIELD:
            out.append("." + body)
        elif tag == KEY:
            out.append("[" + ",".join(f"{k}={_go_scalar(v)}" for k, v in sorted(json.loads(body).items())) + "]")
        elif tag == VALUE:
            out.append(f"[={_go_scalar(json.loads(body))}]")
        else:
            out.append(f"[{body}]")
    return "".join(out)


# -- FieldsV1 ------------------------------------------------------------------------

class TrieNode:
    __slots__ = ("children", "member")

    def __init__(self):
        self.member = False
        self.children: dict[tuple, TrieNode] = {}


def trie(paths) -> TrieNode:
    root = TrieNode()
    for path in paths:
        node = root
        for pe in path:
            node = node.children.setdefault(pe, TrieNode())
        node.member = True
    return root


def _element_text(pe: tuple) -> str:
    return f"{pe[0]}:{pe[1]}"


def _emit(node: TrieNode) -> dict:
    out = {}
    for pe in sorted(node.children, key=element_order):
        sub = node.children[pe]
        body = _emit(sub) if sub.children else {}
        if sub.children and sub.member:
            body["."] = {}
        out[_element_text(pe)] = body
    return out


def to_fields_v1(paths) -> dict:
    return _emit(trie(paths))


def _parse_element(text: str) -> tuple | None:
    tag, sep, body = text.partition(":")
    if not sep or tag not in (FIELD, KEY, VALUE, INDEX):
        return None  # a kind of element this version does not know: dropped, as SMD does
    if tag == FIELD:
        return (FIELD, body)
    if tag == INDEX:
        return (INDEX, int(body))
    return (tag, canonical_json(json.loads(body)))


def from_fields_v1(doc: dict, prefix: Path = ()) -> set:
    out = set()
    for text, sub in doc.items():
        if text == ".":
            if prefix:
                out.add(prefix)
            continue
        pe = _parse_element(text)
        if pe is None:
            continue
        path = prefix + (pe,)
        if isinstance(sub, dict) and sub:
            out |= from_fields_v1(sub, path)
        else:
            out.add(path)
    return out
