"""Merging a kubedeck cluster into the user's kubeconfig, as minikube and kind do.

`kubedeck serve`/`up` add a cluster, user and context named `kubedeck-<cluster>` and make
the context current, so a plain `kubectl get pods` (and kubectx) works at once; `down`
takes them out again. Which file: kubectl's own rule, `$KUBECONFIG` (a path list; new
entries go to the first file that exists, else the last one named), else
`~/.kube/config`.

The file is the user's, so the edit is surgical: ruamel.yaml's round-trip mode keeps every
other entry, comment and quoting as it was; the write is atomic (temp file + rename, the
file's mode kept, 0600 for a new file) and takes the same `<file>.lock` that client-go
takes while it writes, so a concurrent `kubectl config` never interleaves with us.
"""

from __future__ import annotations

import base64
import io
import os
import time
from contextlib import contextmanager
from pathlib import Path


def user_kubeconfig(environ: dict | None = None) -> Path:
    env = os.environ if environ is None else environ
    paths = [Path(p).expanduser() for p in (env.get("KUBECONFIG") or "").split(os.pathsep) if p]
    if not paths:
        return Path(env.get("HOME") or Path.home()) / ".kube" / "config"
    return next((p for p in paths if p.exists()), paths[-1])


def merge_context(path: Path, *, name: str, server: str, ca_pem: bytes, token: str,
                  namespace: str = "default") -> str:
    """Add or replace the `name` cluster, user and context, and make the context current.
    Returns the context that was current before, for `remove_context` to restore."""
    cluster = {"certificate-authority-data": base64.b64encode(ca_pem).decode(), "server": server}
    with _edit(path) as doc:
        _upsert(doc, "clusters", name, "cluster", cluster)
        _upsert(doc, "users", name, "user", {"token": token})
        _upsert(doc, "contexts", name, "context", {"cluster": name, "namespace": namespace, "user": name})
        previous = str(doc.get("current-context") or "")
        doc["current-context"] = name
    return "" if previous == name else previous


def remove_context(path: Path, *, name: str, previous: str = "") -> bool:
    """Take the `name` entries out again; True if there were any. If `name` was current,
    the context that was current before (`previous`) is again, when it still exists."""
    if not path.exists():
        return False
    with _edit(path) as doc:
        found = False
        for section in ("clusters", "users", "contexts"):
            items = doc.get(section) or []
            keep = [i for i in items if not (isinstance(i, dict) and i.get("name") == name)]
            if len(keep) != len(items):
                found = True
                for i in [i for i in items if i not in keep]:
                    items.remove(i)
                if not items:
                    doc[section] = None  # kubectl writes an empty list as null
        if doc.get("current-context") == name:
            names = {c.get("name") for c in doc.get("contexts") or [] if isinstance(c, dict)}
            doc["current-context"] = previous if previous in names else ""
            found = True
    return found


def _yaml():
    from ruamel.yaml import YAML

    y = YAML()  # round-trip: comments, order and quoting of other entries survive
    y.indent(mapping=2, sequence=2, offset=0)  # kubectl's own layout
    y.width = 1 << 16  # never fold the long base64 lines
    y.preserve_quotes = True  # `user: ""` stays as the user (or kubectl) wrote it
    y.representer.add_representer(  # `null`, as kubectl writes it (ruamel writes nothing)
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return y


@contextmanager
def _edit(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        y = _yaml()
        exists = path.exists()
        doc = y.load(path.read_text()) if exists else None
        if doc is None:
            doc = y.load("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n"
                          "current-context: \"\"\npreferences: {}\nusers: []\n")
        yield doc
        buf = io.StringIO()
        y.dump(doc, buf)
        mode = path.stat().st_mode & 0o777 if exists else 0o600
        tmp = path.with_name(f".{path.name}.kubedeck-tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(buf.getvalue())
        os.chmod(tmp, mode)
        os.replace(tmp, path)


@contextmanager
def _locked(path: Path, timeout: float = 5.0):
    """client-go's kubeconfig lock: `<file>.lock` created exclusively while writing."""
    lock = path.with_name(path.name + ".lock")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{lock} is held by another program (remove it if none is running)") from None
            time.sleep(0.05)
    try:
        yield
    finally:
        os.close(fd)
        lock.unlink(missing_ok=True)


def _upsert(doc, section: str, name: str, field: str, value: dict) -> None:
    items = doc.get(section)
    if items is None:
        doc[section] = items = []
    # key order as kubectl writes it: `name` last, except for users
    entry = {"name": name, field: value} if section == "users" else {field: value, "name": name}
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == name:
            items[i] = entry
            return
    items.append(entry)
