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
