"""Where a cluster keeps its state, and how clients find it.

`--state DIR`, else `$KUBEDECK_STATE`, else `$XDG_STATE_HOME/kubedeck/default`. The
directory name is the cluster's name (it labels every Docker object), so two state
dirs are two clusters that never touch each other's containers.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .files import write_atomic


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


@dataclass(frozen=True)
class Connection:
    """How a client reaches one cluster's API: `api.json` in its state dir."""

    url: str
    token: str
    #: the cluster CA's PEM file; the API serves HTTPS signed by it (engine/pki.py)
    ca: str | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "Connection":
        return cls(url=data["url"], token=data["token"], ca=data.get("ca"))

    @classmethod
    def from_state(cls, state: Path) -> "Connection":
        data = read_connection(state)
        if data is None:
            raise FileNotFoundError(state / "api.json")
        return cls.from_dict(data)

    def headers(self) -> dict[str, str]:
        """The request headers that authenticate (engine/kubeconnect.py's connections have
        the same method, so every client takes either)."""
        return {"Authorization": f"Bearer {self.token}"}

    def ssl(self):
        """The TLS context for this cluster (True: the system's trust, for plain http)."""
        if not self.ca:
            return True
        from .pki import client_context

        return client_context(self.ca)


def kubeconfig_text(*, name: str, url: str, token: str, ca_pem: bytes, namespace: str = "default") -> str:
    """A kubeconfig for one cluster: CA data inline, so it works anywhere it is copied."""
    ca = base64.b64encode(ca_pem).decode()
    return f"""apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: {ca}
    server: {url}
  name: {name}
contexts:
- context:
    cluster: {name}
    namespace: {namespace}
    user: {name}
  name: {name}
current-context: {name}
preferences: {{}}
users:
- name: {name}
  user:
    token: {token}
"""


def write_connection(state: Path, *, url: str, token: str, cluster: str, folder: str | None,
                     ca: Path) -> None:
    state.mkdir(parents=True, exist_ok=True)
    write_atomic(state / "api.json", json.dumps(
        {"url": url, "token": token, "ca": str(ca), "pid": os.getpid(), "cluster": cluster,
         "folder": folder}), 0o600)
    write_atomic(state / "kubeconfig", kubeconfig_text(name=context_name(cluster), url=url, token=token,
                                                      ca_pem=ca.read_bytes()), 0o600)


def context_name(cluster: str) -> str:
    """The kubeconfig cluster, user and context name of a kubedeck cluster."""
    return f"kubedeck-{cluster}"


def read_connection(state: Path) -> dict | None:
    try:
        return json.loads((state / "api.json").read_text())
    except (OSError, ValueError):
        return None


def clear_connection(state: Path, *, pid: int | None = None) -> None:
    """Remove `api.json` if it is the one engine `pid` (default: this process) wrote:
    an engine stopping never removes another engine's connection."""
    conn = read_connection(state)
    if conn is None or conn.get("pid") != (os.getpid() if pid is None else pid):
        return
    try:
        (state / "api.json").unlink()
    except OSError:
        pass


def ensure_state_dir(state: Path) -> Path:
    """Create the state dir (and its parents) if needed; it holds the token, the CA key
    and the Secrets, so it is 0700 whoever created it."""
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    if state.stat().st_mode & 0o077:
        state.chmod(0o700)
    return state


def merge_user_kubeconfig(state: Path, path: Path, *, url: str, token: str, cluster: str, ca: Path) -> None:
    """Put this cluster's context into the user's kubeconfig and make it current; remember
    where, and which context was current before, for `kubedeck down` to undo it."""
    from .kubeconfig import merge_context

    name = context_name(cluster)
    record = state / "kubeconfig-merged.json"
    before = read_json(record) or {}
    previous = merge_context(path, name=name, server=url, ca_pem=ca.read_bytes(), token=token)
    if before.get("path") == str(path):  # a restart: keep what was current before the first start
        previous = before.get("previous", "")
    write_atomic(record, json.dumps({"path": str(path), "context": name, "previous": previous}), 0o600)


def unmerge_user_kubeconfig(state: Path) -> str | None:
    """Undo `merge_user_kubeconfig`; returns the kubeconfig file changed, if any."""
    from .kubeconfig import remove_context

    record = state / "kubeconfig-merged.json"
    data = read_json(record)
    if not data:
        return None
    path = Path(data["path"])
    changed = remove_context(path, name=data["context"], previous=data.get("previous", ""))
    record.unlink(missing_ok=True)
    return str(path) if changed else None


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
