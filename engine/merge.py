"""JSON merge patch (RFC 7386). Apply is server-side apply (engine/fieldmanager/)."""

from __future__ import annotations

import copy


def merge_patch(target, patch):
    """RFC 7386: maps merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out
