"""The folder sync against any cluster: `kubedeck up DIR --context NAME`.

Watching, listing and reading the folder are folder.py's (`FolderSync`, whose `update`
this class overrides); what differs is where a change goes: the cluster's API, with
server-side apply (field manager `kubedeck`, conflicts forced, as `kubectl apply
--server-side --force-conflicts`), the objects grouped as an ApplySet (applyset.py).

One file is one unit:
1. read and validated locally (the bundled schemas, file:line errors) before anything is
   sent; a file with an error sends nothing;
2. every object of the file is applied with `dryRun=All` first; a refusal is mapped back
   to the file and line (the Status's causes name fields, `Document.line_of` finds them),
   and then nothing of the file is applied, so the cluster keeps its state;
3. the ApplySet parent is widened to the file's kinds and namespaces (kubectl's
   "superset" step, so an interrupted apply leaves no untracked member), then each
   object is applied for real. An object whose namespace does not exist yet waits and
   is retried after every change, as in the local engine.
After each change, members of the set (listed by label, per recorded kind and
namespace) that no file holds any more are deleted, unless their file is in error (an
object's file is in `kubedeck.io/source-file`), and the parent is narrowed to what is
left. Nothing without the set's label is ever a candidate for deletion.
"""

from __future__ import annotations

import asyncio
import copy
import difflib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from .applyset import PART_OF, ApplySet, ApplySetError
from .folder import FolderSync, Loaded, load_checked
from .kubeconnect import httpx_options
from .kubediscovery import Discovery, Mapping
from .manifests.errors import ManifestError

log = logging.getLogger("kubedeck.remote")
SOURCE_FILE = "kubedeck.io/source-file"  # not folder.SOURCE: a kubedeck engine would prune by that
MANAGER = "kubedeck"
APPLY = {"Content-Type": "application/apply-patch+yaml"}
FIRST = ("Namespace", "CustomResourceDefinition")  # files holding these go first
VOLATILE = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp")


@dataclass
class RemoteFile:
    keys: set = field(default_factory=set)  # (group, kind, namespace, name)
    errors: list[ManifestError] = field(default_factory=list)
    held: bool = False  # in error or waiting: what it made stays, untouched


@dataclass
class Planned:
    doc: object
    key: tuple
    mapping: Mapping
    obj: dict

    @property
    def path(self) -> str:
        return self.mapping.path(self.key[2] or None, self.key[3])


class RemoteSync(FolderSync):
    def __init__(self, conn, root: Path, *, namespace: str, applyset: str, on_change=None):
        super().__init__(None, None, root)
        self.conn = conn
        self.namespace = namespace
        self.http = httpx.AsyncClient(timeout=30, **httpx_options(conn))
        self.discovery = Discovery(self.http)
        self.set = ApplySet(applyset, namespace)
        self.pending: dict[str, Loaded] = {}
        self.on_change = on_change or (lambda errors: None)
        self._parent_read = False
        self.failure = ""  # set by whoever runs the sync when it ended on an error

    async def aclose(self) -> None:
        await self.http.aclose()

    def _recall(self) -> None:
        """Nothing to recall: the ApplySet's members say what the folder made."""

    def status(self) -> dict:
        """What the TUI shows in place of a kubedeck engine's /kubedeck/v1/status."""
        errors = [e.to_dict() for e in self.errors()]
        if self.failure:
            errors.insert(0, ManifestError(str(self.root), 0, "", "", self.failure).to_dict())
        return {"cluster": getattr(self.conn, "context", ""), "folder": str(self.root), "manifestErrors": errors}

    # ---- one change of the folder -----------------------------------------------------
    async def update(self, removed: list[str], files: dict[str, Path]) -> None:
        await self._read_parent()
        for rel in removed:
            self.files.pop(rel, None)
            self.pending.pop(rel, None)
        done = set()
        for rel, loaded in await self._load(files):
            await self._apply_file(rel, loaded)
            done.add(rel)
        for rel, loaded in list(self.pending.items()):
            if rel not in done:  # waiting for a namespace another file may have made
                await self._apply_file(rel, loaded)
        await self.prune()
        self.on_change(self.errors())

    async def _read_parent(self) -> None:
        if self._parent_read:
            return
        r = await self.http.get(f"/api/v1/namespaces/{self.set.namespace}/secrets/{self.set.name}")
        if r.status_code != 404:
            _check(r)
            self.set.check_parent(r.json())
        self._parent_read = True

    async def _load(self, files: dict[str, Path]) -> list[tuple[str, Loaded]]:
        await self.discovery.refresh()
        known = {k for k in self.discovery.kinds() if not _builtin(k[1])}
        loaded = await asyncio.to_thread(lambda: [(rel, load_checked(p, rel, known)) for rel, p in files.items()])
        first = [(rel, result) for rel, result in loaded
                 if result and any(isinstance(d.obj, dict) and d.obj.get("kind") in FIRST for d, _ in result.docs)]
        return first + [item for item in loaded if item not in first]

    async def plan(self, rel: str, loaded: Loaded) -> tuple[set, list[Planned], list[ManifestError]]:
        """The objects one file asks for, ready to send, and its local errors."""
        errors, keys, planned = list(loaded.errors), set(), []
        for doc, doc_errors in loaded.docs:
            errors.extend(doc_errors)
            obj = doc.obj if isinstance(doc.obj, dict) else None
            if obj is None or any(e.severity == "error" for e in doc_errors):
                continue
            mapping = await self.discovery.mapping(obj["apiVersion"], obj["kind"])
            if mapping is None:
                errors.append(doc.error(("kind",), f'no matches for kind "{obj["kind"]}" in version '
                                                   f'"{obj["apiVersion"]}" on this cluster'))
                continue
            meta = obj.get("metadata") or {}
            ns = (meta.get("namespace") or self.namespace) if mapping.namespaced else ""
            key = (mapping.group, mapping.kind, ns, meta.get("name", ""))
            owner = next((o for o, st in self.files.items() if o != rel and key in st.keys), None)
            if owner:
                errors.append(doc.error(("metadata", "name"), f"{doc.object_name} is already defined in {owner}"))
                continue
            keys.add(key)
            body = copy.deepcopy(obj)
            body["metadata"] = dict(body.get("metadata") or {})
            if mapping.namespaced:
                body["metadata"]["namespace"] = ns
            else:
                body["metadata"].pop("namespace", None)
            body["metadata"]["annotations"] = {**(body["metadata"].get("annotations") or {}), SOURCE_FILE: rel}
            try:
                body = self.set.label_member(body)
            except ApplySetError as e:
                errors.append(doc.error(("metadata", "labels"), str(e)))
                continue
            planned.append(Planned(doc, key, mapping, body))
        return keys, planned, errors

    async def _apply_file(self, rel: str, loaded: Loaded | None) -> None:
        old = self.files.get(rel, RemoteFile())
        if loaded is None:  # vanished between the listing and the read
            self.files.pop(rel, None)
            return
        self.pending.pop(rel, None)
        keys, planned, errors = await self.plan(rel, loaded)
        hard = [e for e in errors if e.severity == "error"]
        if not hard:
            waiting, refused = await self._dry_run(rel, planned)
            if waiting:
                self.pending[rel] = loaded
                self.files[rel] = RemoteFile(old.keys | keys, errors, held=True)
                return
            errors += refused
            hard = refused
        if hard:  # nothing of this file was sent: what it made before stays as it was
            self.files[rel] = RemoteFile(old.keys | keys, errors, held=True)
            for e in hard:
                log.warning("%s", e)
            return
        await self._widen_parent(planned)
        for p in planned:
            r = await self._apply(p, dry_run=False)
            if r.status_code >= 400:
                errors += _rejection(rel, p, r)
        self.files[rel] = RemoteFile(keys, errors, held=any(e.severity == "error" for e in errors))

    async def _apply(self, p: Planned, *, dry_run: bool) -> httpx.Response:
        params = {"fieldManager": MANAGER, "force": "true"} | ({"dryRun": "All"} if dry_run else {})
        return await self.http.patch(p.path, params=params, content=json.dumps(p.obj), headers=APPLY)

    async def _dry_run(self, rel: str, planned: list[Planned]) -> tuple[bool, list[ManifestError]]:
        """(waiting for a namespace, refusals) for one file, nothing changed on the cluster."""
        declared = {p.key[3] for p in planned if p.key[1] == "Namespace"}
        refused: list[ManifestError] = []
        waiting = False
        for p in planned:
            r = await self._apply(p, dry_run=True)
            if r.status_code == 404 and _missing_namespace(r):
                waiting = waiting or p.key[2] not in declared
                continue  # a namespace of this very file: it exists once the file is applied
            if r.status_code >= 400:
                refused += _rejection(rel, p, r)
        return waiting and not refused, refused

    # ---- the ApplySet -------------------------------------------------------------------
    async def _widen_parent(self, planned: list[Planned]) -> None:
        gks = self.set.group_kinds | {(p.key[0], p.key[1]) for p in planned}
        nss = self.set.namespaces | {p.key[2] for p in planned if p.key[2]} | {self.set.namespace}
        if gks != self.set.group_kinds or nss != self.set.namespaces or not self.set.group_kinds:
            await self._write_parent(gks, nss)

    async def _write_parent(self, gks, nss) -> None:
        body = self.set.parent_patch(gks, nss)
        r = await self.http.patch(f"/api/v1/namespaces/{self.set.namespace}/secrets/{self.set.name}",
                                  params={"fieldManager": MANAGER, "force": "true"},
                                  content=json.dumps(body), headers=APPLY)
        _check(r)
        self.set.group_kinds, self.set.namespaces = frozenset(gks), frozenset(nss) | {self.set.namespace}

    async def members(self) -> list[tuple[tuple, dict, Mapping]]:
        """Every live object labelled as part of the set, where the parent says to look."""
        out = []
        selector = {"labelSelector": f"{PART_OF}={self.set.id}"}
        for group, kind in sorted(self.set.group_kinds):
            m = await self.discovery.for_group_kind(group, kind)
            if m is None:
                continue
            for ns in sorted(self.set.namespaces) if m.namespaced else [""]:
                r = await self.http.get(m.path(ns or None), params=selector)
                _check(r)
                for item in r.json().get("items") or []:
                    meta = item.get("metadata") or {}
                    if (meta.get("labels") or {}).get(PART_OF) == self.set.id:  # never trust a filter alone
                        out.append(((group, kind, meta.get("namespace") or "", meta.get("name")), item, m))
        return out

    async def prune_plan(self) -> list[tuple[tuple, Mapping]]:
        wanted = {k for st in self.files.values() for k in st.keys}
        held = {rel for rel, st in self.files.items() if st.held}
        return [(key, m) for key, item, m in await self.members() if key not in wanted
                and ((item["metadata"].get("annotations") or {}).get(SOURCE_FILE) not in held)]

    async def prune(self) -> list[tuple]:
        if not self.set.group_kinds:
            return []
        gone = []
        for key, m in await self.prune_plan():
            r = await self.http.delete(m.path(key[2] or None, key[3]), params={"propagationPolicy": "Background"})
            if r.status_code < 400 or r.status_code == 404:
                gone.append(key)
                log.info("pruned %s", _label(key))
            else:
                log.warning("cannot prune %s: %s", _label(key), _message(r))
        left = [k for k, _, _ in await self.members()] + [k for st in self.files.values() for k in st.keys]
        gks = {(k[0], k[1]) for k in left}
        nss = {k[2] for k in left if k[2]} | {self.set.namespace}
        if gks != self.set.group_kinds or nss != self.set.namespaces:
            await self._write_parent(gks, nss)
        return gone

    # ---- --dry-run ---------------------------------------------------------------------
    async def diff(self) -> tuple[str, list[ManifestError]]:
        """The server-side diff of syncing the folder now, and the errors; nothing is changed."""
        await self._read_parent()
        present = await asyncio.to_thread(self._scan)
        out, errors = [], []
        for rel, loaded in await self._load(present):
            if loaded is None:
                continue
            keys, planned, errs = await self.plan(rel, loaded)
            errors += errs
            self.files[rel] = RemoteFile(keys, errs, held=any(e.severity == "error" for e in errs))
            for p in planned:
                live = await self.http.get(p.path)
                after = await self._apply(p, dry_run=True)
                if after.status_code >= 400:
                    if not (after.status_code == 404 and _missing_namespace(after)):
                        errors += _rejection(rel, p, after)
                        continue
                    text = _yaml(p.obj)
                else:
                    text = _yaml(after.json())
                before = _yaml(live.json()) if live.status_code == 200 else ""
                out += difflib.unified_diff(before.splitlines(True), text.splitlines(True),
                                            f"live/{_label(p.key)}", f"folder/{_label(p.key)}")
        for key, _ in await self.prune_plan() if self.set.group_kinds else []:
            out.append(f"--- live/{_label(key)}\n+++ (pruned: not in the folder any more)\n")
        return "".join(out), errors


# ---- helpers --------------------------------------------------------------------------
def _builtin(kind: str) -> bool:
    from .manifests import schema

    return bool(schema.api_versions_for_kind(kind))


def _label(key: tuple) -> str:
    group, kind, ns, name = key
    return f"{kind.lower()}{'.' + group if group else ''}/{ns + '/' if ns else ''}{name}"


def _yaml(obj: dict) -> str:
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata") or {}
    for k in VOLATILE:
        meta.pop(k, None)
    obj.pop("status", None)
    return yaml.safe_dump(obj, sort_keys=True)


def _status(r: httpx.Response) -> dict:
    try:
        body = r.json()
        return body if isinstance(body, dict) else {}
    except ValueError:
        return {"message": r.text[:300]}


def _message(r: httpx.Response) -> str:
    return _status(r).get("message") or f"HTTP {r.status_code}"


def _check(r: httpx.Response) -> None:
    if r.status_code >= 400:
        raise ApplySetError(f"{r.request.method} {r.request.url.path}: {_message(r)} ({r.status_code})")


def _missing_namespace(r: httpx.Response) -> bool:
    return (_status(r).get("details") or {}).get("kind") == "namespaces"


def field_path(text: str) -> tuple:
    """`spec.containers[0].image` -> ("spec", "containers", 0, "image") for line_of."""
    out: list = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", text or ""):
        out.append(int(index) if index else name)
    return tuple(out)


def _rejection(rel: str, p: Planned, r: httpx.Response) -> list[ManifestError]:
    """The API's refusal of one object as file:line errors (one per cause that names a field)."""
    status = _status(r)
    causes = [c for c in (status.get("details") or {}).get("causes") or [] if c.get("field")]
    doc = p.doc
    if not causes:
        return [ManifestError(rel, doc.line, doc.object_name, "", status.get("message") or f"HTTP {r.status_code}")]
    return [ManifestError(rel, doc.line_of(field_path(c["field"])), doc.object_name, c["field"],
                          c.get("message") or status.get("message", "")) for c in causes]
