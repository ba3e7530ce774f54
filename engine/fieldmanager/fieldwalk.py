"""Walks over objects with their schema, for server-side apply (see ``fieldset.py``).

Each function mirrors one structured-merge-diff operation on plain dicts and lists:

- ``field_set``: the fields an applied configuration sets (SMD ToFieldSet). Leaves and
  items of associative lists are members; so are entries of granular maps (labels), and
  struct fields set to ``{}`` or null. An atomic list or map is one leaf.
- ``compare``: what changed from one object to the next (SMD Compare): leaves added,
  modified or removed, and non-leaf nodes added or removed, which is how an Update manager
  comes to own ``".": {}`` of a list item or a map it created.
- ``merge``: the live object with the applied configuration laid over it; associative
  lists merge per item and keep SMD's order (config order for shared items, live-only
  items stay where they were).
- ``remove``: drop members of a field set from an object (SMD RemoveItems); a map or list
  left empty by the removal goes too.
- ``ensure_named`` adds the struct fields above each member, which SMD does before pruning
  so that a struct nobody owns any more is removed whole.
"""

from __future__ import annotations

import copy

from .fieldset import (
    FIELD,
    VALUE_STRUCTS,
    FieldSetError,
    TrieNode,
    canonical_json,
    child_schema,
    index_items,
    is_atomic_map,
    is_named,
    item_element,
    item_schema,
    list_kind,
    path_string,
    trie,
)


def _same(a, b) -> bool:
    return canonical_json(a) == canonical_json(b)


def _leafy_list(node, a, b) -> bool:
    return list_kind(node)[0] == "atomic" or (not a and not b)


def field_set(value, node) -> set:
    out: set = set()
    _field_set(value, node, (), out)
    return out


def _field_set(value, node, path, out) -> None:
    if isinstance(value, list):
        kind, keys = list_kind(node)
        if kind == "atomic":
            out.add(path)
            return
        sub_node = item_schema(node)
        try:
            items = index_items(value, kind, keys)
        except FieldSetError as e:
            raise FieldSetError(f"{path_string(path)}: {e}") from None
        for pe, item in items.items():
            _field_set(item, sub_node, path + (pe,), out)
            out.add(path + (pe,))
    elif isinstance(value, dict):
        if is_atomic_map(node):
            out.add(path)
            return
        for key, val in value.items():
            sub = path + ((FIELD, key),)
            _field_set(val, child_schema(node, key), sub, out)
            if val is None or val == {} or not is_named(node, key):
                out.add(sub)
    elif path:
        out.add(path)


def compare(old, new, node) -> tuple[set, set, set]:
    """(added, modified, removed) paths from ``old`` to ``new``."""
    added, modified, removed = set(), set(), set()
    _compare(old, new, node, (), (added, modified, removed))
    return added, modified, removed


def _compare(old, new, node, path, acc) -> None:
    added, _, removed = acc
    both_dicts = isinstance(old, (dict, type(None))) and isinstance(new, (dict, type(None)))
    both_lists = isinstance(old, (list, type(None))) and isinstance(new, (list, type(None)))
    if both_dicts and not (is_atomic_map(node) or (not old and not new)):
        old_d, new_d = old or {}, new or {}
        for key in list(old_d) + [k for k in new_d if k not in old_d]:
            o, n = old_d.get(key), new_d.get(key)
            if o is None and old is not None and isinstance(n, (dict, list)) and _always_there(node, key):
                o = type(n)()
            if o is not None or n is not None:
                _compare(o, n, child_schema(node, key), path + ((FIELD, key),), acc)
    elif both_lists and not _leafy_list(node, old, new):
        kind, keys = list_kind(node)
        try:
            old_i, new_i = index_items(old or [], kind, keys), index_items(new or [], kind, keys)
        except FieldSetError:  # items the schema cannot key: compare the list whole
            return _compare_leaf(old, new, path, acc)
        for pe in list(old_i) + [p for p in new_i if p not in old_i]:
            _compare(old_i.get(pe), new_i.get(pe), item_schema(node), path + (pe,), acc)
    else:
        return _compare_leaf(old, new, path, acc)
    if path and old is None:
        added.add(path)
    elif path and new is None:
        removed.add(path)


def _always_there(node, key: str) -> bool:
    """A field every decoded Go object has, empty or null: a value struct, or a required
    field (no omitempty). Filling it in does not add the node itself, so ``f:spec`` and
    ``f:containers`` never get ``"."`` when an Update creates them."""
    return is_named(node, key) and (key in VALUE_STRUCTS or key in (node.get("required") or ()))


def _compare_leaf(old, new, path, acc) -> None:
    added, modified, removed = acc
    if not path:
        return
    if old is None:
        added.add(path)
    elif new is None:
        removed.add(path)
    elif not _same(old, new):
        modified.add(path)


def merge(live, config, node):
    """``config`` laid over ``live``: config values win, associative lists merge by item."""
    if config is None:
        return copy.deepcopy(live)
    if live is None:
        return copy.deepcopy(config)
    if isinstance(config, dict) and isinstance(live, dict):
        if is_atomic_map(node) or (not live and not config):
            return copy.deepcopy(config)
        out = copy.deepcopy(live)
        for key, val in config.items():
            out[key] = merge(live.get(key), val, child_schema(node, key))
        return out
    if isinstance(config, list) and isinstance(live, list) and not _leafy_list(node, live, config):
        return _merge_list(live, config, node)
    return copy.deepcopy(config)


def _merge_list(live: list, config: list, node) -> list:
    kind, keys = list_kind(node)
    sub_node = item_schema(node)
    lhs, rhs = index_items(live, kind, keys), index_items(config, kind, keys)
    lpes, rpes = list(lhs), list(rhs)
    shared = [pe for pe in rpes if pe in lhs]  # the order shared items take: the config's
    out, merged = [], set()
    li = ri = 0
    while li < len(lpes) or ri < len(rpes):
        next_shared = shared[0] if shared else None
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                out.append(merge(lhs[pe], rhs[pe], sub_node))
                merged.add(pe)
                li, ri = li + 1, ri + 1
                shared = shared[1:]
                continue
            if pe in rhs and next_shared is not None and pe != next_shared:
                li += 1  # a shared item, but not the next one in config order
                continue
        if li < len(lpes):
            pe = lpes[li]
            if pe not in rhs:
                out.append(copy.deepcopy(lhs[pe]))
                li += 1
                continue
            if pe in merged:
                li += 1  # and on to the config item, in this same round (as SMD does)
        if ri < len(rpes):
            pe = rpes[ri]
            merged.add(pe)
            out.append(merge(lhs.get(pe), rhs[pe], sub_node))
            ri += 1
            if pe == next_shared:
                shared = shared[1:]
    return out


def remove(value, paths, node):
    """``value`` without the members of ``paths`` (each with everything below it)."""
    return _remove(value, trie(paths), node)


def _remove(value, tree: TrieNode, node):
    if isinstance(value, dict) and not is_atomic_map(node):
        out = {}
        for key, val in value.items():
            sub = tree.children.get((FIELD, key))
            if sub is None:
                out[key] = val
            elif not sub.member:
                kept = _remove(val, sub, child_schema(node, key))
                if kept not in ({}, []) or val in ({}, []):
                    out[key] = kept
        return out
    if isinstance(value, list) and list_kind(node)[0] != "atomic":
        kind, keys = list_kind(node)
        out = []
        for item in value:
            try:
                sub = tree.children.get(item_element(item, kind, keys))
            except FieldSetError:
                sub = None
            if sub is None:
                out.append(item)
            elif not sub.member:
                out.append(_remove(item, sub, item_schema(node)))
        return out
    return value


def ensure_named(paths: set, root) -> set:
    """``paths`` plus every named struct field that has a member below it."""
    out = set(paths)
    for path in paths:
        node = root
        for i, pe in enumerate(path[:-1]):
            if pe[0] == FIELD:
                if is_named(node, pe[1]):
                    out.add(path[:i + 1])
                node = child_schema(node, pe[1])
            else:
                node = item_schema(node)
    return out


def without_prefixes(paths: set, prefixes: set) -> set:
    """SMD's RecursiveDifference: drop the paths at or below any of ``prefixes``."""
    return {p for p in paths if not any(p[:len(q)] == q for q in prefixes)}
