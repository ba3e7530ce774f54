"""Loader: YAML/JSON parsing, line numbers, List expansion and the guards."""
from __future__ import annotations

import time

import pytest

from kubedeck.engine.manifests import Document, ManifestError, iter_manifest_files, load_file, load_text
from kubedeck.engine.manifests.loader import MAX_FILE_BYTES, NOT_AN_OBJECT

CONFIGMAP = """\
# a comment
apiVersion: v1
kind: ConfigMap
metadata:
  name: one
data:
  key: value
"""


def messages(errors):
    return [e.message for e in errors]


def test_single_document_with_lines():
    docs, errors = load_text(CONFIGMAP, "cm.yaml")
    assert errors == []
    [doc] = docs
    assert doc.obj == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}, "data": {"key": "value"}}
    assert (doc.file, doc.index, doc.line) == ("cm.yaml", 0, 2)
    assert doc.line_of(("metadata", "name")) == 5
    assert doc.line_of(("data", "key")) == 7
    # unknown path falls back to the nearest parent, then to the document line
    assert doc.line_of(("data", "missing", 3)) == 6
    assert doc.line_of(("nothing",)) == 2
    assert doc.object_name == "ConfigMap/one"


def test_multi_document_skips_empty_documents():
    text = "---\n" + CONFIGMAP + "---\n---\n# only a comment\n---\n" + CONFIGMAP.replace("one", "two")
    docs, errors = load_text(text, "multi.yaml")
    assert errors == []
    assert [d.obj["metadata"]["name"] for d in docs] == ["one", "two"]
    assert docs[0].index == 0 and docs[1].index == 3
    assert docs[0].line == 3
    assert docs[1].line == 14
    assert docs[1].line_of(("metadata", "name")) == 17


def test_sequence_item_lines():
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: a
    image: busybox
  - name: b
    ports:
    - containerPort: 80
    - containerPort: 81
"""
    [doc], errors = load_text(text, "pod.yaml")
    assert errors == []
    assert doc.line_of(("spec", "containers", 1)) == 8
    assert doc.line_of(("spec", "containers", 1, "ports", 1)) == 11
    assert doc.line_of(("spec", "containers", 1, "ports", 1, "containerPort")) == 11
    assert doc.line_of(("spec", "containers", 0, "image")) == 7


def test_kind_list_is_expanded_with_item_lines():
    text = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a}
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: b
"""
    docs, errors = load_text(text, "list.yaml")
    assert errors == []
    assert [d.obj["metadata"]["name"] for d in docs] == ["a", "b"]
    assert [d.line for d in docs] == [4, 7]
    assert [d.item for d in docs] == [0, 1]
    assert docs[1].line_of(("metadata", "name")) == 10


def test_list_item_that_is_not_an_object():
    text = "apiVersion: v1\nkind: List\nitems:\n- 5\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n"
    docs, errors = load_text(text, "list.yaml")
    assert len(docs) == 1
    assert errors[0].line == 4 and errors[0].message == NOT_AN_OBJECT


def test_anchors_aliases_and_merge_keys():
    text = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: anchors
  labels: &labels {app: web, tier: front}
  annotations:
    <<: *labels
    tier: back
data: {a: "1"}
"""
    [doc], errors = load_text(text, "a.yaml")
    assert errors == []
    assert doc.obj["metadata"]["annotations"] == {"app": "web", "tier": "back"}
    # aliases are copies, not shared objects
    assert doc.obj["metadata"]["annotations"] is not doc.obj["metadata"]["labels"]


def test_kubernetes_flavoured_scalars():
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata:\n  when: 2024-01-01\n  1: one\n"
    [doc], errors = load_text(text, "s.yaml")
    assert errors == []
    assert doc.obj["data"] == {"when": "2024-01-01", "1": "one"}


def test_empty_file_is_fine():
    assert load_text("", "e.yaml") == ([], [])
    assert load_text(b"", "e.yaml") == ([], [])
    assert load_text("# nothing here\n---\n", "e.yaml") == ([], [])


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_document_that_is_not_a_mapping(text):
    docs, errors = load_text(text, "x.yaml")
    assert docs == []
    assert messages(errors) == [NOT_AN_OBJECT]
    assert errors[0].line == 1


def test_bad_document_does_not_hide_the_others():
    text = CONFIGMAP + "---\n- a list\n---\n" + CONFIGMAP.replace("one", "two")
    docs, errors = load_text(text, "x.yaml")
    assert [d.obj["metadata"]["name"] for d in docs] == ["one", "two"]
    assert messages(errors) == [NOT_AN_OBJECT]
    assert errors[0].line == 9


def test_yaml_syntax_error_has_line():
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent: here\n"
    docs, errors = load_text(text, "bad.yaml")
    assert docs == []
    [err] = errors
    assert err.line == 5
    assert err.message.startswith("invalid YAML:")
    assert str(err).startswith("bad.yaml:5: invalid YAML")


def test_unclosed_flow_sequence():
    docs, errors = load_text("a: [1, 2\nb: 3\n", "bad.yaml")
    assert docs == [] and len(errors) == 1 and errors[0].line == 2


def test_duplicate_keys_are_an_error():
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nkind: Secret\n"
    docs, errors = load_text(text, "dup.yaml")
    assert docs == []
    assert errors[0].line == 4
    assert 'duplicate key "kind" (first at line 2)' in errors[0].message


def test_binary_garbage():
    docs, errors = load_text(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "img.yaml")
    assert docs == [] and len(errors) == 1
    assert "binary" in errors[0].message


def test_invalid_utf8():
    docs, errors = load_text(b"apiVersion: v1\nkind: \xff\xfe\xfa\n", "bad.yaml")
    assert docs == [] and len(errors) == 1
    assert "not valid UTF-8" in errors[0].message and errors[0].line == 2


def test_control_characters():
    docs, errors = load_text("apiVersion: v1\nkind: \x07\n", "bad.yaml")
    assert docs == [] and len(errors) == 1 and errors[0].line == 2


def test_unsupported_tag():
    docs, errors = load_text("apiVersion: v1\nkind: !Ref Pod\n", "t.yaml")
    assert docs == [] and 'unsupported YAML tag "!Ref"' in errors[0].message


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_alias_bomb_is_rejected_fast():
    start = time.monotonic()
    docs, errors = load_text(BILLION_LAUGHS, "bomb.yaml")
    assert time.monotonic() - start < 2
    assert docs == []
    assert messages(errors) == ["too many aliases (possible alias bomb)"]


def test_recursive_alias_is_an_error():
    docs, errors = load_text("a: &a [1, *a]\n", "r.yaml")
    assert docs == [] and len(errors) == 1


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000 + "]" * 5000,
        '{"a":' * 5000 + "1" + "}" * 5000,
        "- " * 5000 + "x\n",
        "".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "v\n",
    ],
    ids=["flow-seq", "flow-map", "block-seq", "block-map-150"],
)
@pytest.mark.parametrize("name", ["deep.yaml", "deep.json"])
def test_deep_nesting_is_an_error_not_a_crash(text, name):
    docs, errors = load_text(text, name)
    assert docs == []
    assert len(errors) == 1
    assert "nested too deeply" in errors[0].message


def test_file_size_cap(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    docs, errors = load_file(big)
    assert docs == [] and "too large" in errors[0].message
    docs, errors = load_text(b"#" * (MAX_FILE_BYTES + 1), "big.yaml")
    assert docs == [] and "too large" in errors[0].message


def test_json_file(tmp_path):
    path = tmp_path / "cm.json"
    path.write_text('{\n\t"apiVersion": "v1",\n\t"kind": "ConfigMap",\n\t"metadata": {"name": "j"}\n}\n')
    [doc], errors = load_file(path)
    assert errors == [] and doc.obj["metadata"]["name"] == "j"


def test_json_syntax_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "apiVersion": "v1"\n  "kind": "ConfigMap"\n}\n')
    docs, errors = load_file(path)
    assert docs == [] and len(errors) == 1 and errors[0].line == 3
    assert errors[0].message.startswith("invalid JSON")


def test_missing_file(tmp_path):
    docs, errors = load_file(tmp_path / "nope.yaml")
    assert docs == [] and "cannot read file" in errors[0].message


def test_iter_manifest_files(tmp_path):
    for rel in ["b.yaml", "a.yml", "c.json", "notes.txt", ".hidden.yaml", "sub/d.yaml", ".git/e.yaml", "sub/.x/f.yaml"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_manifest_files(tmp_path)]
    assert found == ["a.yml", "b.yaml", "c.json", "sub/d.yaml"]


def test_error_formatting():
    err = ManifestError("web.yaml", 21, "Deployment/tracker", "spec.template.spec.containers[0].ports[0]",
                        'unknown field "containerPorts" (did you mean "containerPort"?)')
    assert str(err) == ('web.yaml:21 Deployment/tracker spec.template.spec.containers[0].ports[0]: '
                        'unknown field "containerPorts" (did you mean "containerPort"?)')
    assert err.to_dict()["severity"] == "error"
    assert str(ManifestError("x.yaml", 0, "", "", "boom")) == "x.yaml: boom"


def test_document_error_helper():
    [doc], _ = load_text(CONFIGMAP, "cm.yaml")
    assert isinstance(doc, Document)
    e = doc.error(("data", "key"), "bad")
    assert str(e) == "cm.yaml:7 ConfigMap/one data.key: bad"
