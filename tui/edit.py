"""`e`: edit the selected object in `$EDITOR`, keeping the folder the truth.

* An object made from the watched folder carries its file (relative to the folder) in
  the annotation `kubedeck.io/source`: the editor opens that manifest at the object's
  line (`+LINE`) and the engine reconciles the saved file by itself.
* Any other object is dumped as YAML to a temporary file; when the editor leaves it
  changed, it is sent back with PUT (the API's error, if any, becomes a notification).
* `E` opens a manifest error from the status area at its file and line (the area and
  `error_text` are widgets/manifest_errors.py's).

The TUI is suspended while the editor runs; headless (tests) it just runs the editor.
A document's line comes from PyYAML's node tree (`yaml.compose_all`: marks, no objects
built, aliases not expanded), so the TUI needs none of the engine's manifest loader.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from kubedeck.engine.client import ApiError
from kubedeck.engine.labels import A_SOURCE as SOURCE
from kubedeck.engine.present.resources import ResourceKind
from textual.app import SuspendNotSupported

from .api import Disconnected
from .widgets.manifest_errors import error_text

MAX_SCAN_BYTES = 8 << 20  # a bigger file opens at line 1


def source_of(obj: dict) -> str | None:
    return (obj.get("metadata", {}).get("annotations") or {}).get(SOURCE) or None


def find_line(path: Path, kind: str, name: str, namespace: str | None = None) -> int:
    """1-based line of the document for kind/name in a manifest file (1 if not found).
    Documents after one that does not parse are not searched."""
    import yaml  # here, not at start-up (as in the functions below)

    fallback = None
    try:
        if not path.is_file() or path.stat().st_size > MAX_SCAN_BYTES:  # no FIFO, no device
            return 1
        for node in yaml.compose_all(path.read_text(errors="replace"), Loader=yaml.SafeLoader):
            fields = _scalars(node)
            meta = _scalars(_field(node, "metadata"))
            if fields.get("kind") == kind and meta.get("name") == name:
                line = node.start_mark.line + 1
                if meta.get("namespace") in (None, namespace) or namespace is None:
                    return line
                fallback = fallback or line
    except (OSError, yaml.YAMLError):
        pass
    return max(1, fallback or 1)


def _field(node, key: str):
    import yaml

    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def _scalars(node) -> dict[str, str]:
    """The scalar fields of a mapping node, by key."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: v.value for k, v in node.value
            if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode)}


def editor_command(path: Path, line: int | None = None) -> list[str]:
    editor = shlex.split(os.environ.get("EDITOR") or "vi")
    return [*editor, *([f"+{line}"] if line else []), str(path)]


def editable_yaml(obj: dict) -> str:
    import yaml

    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "managedFields"}
    return yaml.safe_dump({**obj, "metadata": meta}, sort_keys=False, allow_unicode=True)


class EditMixin:
    """Needs `self.api`, `self._selected()`, `self._ref()`, `self._label()`, `self.manifest_errors`."""

    folder: str = ""

    def action_edit(self) -> None:
        selected = self._selected()
        if selected is None:
            return
        kind, obj = selected
        self.run_worker(self._edit(kind, obj), group="edit", exclusive=True, exit_on_error=False)

    async def _folder(self) -> str:
        if not self.folder:
            try:
                self.folder = str((await self.api.status()).get("folder") or "")
            except Exception:  # noqa: BLE001 - folder stays unknown
                pass
        return self.folder

    async def _edit(self, kind: ResourceKind, obj: dict) -> None:
        ns, name = self._ref(kind, obj)
        rel = source_of(obj)
        folder = await self._folder() if rel else ""
        if rel and folder and (Path(folder) / rel).is_file():
            path = Path(folder) / rel
            if self.run_editor(path, find_line(path, kind.kind, name, ns)):
                self.notify(f"saved {rel}; kubedeck applies the folder")
            return
        try:
            await self._edit_through_api(kind, ns, name)
        except (ApiError, Disconnected) as exc:
            message = exc.message if isinstance(exc, ApiError) else f"API unreachable ({exc})"
            self.notify(f"edit {self._label(kind, obj)} failed: {message}", severity="error")

    async def _edit_through_api(self, kind: ResourceKind, ns: str | None, name: str) -> None:
        import yaml

        live = await self.api.get(kind.plural, ns, name, kind.group_version)
        live = {"apiVersion": kind.group_version, "kind": kind.kind, **live}
        label = self._label(kind, live)
        text = editable_yaml(live)
        fd, tmp = tempfile.mkstemp(prefix=f"kubedeck-{name}-", suffix=".yaml")
        path = Path(tmp)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            if not self.run_editor(path):
                return
            edited = path.read_text()
        finally:
            path.unlink(missing_ok=True)
        if edited == text:
            self.notify(f"edit {label}: no changes")
            return
        try:
            body = yaml.safe_load(edited)
        except yaml.YAMLError as exc:
            self.notify(f"edit {label}: not valid YAML: {exc}", severity="error")
            return
        if not isinstance(body, dict):
            self.notify(f"edit {label}: the file must hold one object", severity="error")
            return
        await self.api.replace(kind.plural, ns, name, body, kind.group_version)
        self.notify(f"updated {label}")

    def run_editor(self, path: Path, line: int | None = None) -> bool:
        """Run $EDITOR on `path` with the TUI suspended; False (and a notification) on failure."""
        command = editor_command(path, line)
        try:
            try:
                with self.suspend():
                    code = subprocess.call(command)
            except SuspendNotSupported:
                if not self.is_headless:
                    raise
                code = subprocess.call(command, stdin=subprocess.DEVNULL)
        except Exception as exc:  # noqa: BLE001 - editor missing, suspend unsupported
            self.notify(f"editor {command[0]!r}: {exc}", severity="error")
            return False
        if code != 0:
            self.notify(f"editor {command[0]!r} exited with {code}; nothing saved", severity="warning")
            return False
        return True

    # -- manifest errors -----------------------------------------------------------------

    def action_open_error(self) -> None:
        errors = [e for e in self.manifest_errors if e.get("file")]
        if not errors:
            self.notify("no manifest errors")
            return
        if len(errors) == 1:
            self.run_worker(self._open_error(errors[0]), group="edit", exit_on_error=False)
            return
        labels = [error_text(e) for e in errors]

        def picked(value: str | None) -> None:
            if value in labels:
                self.run_worker(self._open_error(errors[labels.index(value)]), group="edit",
                                exit_on_error=False)

        from .widgets.pick_screen import PickScreen  # not at start-up

        self.push_screen(PickScreen("Open manifest error", labels), picked)

    async def _open_error(self, error: dict) -> None:
        path = Path(error["file"])
        if not path.is_absolute():
            path = Path(await self._folder()) / path
        if not path.is_file():
            self.notify(f"{path} does not exist", severity="error")
            return
        self.run_editor(path, int(error.get("line") or 0) or None)

