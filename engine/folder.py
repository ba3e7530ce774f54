"""The watched manifest folder: the truth kubedeck keeps the cluster matching.

Every object applied from a file carries the file (relative to the folder) in the
annotation `kubedeck.io/source`, and the applied document in kubectl's
`last-applied-configuration`, so that:
- saving a file applies with `kubectl apply` semantics (three-way merge);
- removing a document or a file deletes exactly the objects that file made;
- a file that becomes invalid leaves the objects it made before untouched: only the
  documents that validate are applied, and a file that cannot be parsed at all changes
  nothing; its errors are kept for `status()` until it is fixed;
- one object claimed by two files is a conflict reported on the second file.

Documents whose namespace does not exist yet wait and are retried after every sync,
so the order of files and documents never matters.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .manifests.errors import ManifestError
from .manifests.loader import iter_manifest_files, load_file
from .manifests.validate import validate_document
from .store import StoreError, key_of

if TYPE_CHECKING:
    from .cluster import Cluster

log = logging.getLogger("kubedeck.folder")
SOURCE = "kubedeck.io/source"
WATCH_DEBOUNCE_MS = 50  # watchfiles' default 1,600 ms is far too slow for save-to-applied


@dataclass
class FileState:
    keys: set = field(default_factory=set)
    errors: list[ManifestError] = field(default_factory=list)


class FolderSync:
    def __init__(self, cluster: "Cluster", root: Path):
        self.cluster = cluster
        self.root = root.resolve()
        self.files: dict[str, FileState] = {}
        self.pending: dict[tuple, tuple[str, dict]] = {}
        self.synced = asyncio.Event()

    def errors(self) -> list[ManifestError]:
        return [e for st in self.files.values() for e in st.errors]

    def rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    async def run(self) -> None:
        from watchfiles import awatch

        self.sync_all()
        self.synced.set()
        async for changes in awatch(self.root, debounce=WATCH_DEBOUNCE_MS, step=10,
                                    recursive=True, force_polling=False):
            paths = {Path(p) for _, p in changes}
            self.sync_paths(paths)

    def _recall(self) -> None:
        """After a restart: which file made which object, from the objects' annotations,
        so a file removed while the engine was down deletes what it made."""
        for kind in self.cluster.store.kinds():
            for obj in self.cluster.store.iter_kind(kind):
                rel = (obj["metadata"].get("annotations") or {}).get(SOURCE)
                if rel:
                    self.files.setdefault(rel, FileState()).keys.add(key_of(obj))

    def sync_all(self) -> None:
        if not self.files:
            self._recall()
        present = {self.rel(p): p for p in iter_manifest_files(self.root)} if self.root.exists() else {}
        for rel in list(self.files):
            if rel not in present:
                self.remove_file(rel)
        for rel, path in present.items():
            self.apply_file(rel, path)
        self.retry_pending()

    def sync_paths(self, paths: set[Path]) -> None:
        wanted = {self.rel(p): p for p in iter_manifest_files(self.root)} if self.root.exists() else {}
        touched = {self.rel(p) for p in paths}
        for rel in list(self.files):
            if rel not in wanted and any(rel == t or rel.startswith(t.rstrip("/") + "/") for t in touched):
                self.remove_file(rel)
        for rel in touched:
            if rel in wanted:
                self.apply_file(rel, wanted[rel])
        for rel, path in wanted.items():  # e.g. a folder moved in
            if rel not in self.files:
                self.apply_file(rel, path)
        self.retry_pending()

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
        live = self.cluster.store.peek(kind, ns, name)
        if live and (live["metadata"].get("annotations") or {}).get(SOURCE) == rel:
            try:
                self.cluster.delete_object(kind, ns, name)
            except StoreError:
                pass

    def apply_file(self, rel: str, path: Path) -> None:
        old = self.files.get(rel, FileState())
        docs, load_errors = load_file(path)
        errors = [_relabel(e, rel) for e in load_errors]
        if load_errors and not docs:
            # Nothing could be read: keep every object this file made, untouched.
            self.files[rel] = FileState(keys=set(old.keys), errors=errors)
            self._report(rel, errors)
            return
        keys: set = set()
        for doc in docs:
            key = key_of(doc.obj) if isinstance(doc.obj, dict) else None
            doc_errors = [_relabel(e, rel) for e in validate_document(doc, known_kinds=self.cluster.crd_kinds())]
            hard = [e for e in doc_errors if e.severity == "error"]
            errors.extend(doc_errors)
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
            err = self.cluster.apply_object(doc.obj, source=rel)
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

    def retry_pending(self) -> None:
        # A CustomResourceDefinition that just arrived makes its kind known: files whose
        # documents failed for an unknown kind are validated again, so order never matters.
        crds = self.cluster.crd_kinds()
        if crds != getattr(self, "_crds", crds):
            for rel, st in list(self.files.items()):
                if any("no matches for kind" in e.message for e in st.errors):
                    self.apply_file(rel, self.root / rel)
        self._crds = crds
        for key, (rel, obj) in list(self.pending.items()):
            if self.cluster.apply_object(obj, source=rel) != "waiting":
                self.pending.pop(key, None)

    def _report(self, rel: str, errors: list[ManifestError]) -> None:
        for e in errors:
            (log.warning if e.severity == "error" else log.info)("%s", e)
        self.cluster.manifest_errors_changed()


def _relabel(e: ManifestError, rel: str) -> ManifestError:
    from dataclasses import replace

    return replace(e, file=rel)
