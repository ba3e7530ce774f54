"""kubeconfig contexts through the official client's loader, and kubectl's ApplySet id."""

from __future__ import annotations

import json
import stat
import sys

import pytest
import yaml

from kubedeck.engine.applyset import ApplySet, ApplySetError, applyset_id
from kubedeck.engine.kubeconnect import KubeconfigError, load
from kubedeck.engine.remote_sync import field_path


def kubeconfig(tmp_path, user: dict, *, namespace: str | None = "team") -> str:
    ctx = {"cluster": "c1", "user": "u1", **({"namespace": namespace} if namespace else {})}
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "c1", "cluster": {"server": "https://127.0.0.1:6443",
                                                "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u1", "user": user}],
        "contexts": [{"name": "ctx", "context": ctx}, {"name": "other", "context": ctx}]}))
    return str(path)


def test_token_context_namespace_and_headers(tmp_path):
    conn = load("ctx", kubeconfig(tmp_path, {"token": "abc"}))
    assert (conn.url, conn.context, conn.cluster, conn.namespace) == ("https://127.0.0.1:6443", "ctx", "c1", "team")
    assert conn.headers() == {"Authorization": "Bearer abc"}
    assert conn.ssl().verify_mode == 0  # insecure-skip-tls-verify, as the kubeconfig says


def test_exec_plugin_token_is_used(tmp_path):
    plugin = tmp_path / "plugin.py"
    plugin.write_text("import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
                      "'kind': 'ExecCredential', 'status': {'token': 'from-plugin'}}))\n")
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(plugin)], "interactiveMode": "Never"}}
    conn = load("ctx", kubeconfig(tmp_path, user, namespace=None))
    assert conn.headers() == {"Authorization": "Bearer from-plugin"} and conn.namespace == "default"


def test_failing_exec_plugin_and_unknown_context_are_user_errors(tmp_path):
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "/bin/false",
                     "interactiveMode": "Never"}}
    with pytest.raises(KubeconfigError, match="credentials"):
        load("ctx", kubeconfig(tmp_path, user))
    with pytest.raises(KubeconfigError, match='context "nope" not found'):
        load("nope", kubeconfig(tmp_path, {"token": "x"}))


def test_kubeconfig_env_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", kubeconfig(tmp_path, {"token": "t"}))
    assert load().context == "other"  # the current context of $KUBECONFIG


def test_applyset_id_is_kubectls():
    # kubectl 1.32 accepted a parent with this id label (it compares with its own ApplySet.ID())
    assert applyset_id("kubedeck-app", "default") == "applyset-mFbKxTjnbyDyQM8MkSqqi_njRliA00-fDPhdE2NkyNE-v1"


def test_parent_of_another_tool_is_refused_and_patch_lists_kinds():
    s = ApplySet("set", "default")
    with pytest.raises(ApplySetError, match="managed by tooling 'helm'"):
        s.check_parent({"metadata": {"annotations": {"applyset.kubernetes.io/tooling": "helm/v3"}}})
    notes = s.parent_patch({("apps", "Deployment"), ("", "ConfigMap")}, {"default", "other"})["metadata"]["annotations"]
    assert notes["applyset.kubernetes.io/contains-group-kinds"] == "ConfigMap,Deployment.apps"
    assert notes["applyset.kubernetes.io/additional-namespaces"] == "other"
    with pytest.raises(ApplySetError):
        s.label_member({"metadata": {"labels": {"applyset.kubernetes.io/part-of": "someone-else"}}})


def test_field_path_for_line_mapping():
    assert field_path("spec.template.spec.containers[0].image") == (
        "spec", "template", "spec", "containers", 0, "image")
    assert json.dumps(field_path("")) == "[]"
