"""Projected Secret files on the host: the volume's defaultMode inside, and no other host
user can reach them (engine/agent/volumes.py)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from kubedeck.engine.agent.volumes import mounts_for

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "default"},
          "data": {"password": base64.b64encode(b"hunter2").decode()}}


def pod_with(volume: dict) -> tuple[dict, dict]:
    c = {"name": "c", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/etc/v"}]}
    pod = {"metadata": {"name": "p", "namespace": "default", "uid": "u1"},
           "spec": {"containers": [c], "volumes": [{"name": "v", **volume}]}}
    return pod, c


def reachable_by_others(path: Path, top: Path) -> bool:
    """Every directory from `top` down to `path` lets others through, and `path` lets them read."""
    for d in [top, *reversed(path.relative_to(top).parents[:-1])]:
        if not (top / d).stat().st_mode & 0o001:
            return False
    return bool(path.stat().st_mode & 0o004)


def test_secret_files_keep_their_mode_but_the_host_copy_is_private(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)  # even in a state dir left open by an older kubedeck
    pod, c = pod_with({"secret": {"secretName": "db"}})
    [mount] = mounts_for(pod, c, pod_dir=state / "pods" / "u1", cluster="kdtest",
                         lookup=lambda kind, name: SECRET if (kind, name) == ("Secret", "db") else None)
    src = Path(mount["Source"])
    assert (src / "password").read_bytes() == b"hunter2"
    real = (src / "password").resolve()
    assert real.stat().st_mode & 0o777 == 0o644  # Kubernetes' default inside the container
    for d in (state / "pods", state / "pods" / "u1", state / "pods" / "u1" / "volumes"):
        assert d.stat().st_mode & 0o777 == 0o700, d
    assert not reachable_by_others(real, state)


def test_default_mode_is_honoured(tmp_path):
    pod, c = pod_with({"secret": {"secretName": "db", "defaultMode": 0o400}})
    [mount] = mounts_for(pod, c, pod_dir=tmp_path / "pods" / "u1", cluster="kdtest",
                         lookup=lambda kind, name: SECRET)
    assert (Path(mount["Source"]) / "password").resolve().stat().st_mode & 0o777 == 0o400


def test_the_api_access_directory_follows_the_pod_and_its_account(tmp_path):
    import pytest

    from kubedeck.engine.agent.podspec import ConfigError
    from kubedeck.engine.agent.volumes import api_access_mount

    pod, _ = pod_with({"emptyDir": {}})
    accounts = {"default": {"metadata": {"name": "default", "uid": "sa1"}}}
    lookup = lambda kind, name: accounts.get(name) if kind == "ServiceAccount" else None
    made = []

    def token(p, sa):
        made.append((p["metadata"]["name"], sa["metadata"]["uid"]))
        return "tok"
    m = api_access_mount(pod, [], pod_dir=tmp_path / "pods" / "u1", lookup=lookup, token=token, ca_pem=b"CA")
    assert m["Target"] == "/var/run/secrets/kubernetes.io/serviceaccount" and m["ReadOnly"]
    src = Path(m["Source"])
    assert [(src / f).read_bytes() for f in ("token", "ca.crt", "namespace")] == [b"tok", b"CA", b"default"]
    assert oct(os.stat(src / "token").st_mode & 0o777) == "0o644" and not reachable_by_others(src / "token", tmp_path)
    # a second container (or a restart) gets the same token
    api_access_mount(pod, [], pod_dir=tmp_path / "pods" / "u1", lookup=lookup, token=token, ca_pem=b"CA")
    assert made == [("p", "sa1")]
    # opting out, the container's own mount there, no maker: nothing
    opted = {**pod, "spec": {**pod["spec"], "automountServiceAccountToken": False}}
    assert api_access_mount(opted, [], pod_dir=tmp_path / "x", lookup=lookup, token=token, ca_pem=b"CA") is None
    accounts["quiet"] = {"metadata": {"name": "quiet", "uid": "sa2"}, "automountServiceAccountToken": False}
    quiet = {**pod, "spec": {**pod["spec"], "serviceAccountName": "quiet"}}
    assert api_access_mount(quiet, [], pod_dir=tmp_path / "x", lookup=lookup, token=token, ca_pem=b"CA") is None
    own = [{"Target": "/var/run/secrets/kubernetes.io/serviceaccount/"}]
    assert api_access_mount(pod, own, pod_dir=tmp_path / "x", lookup=lookup, token=token, ca_pem=b"CA") is None
    assert api_access_mount(pod, [], pod_dir=tmp_path / "x", lookup=lookup, token=None, ca_pem=b"CA") is None
    # an account that does not exist: the container waits, as for a missing ConfigMap
    missing = {**pod, "spec": {**pod["spec"], "serviceAccountName": "ghost"}}
    with pytest.raises(ConfigError, match='serviceaccount "ghost" not found'):
        api_access_mount(missing, [], pod_dir=tmp_path / "x", lookup=lookup, token=token, ca_pem=b"CA")
