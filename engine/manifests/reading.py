"""Reading one manifest file without ever blocking: the one reader of the folder sync
(engine/folder.py) and of `kubedeck validate` / `apply -f` (loader.load_file).

A path is hostile input. It is opened only once `os.stat` says it is a regular file,
and then with O_NONBLOCK, and the opened descriptor is checked again with `fstat`, so a
FIFO or a device node named `x.yaml` (or swapped in after the stat) is a problem to
report, never a read that waits forever. A symlink loop, a dangling link, an
unreadable file and one larger than MAX_FILE_BYTES are problems too. Nothing here
raises: the caller gets the bytes, or a one-line problem, or "gone".
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 3 * 1024 * 1024  # as the API's request body limit


def read_regular(path: Path) -> tuple[bytes | None, str | None]:
    """(data, None), (None, problem), or (None, None) when the file no longer exists."""
    try:
        st = os.stat(path)  # follows the link: ELOOP for a loop, ENOENT for a dangling one
        kind = _not_regular(st.st_mode)
        if kind:
            return None, f"is {kind}, not a regular file: not read"
        if st.st_size > MAX_FILE_BYTES:
            return None, f"file is too large ({st.st_size:,} bytes; the limit is {MAX_FILE_BYTES:,} bytes)"
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
        try:
            kind = _not_regular(os.fstat(fd).st_mode)
            if kind:
                return None, f"is {kind}, not a regular file: not read"
            chunks, size = [], 0
            while size <= MAX_FILE_BYTES and (chunk := os.read(fd, 1 << 20)):
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return None, "is a symlink loop: not read"
        if e.errno == errno.ENOENT:
            return (None, "is a dangling symlink: not read") if os.path.islink(path) else (None, None)
        return None, f"cannot read file: {e.strerror or e}"
    return b"".join(chunks), None


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device node"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
