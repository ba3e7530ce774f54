"""Fuzzing (hypothesis) of what reads hostile input without a server: the manifest loader,
the validator, label and field selectors, and the patch functions. In CI-sized slices
(`max_examples` per test, a deadline per example): no exception escapes, nothing hangs,
and what comes back has the documented shape. The API's request decoding is fuzzed
through a real aiohttp app in test_fuzz_api.py."""

from __future__ import annotations

import json
import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubedeck.engine.api.fields import FieldSelectorError, parse_field_selector
from kubedeck.engine.api.patch_error import PatchError
from kubedeck.engine.api.patches import apply_patch
from kubedeck.engine.manifests.errors import ManifestError
from kubedeck.engine.manifests.kinds import KINDS
from kubedeck.engine.manifests.loader import Document, load_text
from kubedeck.engine.manifests.validate import validate_document
from kubedeck.engine.selectors import matches_selector, parse_selector_string

# derandomize: the same examples on every run (CI stays reproducible); no example database in the tree
FAST = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 120)), deadline=2000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=False),
                    st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=25)
names = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?", fullmatch=True)
KIND_NAMES = sorted(KINDS)


@st.composite
def objects(draw):
    """Something shaped like a manifest whose every part may be wrong."""
    kind = draw(st.sampled_from(KIND_NAMES) | st.text(max_size=8))
    api = KINDS[kind].api_version if kind in KINDS and draw(st.booleans()) else draw(st.text(max_size=10))
    meta = draw(st.fixed_dictionaries({"name": names | st.text(max_size=10)},
                                      optional={"labels": st.dictionaries(st.text(max_size=8), json_values, max_size=3),
                                                "namespace": json_values, "annotations": json_values}))
    obj = {"apiVersion": api, "kind": kind, "metadata": meta if draw(st.integers(0, 4)) else draw(json_values)}
    obj.update(draw(st.dictionaries(st.sampled_from(["spec", "data", "status", "items", "stringData", "rules"]),
                                    json_values, max_size=3)))
    return obj


def _shape(docs, errors, file: str) -> None:
    assert all(isinstance(d, Document) for d in docs)
    assert all(isinstance(e, ManifestError) and e.file == file and e.message for e in errors)
    assert not any("internal error" in e.message for e in errors), errors


@FAST
@given(st.text(max_size=400))
def test_loader_on_any_text(text):
    docs, errors = load_text(text, "f.yaml")
    _shape(docs, errors, "f.yaml")


@FAST
@given(st.binary(max_size=400))
def test_loader_on_any_bytes(data):
    docs, errors = load_text(data, "f.json")
    _shape(docs, errors, "f.json")


@FAST
@given(objects(), st.sampled_from(["yaml", "json", "yaml-cut"]), st.data())
def test_loader_and_validator_on_manifest_shaped_text(obj, form, data):
    """Real YAML/JSON of wrong objects, sometimes cut short: every error names the file,
    and a line inside it when it has one."""
    text = yaml.safe_dump(obj) if form != "json" else json.dumps(obj)
    if form == "yaml-cut":
        text = text[: data.draw(st.integers(0, len(text)))]
    docs, errors = load_text(text, "m.yaml")
    _shape(docs, errors, "m.yaml")
    lines = text.count("\n") + 1
    for doc in docs:
        found = validate_document(doc, known_kinds=frozenset())
        _shape([], found, "m.yaml")
        assert all(0 <= e.line <= lines for e in found), found


@FAST
@given(objects())
def test_validator_on_objects(obj):
    doc = Document(obj=obj, file="v.yaml", index=0, line=1, lines={})
    _shape([], validate_document(doc, known_kinds=frozenset({("example.com", "Widget")})), "v.yaml")


label_text = st.text(alphabet="abc=!,() in notxyz./-_\x00é", max_size=40)


@FAST
@given(label_text, st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3))
def test_label_selectors(text, labels):
    try:
        sel = parse_selector_string(text)
    except ValueError:
        return  # a 400 for the API
    assert isinstance(matches_selector(sel, labels), bool)
    assert isinstance(matches_selector(text, labels), bool)


@FAST
@given(st.text(alphabet="metadata.nspc=!,statu.phase Running", max_size=40), st.sampled_from(["Pod", "Event", "Secret", "ConfigMap"]),
       json_values)
def test_field_selectors(text, kind, obj):
    try:
        pred = parse_field_selector(text, kind)
    except FieldSelectorError:
        return
    if pred is not None:
        assert isinstance(pred(obj if isinstance(obj, dict) else {"metadata": {}}), bool)


BASE = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox", "env": [{"name": "A", "value": "1"}]}]}}}}
PATCH_TYPES = ["application/strategic-merge-patch+json", "application/merge-patch+json", "application/json-patch+json"]
json_op = st.fixed_dictionaries({"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "x"]),
                                 "path": st.sampled_from(["/spec/replicas", "/spec/template/spec/containers/0",
                                                          "/metadata/labels/a~1b", "/spec/x/-", "", "/", "bad"])},
                                optional={"value": json_values, "from": st.sampled_from(["/spec", "/nope"])})
smp = st.recursive(json_values, lambda inner: st.dictionaries(
    st.sampled_from(["spec", "template", "containers", "$patch", "$retainKeys", "$setElementOrder/containers",
                     "$deleteFromPrimitiveList/args", "name", "env", "metadata", "labels", "replicas"]),
    inner | st.sampled_from(["delete", "replace", "merge"]), max_size=4), max_leaves=20)


@FAST
@given(st.sampled_from(PATCH_TYPES), st.one_of(smp, st.lists(json_op, max_size=4), json_values), st.booleans())
def test_patches_fail_only_with_patch_error(ctype, body, raw):
    """A patch either applies (a dict back) or is a PatchError (a 4xx Status)."""
    data = (json.dumps(body) if not raw else json.dumps(body)[:-1]).encode()
    try:
        out = apply_patch(json.loads(json.dumps(BASE)), data, content_type=ctype, api_version="apps/v1", kind="Deployment")
    except PatchError as e:
        assert 400 <= e.code < 500
        return
    assert isinstance(out, dict)
