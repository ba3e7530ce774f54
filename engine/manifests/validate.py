"""Validate loaded documents: kind lookup, schema, then Kubernetes' rules.

``validate_document`` runs, in order:

1. apiVersion/kind: a Kubernetes kind (from the bundled OpenAPI schemas), a
   kind from a CustomResourceDefinition in the same set (``known_kinds``), a
   kind under the wrong apiVersion (``Deployment is in apiVersion "apps/v1",
   not "v1"``) or an unknown kind (``no matches for kind ...``);
2. the strict JSON schema of that kind (``schema.py``);
3. the semantic rules (``semantic.py``);
4. a warning for kinds kubedeck stores but does not act on (``kinds.py``).

``load_and_validate`` loads files and folders, learns the kinds of the CRDs
among them, validates everything and returns the usable documents (those
with no error; warnings are fine) with every error and warning.  Objects
defined twice (same apiVersion group, kind, namespace and name) keep the
first definition; the second is an error.

No exception escapes: a bug in a check becomes an error on that document.
"""
from __future__ import annotations

from pathlib import Path

from . import schema, semantic
from .errors import ManifestError
from .kinds import KINDS, group_of
from .loader import Document, iter_manifest_files, load_file

__all__ = ["validate_document", "load_and_validate", "crd_kinds"]


def _known(api_version: str, kind: str, known_kinds) -> bool:
    return (api_version, kind) in known_kinds or (group_of(api_version), kind) in known_kinds


def crd_kinds(docs) -> set[tuple[str, str]]:
    """Kinds defined by CustomResourceDefinitions among ``docs``.

    Contains ``(group, kind)`` and ``(group/version, kind)`` for each served version.
    """
    out: set[tuple[str, str]] = set()
    for doc in docs:
        obj = doc.obj
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        group = spec.get("group")
        kind = (spec.get("names") or {}).get("kind") if isinstance(spec.get("names"), dict) else None
        if not isinstance(group, str) or not isinstance(kind, str):
            continue
        out.add((group, kind))
        for v in spec.get("versions") or ():
            if isinstance(v, dict) and isinstance(v.get("name"), str):
                out.add((f"{group}/{v['name']}", kind))
        if isinstance(spec.get("version"), str):
            out.add((f"{group}/{spec['version']}", kind))
    return out


def _sort_key(e: ManifestError):
    return (e.file, e.line, e.severity != "error")


def _validate(doc: Document, known_kinds) -> list[ManifestError]:
    obj = doc.obj
    if not isinstance(obj, dict):
        return [ManifestError(doc.file, doc.line, "", "", "document is not a Kubernetes object (a mapping with apiVersion, kind and metadata)")]
    errors: list[ManifestError] = []
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    for field, value in (("apiVersion", api_version), ("kind", kind)):
        if value in (None, ""):
            errors.append(doc.error((), f'missing required field "{field}"'))
        elif not isinstance(value, str):
            errors.append(doc.error((field,), f"expected string, got {schema._describe(value)}"))
    if errors:
        if "metadata" not in obj:
            errors.append(doc.error((), 'missing required field "metadata"'))
        return errors

    def_name = schema.lookup(api_version, kind)
    custom = False
    if def_name is None:
        if _known(api_version, kind, known_kinds):
            custom = True
        else:
            versions = schema.api_versions_for_kind(kind)
            if versions:
                preferred = KINDS[kind].api_version if kind in KINDS else versions[0]
                return [doc.error(("apiVersion",), f'{kind} is in apiVersion "{preferred}", not "{api_version}"')]
            return [doc.error(("kind",), f'no matches for kind "{kind}" in version "{api_version}"'
                              + ("; is its CustomResourceDefinition in the folder?" if "." in api_version else ""))]

    if def_name is not None:
        for path, message, line_path in schema.schema_errors(obj, def_name):
            e = doc.error(path, message)
            if line_path is not None:
                e = ManifestError(e.file, doc.line_of(line_path), e.object, e.field, e.message, e.severity)
            errors.append(e)
    else:
        meta = obj.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            errors.append(doc.error(("metadata",), f"expected mapping, got {schema._describe(meta)}"))

    # semantic rules; skip the ones that would only repeat a schema error
    seen = {(e.field, e.message) for e in errors}
    for e in semantic.check(doc):
        if (e.field, e.message) not in seen:
            seen.add((e.field, e.message))
            errors.append(e)

    info = KINDS.get(kind)
    if custom or info is None or not info.acted_on:
        errors.append(doc.error((), f"{kind} is stored, not acted on by kubedeck", severity="warning",
                                line=doc.line))
    return errors


def validate_document(doc: Document, *, known_kinds=frozenset()) -> list[ManifestError]:
    """All errors and warnings for one document.  Never raises."""
    try:
        errors = _validate(doc, known_kinds)
    except Exception as exc:  # a bug in a check must not take the folder down
        errors = [ManifestError(doc.file, doc.line, getattr(doc, "object_name", ""), "",
                                f"internal error while validating: {type(exc).__name__}: {exc}")]
    errors.sort(key=lambda e: (e.line, e.severity != "error"))
    return errors


def _identity(doc: Document):
    obj = doc.obj
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return None
    kind = obj.get("kind")
    info = KINDS.get(kind) if isinstance(kind, str) else None
    namespaced = info.namespaced if info else True
    ns = meta.get("namespace") or "default" if namespaced else ""
    return (group_of(str(obj.get("apiVersion", ""))), kind, ns, name)


def load_and_validate(paths) -> tuple[list[Document], list[ManifestError]]:
    """Load files and/or folders and validate every document.

    ``paths`` is one path or an iterable of paths.  Returns the documents
    without errors, in file order, and all errors and warnings.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    docs: list[Document] = []
    errors: list[ManifestError] = []
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files.extend(iter_manifest_files(path))
        elif path.exists():
            files.append(path)
        else:
            errors.append(ManifestError(str(p), 0, "", "", "no such file or directory"))
    seen_files = set()
    for f in files:
        if f in seen_files:
            continue
        seen_files.add(f)
        d, e = load_file(f)
        docs.extend(d)
        errors.extend(e)

    known = crd_kinds(docs)
    valid: list[Document] = []
    first_seen: dict = {}
    for doc in docs:
        found = validate_document(doc, known_kinds=known)
        if not any(e.severity == "error" for e in found):
            ident = _identity(doc)
            if ident is not None and ident in first_seen:
                other = first_seen[ident]
                found.append(doc.error((), f"{doc.object_name} is defined twice (first at {other.file}:{other.line}); "
                                           "this definition is ignored", line=doc.line))
            elif ident is not None:
                first_seen[ident] = doc
        errors.extend(found)
        if not any(e.severity == "error" for e in found):
            valid.append(doc)
    return valid, errors
