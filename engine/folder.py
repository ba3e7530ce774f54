"""The watched manifest folder: the truth kubedeck keeps the cluster matching.

Every object applied from a file carries the file (relative to the folder) in the
annotation `kubedeck.io/source`, and the applied document in kubectl's
`last-applied-configuration`, so that:
- saving a file applies it: server-side apply (`ObjectService.apply_file`), with kubectl
  apply's rule that fields others changed keep their value until the file changes them;
- removing a document or a file deletes exactly the objects that file made;
- a file that becomes invalid leaves the objects it made before untouched: only the
  documents that validate are applied, and a file that cannot be parsed at all changes
  nothing; its errors are kept for `status()` until it is fixed;
- one object claimed by two files is a conflict reported on the second file.

Documents whose namespace does not exist yet wait and are retried after every sync,
so the order of files and documents never matters.

The folder is hostile input and never stops the engine: listing, reading, parsing and
validating run on a thread (`asyncio.to_thread`), only the store writes run on the
loop. A file is opened only once `os.stat` says it is a regular file, and then with
O_NONBLOCK, so a FIFO or a device named `x.yaml` is a manifest error (file, message),
never a read that blocks; so are a symlink loop, a dangling link and a file that cannot
be read. Editors' swap and backup files are ignored, and a batch of nothing else does
not even list the folder. An inotify watch dies with its directory, so a folder that is
deleted is waited for (polled) and synced again, watched anew, when it is back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import activity
from .labels import A_SOURCE as SOURCE
from .manifests.errors import ManifestError
from .manifests.loader import Document, iter_manifest_files, load_text
from .manifests.reading import read_regular
from .podsecurity import field_path
from .store import StoreError, key_of

if TYPE_CHECKING:
    from .objects import ObjectService
    from .store import Store

log = logging.getLogger("kubedeck.folder")
WATCH_DEBOUNCE_MS = 50  # watchfiles' default 1,600 ms is far too slow for save-to-applied
ROOT_POLL_SECONDS = 0.2  # while the folder itself is gone (there is nothing to watch)
# vim (.swp/.swo/.swx, the `4913` write probe, `x~` backups), emacs (`.#x` locks, `#x#`
# autosaves), and any hidden file (atomic-save temporaries such as `.x.yaml.tmp`)
_EDITOR_JUNK = re.compile(r"^(\..*|#.*#|4913|.*~|.*\.sw[a-px])$")


def ignored(name: str) -> bool:
    """An editor's swap, backup or temporary file: never a manifest, never a change."""
    return bool(_EDITOR_JUNK.match(name))


@dataclass
class FileState:
    keys: set = field(default_factory=set)
    errors: list[ManifestError] = field(default_factory=list)


@dataclass
class Loaded:
    """One file read, parsed and validated off the loop: documents with their errors."""

    docs: list[tuple[Document, list[ManifestError]]]
    errors: list[ManifestError]


class FolderSync:
    def __init__(self, store: Store | None, objects: ObjectService | None, root: Path):
        """`store` is read (what each file made, after a restart); every change goes
        through `objects`, the same apply and delete as the API's. RemoteSync passes
        neither: it reaches its cluster through the API."""
        self.store = store
        self.objects = objects
        self.root = root.resolve()
        self.files: dict[str, FileState] = {}
        self.pending: dict[tuple, tuple[str, dict]] = {}
        self.synced = asyncio.Event()
        self._crds: set | None = None

    def errors(self) -> list[ManifestError]:
        return [e for st in self.files.values() for e in st.errors]

    def rel(self, path: Path) -> str:
        """`path` relative to the folder, symlinks not followed: a link is its own file."""
        try:
            return Path(os.path.normpath(path)).relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    # ---- following the folder -----------------------------------------------------
    async def run(self) -> None:
        while True:
            if await asyncio.to_thread(self.root.is_dir):
                try:
                    await self._watch()
                except OSError as e:  # the folder went away while the watch was being set up
                    log.warning("cannot watch %s: %s", self.root, e)
            else:  # gone: what its files made goes too; wait for it to come back
                await self.sync_all()
                self.synced.set()
                while not await asyncio.to_thread(self.root.is_dir):
                    await asyncio.sleep(ROOT_POLL_SECONDS)

    async def _watch(self) -> None:
        """Sync everything once the watch is in place, then each change, until the
        folder itself goes away."""
        from watchfiles import awatch

        changes = awatch(self.root, debounce=WATCH_DEBOUNCE_MS, step=10, recursive=True,
                         force_polling=False)
        nxt = asyncio.ensure_future(anext(changes))
        try:
            await asyncio.sleep(0)  # awatch sets its inotify watches before its first await
            await self.sync_all()  # so nothing written from now on is missed
            self.synced.set()
            while True:
                batch = await nxt
                if not await asyncio.to_thread(self.root.is_dir):
                    await self.sync_paths({Path(p) for _, p in batch})
                    return
                nxt = asyncio.ensure_future(anext(changes))
                try:
                    await self.sync_paths({Path(p) for _, p in batch})
                except Exception:  # a bug must not end the sync: the next change retries
                    log.exception("folder sync failed")
        finally:
            nxt.cancel()
            await asyncio.wait([nxt])
            await changes.aclose()

    # ---- syncing --------------------------------------------------------------------
    def _recall(self) -> None:
        """After a restart: which file made which object, from the objects' annotations,
        so a file removed while the engine was down deletes what it made."""
        for kind in self.store.kinds():
            for obj in self.store.iter_kind(kind):
                rel = (obj["metadata"].get("annotations") or {}).get(SOURCE)
                if rel:
                    self.files.setdefault(rel, FileState()).keys.add(key_of(obj))

    def _scan(self) -> dict[str, Path]:
        """The manifest files now (on a thread)."""
        if not self.root.is_dir():
            return {}
        return {self.rel(p): p for p in iter_manifest_files(self.root) if not ignored(p.name)}

    async def sync_all(self) -> None:
        if not self.files:
            self._recall()
        present = await asyncio.to_thread(self._scan)
        await self.update([rel for rel in self.files if rel not in present], present)

    async def sync_paths(self, paths: set[Path]) -> None:
        touched = {self.rel(p) for p in paths}
        if all(ignored(Path(t).name) for t in touched):
            return  # an editor's swap file changed: nothing to list
        wanted = await asyncio.to_thread(self._scan)
        removed = [rel for rel in self.files if rel not in wanted
                   and any(rel == t or rel.startswith(t.rstrip("/") + "/") for t in touched)]
        # the touched files, and any not known yet (e.g. a folder moved in)
        await self.update(removed, {rel: path for rel, path in wanted.items()
                                    if rel in touched or rel not in self.files})

    async def update(self, removed: list[str], files: dict[str, Path]) -> None:
        """Make the cluster follow one change of the folder: `removed` files are gone,
        `files` are to be read and applied. Everything above (watching, listing, what a
        change touches) is shared; `remote_sync.RemoteSync` overrides this to apply to
        any cluster through its API instead of this engine's store."""
        for rel in removed:
            self.remove_file(rel)
        await self._apply_files(files)
        await self.retry_pending()

    async def _apply_files(self, files: dict[str, Path]) -> None:
        known = self.objects.crd_kinds()
        policy = self.objects.pod_security
        loaded = await asyncio.to_thread(
            lambda: [(rel, load_checked(path, rel, known, policy)) for rel, path in files.items()])
        for rel, result in loaded:
            try:
                if result is None:  # vanished between the listing and the read
                    self.remove_file(rel)
                else:
                    self.apply_file(rel, result)
            except Exception as e:  # one file's bug is that file's error, not the folder's end
                log.exception("applying %s", rel)
                self.files[rel] = FileState(keys=set(self.files.get(rel, FileState()).keys),
                                            errors=[ManifestError(rel, 0, "", "", f"internal error: {e}")])

    def remove_file(self, rel: str) -> None:
        st = self.files.pop(rel, None)
        if not st:
            return
        for key in st.keys:
            self.pending.pop(key, None)
            self._delete_owned(key, rel)
        log.info("%s removed: deleted %d object(s)", rel, len(st.keys))

    def _delete_owned(self, key: tuple, rel: str) -> None:
        kind, ns, name = key
        live = self.store.peek(kind, ns, name)
        if live and (live["metadata"].get("annotations") or {}).get(SOURCE) == rel:
            try:
                self.objects.delete(kind, ns, name)
            except StoreError:
                pass

    def apply_file(self, rel: str, loaded: Loaded) -> None:
        old = self.files.get(rel, FileState())
        errors = list(loaded.errors)
        if loaded.errors and not loaded.docs:
            # Nothing could be read: keep every object this file made, untouched.
            self.files[rel] = FileState(keys=set(old.keys), errors=errors)
            self._report(rel, errors)
            return
        keys: set = set()
        first: dict[tuple, int] = {}  # key -> line of its first document in this file
        for doc, doc_errors in loaded.docs:
            key = key_of(doc.obj) if isinstance(doc.obj, dict) else None
            hard = [e for e in doc_errors if e.severity == "error"]
            errors.extend(doc_errors)
            if key and key[2] and not hard:
                if key in first:  # as `kubedeck validate` says it: the first one wins
                    errors.append(ManifestError(rel, doc.line, f"{key[0]}/{key[2]}", "",
                                                f"{key[0]}/{key[2]} is defined twice (first at {rel}:{first[key]}); "
                                                "this definition is ignored"))
                    continue
                first[key] = doc.line
            if key and key[2]:
                keys.add(key)
            if hard:
                continue  # the object this document made before stays as it was
            owner = self._owner_of(key, rel)
            if owner:
                errors.append(ManifestError(rel, doc.line, f"{key[0]}/{key[2]}", "metadata.name",
                                            f"{key[0]}/{key[2]} is already defined in {owner}"))
                keys.discard(key)
                continue
            self.pending.pop(key, None)
            err = self.objects.apply_file(doc.obj, source=rel)
            if err is None:  # the activity stream: from the file's save to this apply
                activity.RING.file_applied(self.root / rel, *key, rel)
            if err == "waiting":
                self.pending[key] = (rel, doc.obj)
            elif err:
                errors.append(ManifestError(rel, doc.line, f"{key[0]}/{key[2]}", "", err))
        for key in old.keys - keys:
            self.pending.pop(key, None)
            self._delete_owned(key, rel)
        self.files[rel] = FileState(keys=keys, errors=errors)
        self._report(rel, errors)

    def _owner_of(self, key, rel: str) -> str | None:
        for other, st in self.files.items():
            if other != rel and key in st.keys:
                return other
        return None

    async def retry_pending(self) -> None:
        # A CustomResourceDefinition that just arrived makes its kind known: files whose
        # documents failed for an unknown kind are validated again, so order never matters.
        crds = self.objects.crd_kinds()
        if self._crds is not None and crds != self._crds:
            await self._apply_files({rel: self.root / rel for rel, st in self.files.items()
                                     if any("no matches for kind" in e.message for e in st.errors)})
        self._crds = crds
        for key, (rel, obj) in list(self.pending.items()):
            if self.objects.apply_file(obj, source=rel) != "waiting":
                self.pending.pop(key, None)

    def _report(self, rel: str, errors: list[ManifestError]) -> None:
        for e in errors:
            (log.warning if e.severity == "error" else log.info)("%s", e)


# ---- reading one file (on a thread) -------------------------------------------------
def load_checked(path: Path, rel: str, known_kinds, policy=lambda obj: []) -> Loaded | None:
    """Read, parse and validate one file; None if it is gone. Never raises. `policy`
    gives (field, message) for what admission refuses (the Pod Security baseline)."""
    try:
        data, problem = read_regular(path)
        if problem:
            return Loaded([], [ManifestError(rel, 0, "", "", problem)])
        if data is None:
            return None
        docs, errors = load_text(data, rel)
        # imported here, on the reading thread: the validator (jsonschema and the schemas)
        # costs ~50 ms that the API's start must not wait for
        from .manifests.validate import validate_document

        return Loaded([(doc, [replace(e, file=rel) for e in validate_document(doc, known_kinds=known_kinds)]
                        + _refused(doc, rel, policy)) for doc in docs], [replace(e, file=rel) for e in errors])
    except Exception as e:  # a loader bug: this file's error
        log.exception("reading %s", rel)
        return Loaded([], [ManifestError(rel, 0, "", "", f"cannot load file: {type(e).__name__}: {e}")])


def _refused(doc, rel: str, policy) -> list[ManifestError]:
    if not isinstance(doc.obj, dict):
        return []
    return [ManifestError(rel, doc.line_of(field_path(where)), doc.object_name, where, message)
            for where, message in policy(doc.obj)]
