"""Where a cluster keeps its state, and how clients find it.

`--state DIR`, else `$KUBEDECK_STATE`, else `$XDG_STATE_HOME/kubedeck/default`. The
directory name is the cluster's name (it labels every Docker object), so two state
dirs are two clusters that never touch each other's containers.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path


def state_dir(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().resolve()
    if env := os.environ.get("KUBEDECK_STATE"):
        return Path(env).expanduser().resolve()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kubedeck" / "default"


def cluster_name(state: Path) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", state.name.lower()).strip("-") or "default"
    return name[:40]


def write_atomic(path: Path, text: str, mode: int = 0o666) -> None:
    """Replace a file at once, so a reader never sees half of it (mode before the umask;
    0o600 keeps a secret unreadable to others from its first byte)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_connection(state: Path, *, url: str, token: str, cluster: str, folder: str | None) -> None:
    state.mkdir(parents=True, exist_ok=True)
    write_atomic(state / "api.json", json.dumps(
        {"url": url, "token": token, "pid": os.getpid(), "cluster": cluster, "folder": folder}), 0o600)
    kubeconfig = f"""apiVersion: v1
kind: Config
clusters:
- name: kubedeck-{cluster}
  cluster:
    server: {url}
users:
- name: kubedeck-{cluster}
  user:
    token: {token}
contexts:
- name: kubedeck-{cluster}
  context:
    cluster: kubedeck-{cluster}
    user: kubedeck-{cluster}
    namespace: default
current-context: kubedeck-{cluster}
"""
    write_atomic(state / "kubeconfig", kubeconfig, 0o600)


def read_connection(state: Path) -> dict | None:
    try:
        return json.loads((state / "api.json").read_text())
    except (OSError, ValueError):
        return None


def clear_connection(state: Path) -> None:
    try:
        (state / "api.json").unlink()
    except OSError:
        pass
