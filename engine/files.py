"""Writing a file so that no reader, and no crash, ever sees half of it.

The state dir's files (the token, the CA and keys, api.json, the kubeconfig) are written
to a temporary name, flushed to disk and renamed over the old one: a reader sees the old
file or the new one, and after a crash or a file system turned read-only (the chaos
suite's EROFS test found an empty token and a broken `ca.key` without the flush) the
old or the new content, never an empty file. Files that only this run of the engine
reads (nftables rule files) skip the flush.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: str | bytes, mode: int = 0o666, *, durable: bool = True) -> None:
    """Replace `path` at once with `data` (mode before the umask: 0o600 keeps a secret
    unreadable to others from its first byte); `durable` flushes it to disk first."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
