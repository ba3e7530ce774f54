"""The compiled schema check (engine/manifests/schema_fast.py) against jsonschema: it may
say "ask jsonschema" more often, but never "valid" where jsonschema finds a problem."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from kubedeck.engine.manifests import schema, schema_fast

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = (7, "s", None, {"zzUnknown": 1}, [{"zz": 1}])


def _docs() -> list[dict]:
    docs = []
    for path in sorted((ROOT / "sample-manifests").rglob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and d.get("kind")]
    return docs


def _paths(node, at=()):
    yield at
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, at + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, at + (i,))


def _mutations(doc: dict):
    """`doc` with one value replaced, removed or given an unknown field, everywhere."""
    for path in _paths(doc):
        if not path:
            continue
        for value in (*MUTANTS, "__delete__", "__extra__"):
            m = copy.deepcopy(doc)
            parent = m
            for p in path[:-1]:
                parent = parent[p]
            if value == "__delete__":
                if not isinstance(parent, dict):
                    continue
                del parent[path[-1]]
            elif value == "__extra__":
                if not isinstance(parent[path[-1]], dict):
                    continue
                parent[path[-1]]["zzUnknown"] = "x"
            else:
                parent[path[-1]] = value
            yield path, m


def _jsonschema_ok(obj, def_name: str) -> bool:
    return next(iter(schema._validator(def_name).iter_errors(obj)), None) is None


def test_compiled_check_never_passes_what_jsonschema_refuses():
    docs = _docs()
    kinds = sorted({schema.lookup(d["apiVersion"], d["kind"]) for d in docs})
    assert len(kinds) >= 8, kinds
    for def_name in kinds:
        assert schema_fast.ready(def_name), f"{def_name}: not compiled"
    checked = agreed = 0
    for doc in docs:
        def_name = schema.lookup(doc["apiVersion"], doc["kind"])
        assert schema_fast.valid(def_name, doc), f"{doc['kind']}/{doc['metadata']['name']}: valid, yet refused"
        for path, m in _mutations(doc):
            fast, slow = schema_fast.valid(def_name, m), _jsonschema_ok(m, def_name)
            checked += 1
            agreed += fast == slow
            assert slow or not fast, f"{doc['kind']} {path}: compiled check passed what jsonschema refuses"
    # the other direction (compiled says "ask", jsonschema finds nothing) only costs time
    assert checked > 2000 and agreed / checked > 0.99, (checked, agreed)


def test_problems_are_still_worded_by_jsonschema():
    def_name = schema.lookup("v1", "ConfigMap")
    assert schema_fast.ready(def_name)
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "lables": {}}, "data": {"k": 1}}
    assert not schema_fast.valid(def_name, bad)
    words = {m for _, m, _ in schema.schema_errors(bad, def_name)}
    assert 'unknown field "lables" (did you mean "labels"?)' in words
    assert "expected string, got integer 1" in words


def test_a_damaged_cache_file_is_compiled_again(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(schema_fast, "_checks", {})
    def_name = schema.lookup("v1", "ConfigMap")
    assert schema_fast.ready(def_name)
    cached = schema_fast._cache_file(def_name)
    assert cached.is_relative_to(tmp_path) and cached.stat().st_size > 1000
    cached.write_bytes(b"\x00garbage")
    monkeypatch.setattr(schema_fast, "_checks", {})
    assert not schema_fast._load(def_name)
    assert schema_fast.ready(def_name)
    assert schema_fast.valid(def_name, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert cached.stat().st_size > 1000


@pytest.mark.parametrize("value", [float("nan"), object(), b"bytes"])
def test_input_it_does_not_expect_is_left_to_jsonschema(value):
    def_name = schema.lookup("v1", "ConfigMap")
    assert schema_fast.ready(def_name)
    assert not schema_fast.valid(def_name, {"apiVersion": "v1", "kind": "ConfigMap",
                                             "metadata": {"name": "x"}, "data": {"k": value}})
