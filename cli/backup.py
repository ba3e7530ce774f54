"""`kubedeck backup FILE` and `kubedeck restore FILE`: a cluster's objects in one file,
as an etcd snapshot holds a Kubernetes cluster's.

Backup reads the store file itself (`<state>/store.sqlite`), not the API: one read
transaction of SQLite's is a consistent snapshot of every stored object (Secrets,
Events, status, managedFields and all) at one resourceVersion, even while an engine
writes, and it works as well on a stopped cluster. The file is JSON (one document:
`kind: KubedeckBackup`, the store's resourceVersion, the objects), written 0600 and
atomically, since it holds the Secrets in the clear (base64 only).

Restore is etcdutl's `snapshot restore`: into a state dir no engine runs on (the state
dir's lock is taken for the duration, so none can start meanwhile), never through the
API. Through the API, every object would get a new uid and resourceVersion, pods would
be recreated, and ownerReferences (which name uids) would dangle. Written into the
store, every object keeps its uid, resourceVersion, creationTimestamp and status; the
store's own resourceVersion resumes at the backup's, or at the replaced store's if that
was further on, so a watch never sees time go back. A store that already holds objects
is replaced only with --force, and then moved aside (store.sqlite.before-restore-*),
never deleted. On the next `serve`, the agent adopts the containers of restored pods
still running and starts the missing ones; containers of pods the backup does not hold
are removed, as after any restart.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from kubedeck.engine.lock import StateLock, StateLocked
from kubedeck.engine.state import cluster_name
from kubedeck.engine.store_file import marker, open_db, remove, set_aside

from .errors import UserError

FORMAT = "kubedeck.io/v1"
STORE = "store.sqlite"


def snapshot(store: Path) -> tuple[int, list[dict]]:
    """(resourceVersion, objects) of a store file, read in one transaction."""
    if not store.exists():
        raise UserError(f"there is no cluster store at {store}: nothing to back up")
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as e:
        raise UserError(f"cannot open {store}: {e}") from None
    try:
        db.execute("BEGIN")  # one read transaction: one consistent view, whatever the engine writes
        row = db.execute("SELECT v FROM meta WHERE k='rv'").fetchone()
        objects = [json.loads(body) for (body,) in db.execute("SELECT body FROM objects ORDER BY kind, ns, name")]
        db.execute("COMMIT")
    except (sqlite3.Error, ValueError) as e:
        raise UserError(f"the store {store} cannot be read ({e}); nothing was written") from None
    finally:
        db.close()
    return int(row[0]) if row else 0, objects


def backup(state: Path, file: Path) -> int:
    rv, objects = snapshot(state / STORE)
    doc = {"apiVersion": FORMAT, "kind": "KubedeckBackup", "cluster": cluster_name(state),
           "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "resourceVersion": str(rv), "objects": objects}
    file = Path(file)
    tmp = file.with_name(f".{file.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, file)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {file}: {e.strerror or e}") from None
    print(f"kubedeck: backed up {len(objects)} object(s) of cluster {doc['cluster']!r} "
          f"at resourceVersion {rv} to {file}")
    return 0


def read_backup(file: Path) -> tuple[int, list[dict]]:
    try:
        doc = json.loads(Path(file).read_bytes())
    except OSError as e:
        raise UserError(f"cannot read {file}: {e.strerror or e}") from None
    except ValueError as e:
        raise UserError(f"{file} is not a kubedeck backup (not JSON: {e})") from None
    if not isinstance(doc, dict) or doc.get("kind") != "KubedeckBackup" or doc.get("apiVersion") != FORMAT:
        raise UserError(f"{file} is not a kubedeck backup (kind KubedeckBackup, apiVersion {FORMAT})")
    objects = doc.get("objects")
    if not isinstance(objects, list) or not all(_well_formed(o) for o in objects):
        raise UserError(f"{file} is damaged: every object needs kind, metadata.name, uid and resourceVersion")
    try:
        rv = int(doc.get("resourceVersion") or 0)
    except ValueError:
        raise UserError(f"{file} is damaged: resourceVersion is not a number") from None
    return max([rv, *(int(o["metadata"]["resourceVersion"]) for o in objects)]), objects


def _well_formed(obj) -> bool:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return (isinstance(meta, dict) and isinstance(obj.get("kind"), str) and bool(meta.get("name"))
            and bool(meta.get("uid")) and str(meta.get("resourceVersion", "")).isdigit())


def restore(state: Path, file: Path, *, force: bool) -> int:
    from kubedeck.engine.state import ensure_state_dir
    from kubedeck.engine.store import key_of

    rv, objects = read_backup(file)  # all checks before anything in the state dir changes
    ensure_state_dir(state)
    try:
        lock = StateLock(state).acquire()
    except StateLocked as e:
        raise UserError(f"{e}: stop it first (Ctrl-C on `kubedeck serve`, or kill {e.pid or 'it'}); "
                        "restore writes the store of a stopped cluster") from None
    try:
        store = state / STORE
        aside, old_rv = _set_aside_old(store, force=force)
        db = open_db(store)
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)",
                               [(*key_of(o), json.dumps(o, separators=(",", ":"))) for o in objects])
                db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(max(rv, old_rv)),))
        finally:
            db.close()
    finally:
        lock.release()
    print(f"kubedeck: restored {len(objects)} object(s) into {state}"
          + (f"; the previous store is now {aside}" if aside else "")
          + "; start the cluster with `kubedeck serve` or `kubedeck up`")
    return 0


def _set_aside_old(store: Path, *, force: bool) -> tuple[Path | None, int]:
    """Move the state dir's store away if it holds anything (with --force only); returns
    where it went and its resourceVersion."""
    try:
        old_rv, old = snapshot(store) if store.exists() else (0, [])
    except UserError:  # damaged: nothing to lose by replacing it, but keep it
        old_rv, old = 0, [None]
    if not old and not marker(store).exists():
        remove(store)
        return None, old_rv
    if not force:
        raise UserError(f"{store} already holds a cluster ({len(old)} object(s)); "
                        "use --force to replace it (it is moved aside, not deleted)")
    return set_aside(store, "before-restore"), old_rv

