"""One engine per state dir: an OS file lock held for the engine's whole life.

`kubedeck serve` takes `flock(LOCK_EX | LOCK_NB)` on `<state>/engine.lock` before it
does anything else and keeps the descriptor open until the process exits. The kernel
drops the lock when the process ends, however it ends (SIGKILL included), so there is
never a stale lock to clean up. A frozen engine (SIGSTOP, a blocked event loop) still
holds it, which a health check cannot tell apart from "no engine". Two engines started
at the same instant cannot both get it.

The file is never removed: deleting it while an engine holds it would let the next
engine lock a new file of the same name beside it. The holder writes its pid into it so
a refusal can say who holds the state dir.

`holder()` asks from outside (`kubedeck up`, `down`, the NodePort cleanup) with a shared
lock held for an instant; an engine whose exclusive lock collides with such a probe
retries for a short while (`patience`) instead of refusing.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

LOCK_FILE = "engine.lock"


class StateLocked(Exception):
    """Another engine holds the state dir's lock."""

    def __init__(self, state: Path, pid: int):
        who = f"pid {pid}" if pid else "pid not known yet"
        super().__init__(f"another kubedeck engine ({who}) is running on {state}")
        self.state = state
        self.pid = pid


class StateLock:
    """The exclusive lock of one state dir, for the life of this process."""

    def __init__(self, state: Path):
        self.path = Path(state) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self, *, patience: float = 0.5) -> StateLock:
        """Take the lock, or raise StateLocked naming the holder's pid."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + patience
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise StateLocked(self.path.parent, _read_pid(self.path)) from None
                time.sleep(0.02)  # a probe's shared lock lasts microseconds
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


def holder(state: Path) -> int | None:
    """The pid of the engine holding `state`'s lock; 0 if its pid is not written yet;
    None when no engine holds it."""
    path = Path(state) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(path)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(path: Path) -> int:
    """The holder's pid; it writes it right after locking, so wait a moment for it."""
    deadline = time.monotonic() + 0.2
    while True:
        try:
            text = path.read_text().strip()
        except OSError:
            text = ""
        if text.isdigit() or time.monotonic() >= deadline:
            return int(text) if text.isdigit() else 0
        time.sleep(0.01)
