"""Load manifest files into ``Document`` objects, with line numbers and guards.

Design
------
YAML is read as a *stream of parser events* (``yaml.parse`` with libyaml's
CSafeLoader when available, otherwise the pure-Python SafeLoader) and turned
into plain Python data by a small iterative builder in this module, instead of
``yaml.safe_load``.  That gives us, in one pass and without recursion:

* the 1-based line of every mapping key and sequence item, recorded per field
  path (``("spec", "template", "spec", "containers", 0)``) so that validation
  errors can point at the right line (``Document.line_of``);
* a nesting-depth cap (``MAX_DEPTH``): a 5,000-deep document is an error, never
  a ``RecursionError``;
* an alias-expansion budget (``MAX_ALIAS_NODES``): the size of every anchored
  node is known when an alias refers to it, so a "billion laughs" document is
  rejected before anything is expanded;
* Kubernetes-flavoured scalars: timestamps stay strings (as with
  ``kubectl``, which goes YAML -> JSON), non-string keys become their JSON
  text, duplicate keys and unsupported tags are errors.

Scalars are resolved and constructed with PyYAML's own SafeLoader resolver and
constructors (YAML 1.1: ``yes``/``on`` are booleans, as in Kubernetes), and
merge keys (``<<: *defaults``) work.

Files larger than ``MAX_FILE_BYTES``, binary data and invalid UTF-8 are
reported as errors.  ``kind: List`` (and any ``...List`` with ``items``) is
expanded into its items.  Empty documents are skipped; an empty file yields
nothing and no error.  JSON files go through the same path (YAML is a superset
of JSON) with a fallback to ``json`` for JSON that YAML rejects (tabs).

Nothing here raises for bad input: every problem is a ``ManifestError``.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ManifestError, format_path
from .reading import MAX_FILE_BYTES, read_regular

__all__ = [
    "Document",
    "load_file",
    "load_text",
    "iter_manifest_files",
    "MANIFEST_SUFFIXES",
    "MAX_FILE_BYTES",
    "MAX_DEPTH",
    "MAX_ALIAS_NODES",
    "NOT_AN_OBJECT",
]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
MAX_DEPTH = 100
MAX_ALIAS_NODES = 100_000
NOT_AN_OBJECT = "document is not a Kubernetes object (a mapping with apiVersion, kind and metadata)"

try:  # libyaml is much faster; both produce the same events
    _EventLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _EventLoader = yaml.SafeLoader

# One pure-Python SafeLoader instance lends us its resolver and constructors.
_HELPER = yaml.SafeLoader("")
_T = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = _T + "str", _T + "null", _T + "bool", _T + "int", _T + "float"
_TIMESTAMP, _BINARY, _MERGE, _VALUE = _T + "timestamp", _T + "binary", _T + "merge", _T + "value"
_MAP_TAGS = (None, "!", _T + "map")
_SEQ_TAGS = (None, "!", _T + "seq")


@dataclass
class Document:
    """One Kubernetes object read from a file.

    ``index`` is the position of the YAML document in the file (0-based);
    objects expanded from a ``kind: List`` share their document's index and
    carry their position in ``item``.  ``lines`` maps field paths (relative to
    ``obj``) to 1-based lines.
    """

    obj: dict
    file: str
    index: int
    line: int
    lines: dict = field(default_factory=dict, repr=False, compare=False)
    item: int | None = None

    @property
    def kind(self) -> str:
        k = self.obj.get("kind") if isinstance(self.obj, dict) else None
        return k if isinstance(k, str) else ""

    @property
    def name(self) -> str:
        meta = self.obj.get("metadata") if isinstance(self.obj, dict) else None
        n = meta.get("name") if isinstance(meta, dict) else None
        return n if isinstance(n, str) else ""

    @property
    def object_name(self) -> str:
        """``"Deployment/web"``; just the kind when there is no name; "" if neither."""
        kind, name = self.kind, self.name
        if kind and name:
            return f"{kind}/{name}"
        return kind

    def line_of(self, path) -> int:
        """Best line for ``path``: its own, else the nearest parent's, else the document's."""
        path = tuple(path)
        lines = self.lines
        while path:
            line = lines.get(path)
            if line:
                return line
            path = path[:-1]
        return self.line

    def error(self, path, message: str, *, severity: str = "error", line: int | None = None) -> ManifestError:
        """A ManifestError about ``path`` in this document."""
        path = tuple(path)
        return ManifestError(
            file=self.file,
            line=line if line is not None else self.line_of(path),
            object=self.object_name,
            field=format_path(path),
            message=message,
            severity=severity,
        )


class _DocError(Exception):
    """A problem that makes the current YAML document unusable."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.message = message
        self.line = line


class _Frame:
    __slots__ = ("container", "is_map", "path", "anchor", "size", "key", "key_line", "merges", "explicit", "merge_next")

    def __init__(self, container, is_map, path, anchor):
        self.container = container
        self.is_map = is_map
        self.path = path
        self.anchor = anchor
        self.size = 1
        self.key = _NO_KEY
        self.key_line = 0
        self.merges = None
        self.explicit = None
        self.merge_next = False


_NO_KEY = object()


def _line(event) -> int:
    mark = getattr(event, "start_mark", None)
    return mark.line + 1 if mark is not None else 0


def _scalar(event):
    """Construct a scalar the way SafeLoader would, but timestamps stay text."""
    tag = event.tag
    value = event.value
    if tag is None or tag == "!":
        tag = _HELPER.resolve(yaml.ScalarNode, value, event.implicit)
    if tag == _STR:
        return value
    if tag in (_TIMESTAMP, _BINARY):
        return value
    if tag == _MERGE:
        return _MERGE_KEY
    node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return _HELPER.construct_yaml_bool(node)
    if tag == _INT:
        return _HELPER.construct_yaml_int(node)
    if tag == _FLOAT:
        return _HELPER.construct_yaml_float(node)
    if tag == _VALUE:
        return value
    raise _DocError(f'unsupported YAML tag "{event.tag}"', _line(event))


class _MergeKey:
    def __repr__(self):  # pragma: no cover
        return "<<"


_MERGE_KEY = _MergeKey()


def _key_text(key) -> str:
    if isinstance(key, str):
        return key
    return json.dumps(key)


class _Builder:
    """Turns the events of one YAML stream into (root, lines) per document."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[object, int]] = {}
        self.open_anchors: set[str] = set()
        self.lines: dict[tuple, int] = {}
        self.root = None
        self.has_root = False
        self.alias_nodes = 0
        self.root_line = 0

    # -- placing a finished value into its parent ---------------------------------
    def _child_path(self, frame: _Frame):
        if frame.is_map:
            return frame.path + (frame.key,)
        return frame.path + (len(frame.container),)

    def _place(self, value, size: int, line: int, anchor):
        if anchor:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.root, self.has_root, self.root_line = value, True, line
            return
        frame = self.stack[-1]
        frame.size += size
        if not frame.is_map:
            frame.container.append(value)
            return
        if frame.key is _NO_KEY:  # this value is a key
            if isinstance(value, (dict, list)):
                raise _DocError("complex mapping keys are not supported", line)
            if value is _MERGE_KEY:
                frame.merge_next = True
                frame.key = "<<"
            else:
                frame.key = _key_text(value)
                frame.merge_next = False
            frame.key_line = line
            return
        key = frame.key
        frame.key = _NO_KEY
        if frame.merge_next:
            frame.merge_next = False
            sources = value if isinstance(value, list) else [value]
            for src in sources:
                if not isinstance(src, dict):
                    raise _DocError("merge key (<<) needs a mapping or a list of mappings", line)
            if frame.merges is None:
                frame.merges = []
            frame.merges.extend(sources)
            return
        container = frame.container
        if key in container:
            first = self.lines.get(frame.path + (key,), 0)
            where = f" (first at line {first})" if first else ""
            raise _DocError(f'duplicate key "{key}"{where}', frame.key_line)
        container[key] = value
        if frame.explicit is not None:
            frame.explicit.add(key)

    def _record_line(self, line: int):
        if not self.stack:
            return
        frame = self.stack[-1]
        if frame.is_map:
            if frame.key is not _NO_KEY and not frame.merge_next:
                self.lines.setdefault(frame.path + (frame.key,), frame.key_line)
        else:
            self.lines[frame.path + (len(frame.container),)] = line

    # -- events --------------------------------------------------------------------
    def _open(self, event, is_map: bool):
        line = _line(event)
        tags = _MAP_TAGS if is_map else _SEQ_TAGS
        if event.tag not in tags:
            raise _DocError(f'unsupported YAML tag "{event.tag}"', line)
        if len(self.stack) >= MAX_DEPTH:
            raise _DocError(f"document is nested too deeply (more than {MAX_DEPTH} levels)", line)
        if self.stack and self.stack[-1].is_map and self.stack[-1].key is _NO_KEY:
            raise _DocError("complex mapping keys are not supported", line)
        self._record_line(line)
        path = self._child_path(self.stack[-1]) if self.stack else ()
        if self.stack and self.stack[-1].is_map and self.stack[-1].merge_next:
            path = self.stack[-1].path  # merge sources have no lines of their own
        if event.anchor:
            self.open_anchors.add(event.anchor)
        frame = _Frame({} if is_map else [], is_map, path, event.anchor)
        self.stack.append(frame)

    def _close(self, event):
        frame = self.stack.pop()
        value = frame.container
        if frame.is_map and frame.merges:
            for src in frame.merges:
                for k, v in src.items():
                    if k not in value:
                        value[k] = copy.deepcopy(v)
        if frame.anchor:
            self.open_anchors.discard(frame.anchor)
        start = self.lines.get(frame.path, 0) if frame.path else self.root_line
        self._place(value, frame.size, start or _line(event), frame.anchor)
        if not self.stack and not self.root_line:
            self.root_line = start or _line(event)

    def feed(self, event):
        if isinstance(event, yaml.ScalarEvent):
            line = _line(event)
            if self.stack and self.stack[-1].is_map and self.stack[-1].key is _NO_KEY:
                value = _scalar(event)
                self._place(value, 1, line, event.anchor)
                return
            self._record_line(line)
            self._place(_scalar(event), 1, line, event.anchor)
        elif isinstance(event, yaml.MappingStartEvent):
            self._open(event, True)
            self.stack[-1].explicit = set()
            if not self.root_line and len(self.stack) == 1:
                self.root_line = _line(event)
        elif isinstance(event, yaml.SequenceStartEvent):
            self._open(event, False)
            if not self.root_line and len(self.stack) == 1:
                self.root_line = _line(event)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            self._close(event)
        elif isinstance(event, yaml.AliasEvent):
            line = _line(event)
            name = event.anchor
            if name in self.open_anchors:
                raise _DocError(f'recursive alias "*{name}"', line)
            if name not in self.anchors:
                raise _DocError(f'undefined alias "*{name}"', line)
            value, size = self.anchors[name]
            self.alias_nodes += size
            if self.alias_nodes > MAX_ALIAS_NODES:
                raise _DocError("too many aliases (possible alias bomb)", line)
            if isinstance(value, (dict, list)):
                value = copy.deepcopy(value)
            if not (self.stack and self.stack[-1].is_map and self.stack[-1].key is _NO_KEY):
                self._record_line(line)
            self._place(value, size, line, None)


def _decode(data: bytes, file: str) -> tuple[str | None, ManifestError | None]:
    def err(message, line=0):
        return None, ManifestError(file=file, line=line, object="", field="", message=message)

    if len(data) > MAX_FILE_BYTES:
        return err(f"file is too large ({len(data):,} bytes; the limit is {MAX_FILE_BYTES:,} bytes)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError:
            return err("file is not valid UTF-16 text")
    if b"\x00" in data:
        return err("file is binary, not YAML or JSON text (it contains NUL bytes)", data[: data.index(b"\x00")].count(b"\n") + 1)
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return err(f"file is not valid UTF-8 text (bad byte 0x{data[exc.start]:02x} at offset {exc.start})", line)


def _yaml_error_message(exc: Exception, text: str) -> tuple[str, int]:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 0
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if isinstance(exc, yaml.reader.ReaderError):
        position = exc.position if isinstance(exc.position, int) else 0
        line = text[:position].count("\n") + 1 if position else 1
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
        return f"file contains a character YAML does not allow (#x{char:04x}: {exc.reason}); is it binary?", line
    if problem and "maximum nesting depth" in problem:
        return f"document is nested too deeply (more than {MAX_DEPTH} levels)", line
    if problem:
        words = f"{context} {problem}" if context and "while" not in context else problem
        text = f"invalid YAML: {words}"
    else:
        text = f"invalid YAML: {exc}"
    if mark is not None:
        text += f" (line {mark.line + 1}, column {mark.column + 1})"
    return text, line


def _expand(root, lines, *, file: str, index: int, line: int, errors: list) -> list[Document]:
    """Root value of one YAML document -> Documents (List expanded)."""
    if root is None:
        return []
    if not isinstance(root, dict):
        errors.append(ManifestError(file=file, line=line, object="", field="", message=NOT_AN_OBJECT))
        return []
    kind = root.get("kind")
    items = root.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        docs = []
        for i, item in enumerate(items):
            item_line = lines.get(("items", i), line)
            if not isinstance(item, dict):
                errors.append(ManifestError(file=file, line=item_line, object="", field=f"items[{i}]", message=NOT_AN_OBJECT))
                continue
            prefix = ("items", i)
            n = len(prefix)
            item_lines = {p[n:]: ln for p, ln in lines.items() if p[:n] == prefix and len(p) > n}
            docs.append(Document(obj=item, file=file, index=index, line=item_line, lines=item_lines, item=i))
        return docs
    return [Document(obj=root, file=file, index=index, line=line or 1, lines=lines)]


def _depth_ok(value) -> bool:
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if d > MAX_DEPTH:
            return False
        if isinstance(v, dict):
            stack.extend((c, d + 1) for c in v.values())
        elif isinstance(v, list):
            stack.extend((c, d + 1) for c in v)
    return True


def _load_json(text: str, file: str, docs: list, errors: list) -> bool:
    """Fallback for JSON that YAML rejects.  Returns True if it parsed."""
    try:
        value = json.loads(text)
    except RecursionError:
        errors.append(ManifestError(file, 0, "", "", f"document is nested too deeply (more than {MAX_DEPTH} levels)"))
        return True
    except ValueError:
        return False
    if not _depth_ok(value):
        errors.append(ManifestError(file, 1, "", "", f"document is nested too deeply (more than {MAX_DEPTH} levels)"))
        return True
    docs.extend(_expand(value, {}, file=file, index=0, line=1, errors=errors))
    return True


def _json_error(text: str, file: str) -> ManifestError | None:
    try:
        json.loads(text)
    except RecursionError:
        return ManifestError(file, 0, "", "", f"document is nested too deeply (more than {MAX_DEPTH} levels)")
    except json.JSONDecodeError as exc:
        return ManifestError(file, exc.lineno, "", "", f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
    except ValueError as exc:  # pragma: no cover
        return ManifestError(file, 0, "", "", f"invalid JSON: {exc}")
    return None


def _load_yaml(text: str, file: str) -> tuple[list[Document], list[ManifestError]]:
    docs: list[Document] = []
    errors: list[ManifestError] = []
    builder = _Builder()
    index = -1
    skipping = False
    loader = _EventLoader(text)
    try:
        while True:
            event = loader.get_event()
            if event is None or isinstance(event, yaml.StreamEndEvent):
                break
            if isinstance(event, yaml.DocumentStartEvent):
                index += 1
                builder.reset()
                skipping = False
                continue
            if isinstance(event, yaml.DocumentEndEvent):
                if not skipping and builder.has_root:
                    docs.extend(
                        _expand(builder.root, builder.lines, file=file, index=index,
                                line=builder.root_line or _line(event), errors=errors)
                    )
                builder.reset()
                continue
            if skipping or isinstance(event, yaml.StreamStartEvent):
                continue
            try:
                builder.feed(event)
            except _DocError as exc:
                errors.append(ManifestError(file=file, line=exc.line, object="", field="", message=exc.message))
                skipping = True
                builder.reset()
            except (ValueError, OverflowError, yaml.constructor.ConstructorError) as exc:
                errors.append(ManifestError(file=file, line=_line(event), object="", field="",
                                            message=f"invalid value: {exc}"))
                skipping = True
                builder.reset()
    except yaml.YAMLError as exc:
        message, line = _yaml_error_message(exc, text)
        if not (skipping and errors and errors[-1].message == message):
            errors.append(ManifestError(file=file, line=line, object="", field="", message=message))
    except RecursionError:  # pragma: no cover - defensive; the builder is iterative
        errors.append(ManifestError(file, 0, "", "", f"document is nested too deeply (more than {MAX_DEPTH} levels)"))
    finally:
        try:
            loader.dispose()
        except Exception:  # pragma: no cover
            pass
    return docs, errors


def load_text(text: str | bytes, file: str) -> tuple[list[Document], list[ManifestError]]:
    """Parse YAML or JSON text.  ``file`` is only used in the results."""
    file = str(file)
    try:
        if isinstance(text, (bytes, bytearray, memoryview)):
            decoded, err = _decode(bytes(text), file)
            if err is not None:
                return [], [err]
            text = decoded
        elif len(text) > MAX_FILE_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
            return [], [ManifestError(file, 0, "", "", f"file is too large (the limit is {MAX_FILE_BYTES:,} bytes)")]
        elif "\x00" in text:
            return [], [ManifestError(file, text[: text.index("\x00")].count("\n") + 1, "", "",
                                      "file is binary, not YAML or JSON text (it contains NUL bytes)")]
        if text.startswith("\ufeff"):
            text = text[1:]
        docs, errors = _load_yaml(text, file)
        if errors and file.lower().endswith(".json") and text.lstrip()[:1] in ("{", "["):
            json_docs, json_errors = [], []
            if _load_json(text, file, json_docs, json_errors):
                return json_docs, json_errors
            err = _json_error(text, file)
            if err is not None:
                return [], [err]
        return docs, errors
    except Exception as exc:  # never let a bug here escape
        return [], [ManifestError(file, 0, "", "", f"internal error while reading the file: {type(exc).__name__}: {exc}")]


def load_file(path) -> tuple[list[Document], list[ManifestError]]:
    """Read and parse one manifest file; problems (including I/O) become errors. Only a
    regular file is read, never blocking (reading.read_regular): a FIFO is an error."""
    file = str(path)
    data, problem = read_regular(Path(path))
    if problem is None and data is None:
        problem = "cannot read file: No such file or directory"
    if problem is not None:
        return [], [ManifestError(file, 0, "", "", problem)]
    return load_text(data, file)


def iter_manifest_files(root) -> list[Path]:
    """All ``*.yaml``, ``*.yml`` and ``*.json`` files under ``root``, sorted.

    Hidden files and directories (name starting with ".") are skipped.  A
    ``root`` that is itself a file is returned as the only element.
    """
    root = Path(root)
    if root.is_file():
        return [root]
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith(".") or not name.lower().endswith(MANIFEST_SUFFIXES):
                continue
            found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(root).parts)
