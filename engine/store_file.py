"""The store's SQLite file: private from its first byte, and checked before it is trusted.

Permissions: the file holds every Secret, so it is created 0600 by us before SQLite
opens it (SQLite gives its `-wal` and `-shm` files the database file's mode), and a file
left 0644 by an older kubedeck is tightened on open.

Damage: kubedeck must never start a silently empty cluster over a store that held one,
nor die with a raw `sqlite3.DatabaseError`. File sizes cannot tell: SQLite itself leaves
a 0-byte main file behind while the data is still in the WAL, and creates one on every
first connect. What is reliable is a marker written next to the store (`store.sqlite.ok`)
once its tables exist: from then on, a store without its tables (truncated to 0 bytes,
emptied, deleted) is damage, and so is one SQLite cannot read or whose `quick_check`
fails. Damage raises `StoreDamaged`, whose message says which file and what to do;
`set_aside` moves the damaged files away (never deletes them) for `--reset-store`.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from pathlib import Path

SUFFIXES = ("", "-wal", "-shm")


class StoreDamaged(Exception):
    """The store file cannot be trusted; the message is one line for the user."""

    def __init__(self, path: Path, problem: str):
        super().__init__(
            f"the store {path} {problem}: kubedeck will not start an empty cluster over it. "
            f"Restore it from a backup, or move it away (keep a copy: objects may be recovered "
            f"from it), or start with --reset-store to set it aside and begin empty")
        self.path = path
        self.problem = problem


def marker(path: Path) -> Path:
    return path.with_name(path.name + ".ok")


def open_db(path: Path | None) -> sqlite3.Connection:
    """Open (creating if new) the store database with its tables; raise StoreDamaged."""
    if path is None:
        return _init(sqlite3.connect(":memory:", isolation_level=None))
    _private(path)
    try:
        db = sqlite3.connect(str(path), isolation_level=None)
        try:
            known = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='objects'").fetchone()
            if known:
                check = db.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise StoreDamaged(path, f"is corrupt ({check})")
            elif marker(path).exists():
                raise StoreDamaged(path, "is empty or missing, but this state dir held a cluster")
            _init(db)
        except BaseException:
            db.close()
            raise
    except sqlite3.DatabaseError as e:
        raise StoreDamaged(path, f"cannot be read ({e})") from None
    for suffix in SUFFIXES[1:]:
        _private(path.with_name(path.name + suffix), create=False)
    if not marker(path).exists():
        fd = os.open(marker(path), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"store.sqlite holds a cluster: an empty one is damage, not a new cluster\n")
        os.close(fd)
    return db


def _init(db: sqlite3.Connection) -> sqlite3.Connection:
    db.execute("PRAGMA journal_mode=WAL")
    # FULL: each commit's WAL is fsynced before the write is answered, as etcd does. With
    # NORMAL a 201 could be lost to a disk error or power cut (seen: an ext4 turned
    # read-only by an error never wrote the last seconds of commits); ~1 ms per write.
    # Events and re-derived statuses are committed with NORMAL (store.py _write).
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS objects (kind TEXT, ns TEXT, name TEXT,"
               " body TEXT, PRIMARY KEY (kind, ns, name))")
    db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
    return db


def _private(path: Path, *, create: bool = True) -> None:
    """Make `path` 0600, creating it empty (never truncating) when `create`."""
    try:
        fd = os.open(path, os.O_RDONLY | (os.O_CREAT if create else 0), 0o600)
    except FileNotFoundError:
        return
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def why_unwritable(path: Path) -> str:
    """After SQLite refused a write ("disk I/O error" says little): what the OS says when
    we write next to the store, e.g. `the state dir /x: Read-only file system (EROFS)`,
    or '' when it can be written. A probe, not statvfs: an ext4 that an I/O error made
    read-only still reports itself read-write there."""
    probe = path.with_name(".kubedeck-write-probe")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"x")
            os.fsync(fd)
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except OSError as e:
        return f"the state dir {path.parent}: {e.strerror} ({errno.errorcode.get(e.errno, e.errno)})"
    return ""


def set_aside(path: Path, why: str = "damaged") -> Path:
    """Move a store (and its WAL) away, to <name>.<why>-<time>, and forget it held a
    cluster; returns where the main file went."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.{why}-{stamp}")
    for suffix in SUFFIXES:
        src = path.with_name(path.name + suffix)
        if src.exists():
            os.replace(src, aside.with_name(aside.name + suffix))
    marker(path).unlink(missing_ok=True)
    return aside


def remove(path: Path) -> None:
    """Delete the store on purpose (`kubedeck down`), marker included."""
    for suffix in SUFFIXES:
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    marker(path).unlink(missing_ok=True)
