"""JSON merge patch (RFC 7386) and kubectl-apply style three-way merge."""

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


def three_way(live, last_applied, new):
    """What `kubectl apply` computes: set what `new` changes relative to the previous
    apply, remove what the previous apply set and `new` no longer does, and keep
    everything else as it is live (replicas set by `scale` while the file still says
    the same, status, fields defaulted by the engine). Lists are replaced whole."""
    if isinstance(new, dict) and isinstance(live, dict):
        last = last_applied if isinstance(last_applied, dict) else {}
        out = copy.deepcopy(live)
        for k in last:
            if k not in new:
                out.pop(k, None)
        for k, v in new.items():
            out[k] = three_way(live.get(k), last.get(k), v)
        return out
    if live is not None and new == last_applied:
        return copy.deepcopy(live)  # the file did not change this field: keep the live value
    return copy.deepcopy(new)
