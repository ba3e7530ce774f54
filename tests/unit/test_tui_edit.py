"""Pure helpers of `e` edit: finding an object's line, the editor command, error text."""

from __future__ import annotations

from kubedeck.tui.edit import editable_yaml, editor_command, error_text, find_line, source_of


def test_find_line_by_kind_name_and_namespace(tmp_path):
    path = tmp_path / "app.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: a}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: b}\n"
    )
    assert find_line(path, "ConfigMap", "web", "default") == 1
    assert find_line(path, "Deployment", "web", "a") == 5
    assert find_line(path, "Deployment", "web", "b") == 9
    assert find_line(path, "Service", "web", "default") == 1


def test_find_line_never_blocks_or_raises(tmp_path):
    import os

    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # opening it would block the TUI: line 1 without reading
    assert find_line(fifo, "Pod", "x") == 1
    assert find_line(tmp_path / "gone.yaml", "Pod", "x") == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text("# lead\nkind: Pod\nmetadata:\n  name: a\n---\nkind: [\n---\nkind: Pod\nmetadata: {name: b}\n")
    assert find_line(broken, "Pod", "a") == 2
    assert find_line(broken, "Pod", "b") == 1  # after a document that does not parse


def test_editor_command_honours_editor_with_arguments(monkeypatch, tmp_path):
    monkeypatch.setenv("EDITOR", "code -w")
    assert editor_command(tmp_path / "f.yaml", 7) == ["code", "-w", "+7", str(tmp_path / "f.yaml")]
    monkeypatch.delenv("EDITOR")
    assert editor_command(tmp_path / "f.yaml") == ["vi", str(tmp_path / "f.yaml")]


def test_source_and_editable_yaml():
    obj = {"kind": "Pod", "metadata": {"name": "p", "managedFields": [1],
                                       "annotations": {"kubedeck.io/source": "dir/p.yaml"}}}
    assert source_of(obj) == "dir/p.yaml"
    assert source_of({"metadata": {}}) is None
    assert "managedFields" not in editable_yaml(obj)


def test_error_text_like_validate():
    err = {"file": "web.yaml", "line": 7, "object": "Deployment/web", "field": "spec.replicas",
           "message": "must be an integer", "severity": "error"}
    assert error_text(err) == "web.yaml:7 Deployment/web spec.replicas: must be an integer"
    assert error_text({"file": "x.yaml", "line": 0, "message": "bad", "severity": "warning"}) == "warning: x.yaml: bad"
