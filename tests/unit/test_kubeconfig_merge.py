"""Merging a cluster into the user's kubeconfig (engine/kubeconfig.py): the file written
by the real kubectl keeps every other entry byte for byte, the context becomes current,
and removing it restores the file exactly. kubectl itself then reads the result."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest

from kubedeck.engine.kubeconfig import merge_context, remove_context, user_kubeconfig


def kubectl(cfg, *args) -> str:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not on PATH: this test needs the machine image's kubectl")
    return subprocess.run([binary, "--kubeconfig", str(cfg), *args], capture_output=True, text=True,
                          check=True).stdout


def test_merge_keeps_the_users_entries_and_remove_restores_the_file(tmp_path):
    cfg = tmp_path / "config"
    kubectl(cfg, "config", "set-cluster", "work", "--server=https://10.0.0.1:6443")
    kubectl(cfg, "config", "set-credentials", "me", "--token=abc")
    kubectl(cfg, "config", "set-context", "work", "--cluster=work", "--user=me", "--namespace=team")
    kubectl(cfg, "config", "use-context", "work")
    os.chmod(cfg, 0o640)
    original = cfg.read_bytes()

    previous = merge_context(cfg, name="kubedeck-x", server="https://127.0.0.1:1234", ca_pem=b"PEM", token="t0k")
    assert previous == "work"
    assert kubectl(cfg, "config", "current-context").strip() == "kubedeck-x"
    assert sorted(kubectl(cfg, "config", "view", "-o", "jsonpath={.contexts[*].name}").split()) == \
        ["kubedeck-x", "work"]
    text = cfg.read_text()
    for line in original.decode().splitlines():  # every line of the user's file is still there
        if not line.startswith("current-context"):
            assert line in text.splitlines(), line
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o640  # the user's mode is kept

    merge_context(cfg, name="kubedeck-x", server="https://127.0.0.1:5678", ca_pem=b"PEM", token="t0k")
    assert sorted(kubectl(cfg, "config", "view", "-o", "jsonpath={.clusters[*].name}").split()) == \
        ["kubedeck-x", "work"]
    assert "5678" in cfg.read_text() and "1234" not in cfg.read_text()

    assert remove_context(cfg, name="kubedeck-x", previous=previous)
    assert cfg.read_bytes() == original
    assert not (tmp_path / "config.lock").exists()


def test_a_new_kubeconfig_is_private_and_kubectl_reads_it(tmp_path):
    cfg = tmp_path / "sub" / "config"
    merge_context(cfg, name="kubedeck-y", server="https://127.0.0.1:1", ca_pem=b"PEM", token="t")
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert kubectl(cfg, "config", "current-context").strip() == "kubedeck-y"


def test_which_file_kubectls_rule():
    assert user_kubeconfig({"HOME": "/h"}) == __import__("pathlib").Path("/h/.kube/config")
    assert str(user_kubeconfig({"KUBECONFIG": "/nope/a:/nope/b", "HOME": "/h"})) == "/nope/b"
    assert str(user_kubeconfig({"KUBECONFIG": f"/nope/a:{os.devnull}", "HOME": "/h"})) == os.devnull
