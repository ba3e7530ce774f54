"""Reading and checking manifest files.

``loader`` parses YAML/JSON with line numbers and guards, ``validate`` checks
documents (kind lookup, Kubernetes schema, Kubernetes' semantic rules),
``kinds`` lists the kinds kubedeck knows, ``errors`` holds ``ManifestError``.

The names below are loaded on first use: `kinds` alone is what most of kubedeck needs
(the API paths, the store's messages, the CLI), and importing the validator would pull
in jsonschema and the schema files for nothing.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "ManifestError": "errors", "format_path": "errors",
    "KINDS": "kinds", "KindInfo": "kinds", "kind_for_plural": "kinds", "plural_for_kind": "kinds",
    "Document": "loader", "iter_manifest_files": "loader", "load_file": "loader", "load_text": "loader",
    "load_and_validate": "validate", "validate_document": "validate",
}
__all__ = list(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
