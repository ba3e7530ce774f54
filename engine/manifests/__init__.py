"""Reading and checking manifest files.

``loader`` parses YAML/JSON with line numbers and guards, ``validate`` checks
documents (kind lookup, Kubernetes schema, Kubernetes' semantic rules),
``kinds`` lists the kinds kubedeck knows, ``errors`` holds ``ManifestError``.
"""
from .errors import ManifestError, format_path
from .kinds import KINDS, KindInfo, kind_for_plural, plural_for_kind
from .loader import Document, iter_manifest_files, load_file, load_text
from .validate import load_and_validate, validate_document

__all__ = [
    "ManifestError",
    "format_path",
    "KINDS",
    "KindInfo",
    "kind_for_plural",
    "plural_for_kind",
    "Document",
    "iter_manifest_files",
    "load_file",
    "load_text",
    "load_and_validate",
    "validate_document",
]
