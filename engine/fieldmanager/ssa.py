"""Server-side apply and ``metadata.managedFields``, as a 1.30 API server keeps them.

Pure functions over dicts; the API handlers call them and store what they return.

``server_side_apply`` follows structured-merge-diff's ``Updater.Apply``: lay the applied
configuration over the live object, make the applier own exactly the fields of its
configuration, prune what it applied last time and no longer does (unless some other
manager owns it too), then compare live with the result: a changed or added field that
another manager owns is a conflict (HTTP 409 with one cause per field) unless ``force``,
which moves ownership; a removed field leaves every other manager's set.

``track_update`` is ``Updater.Update`` for create/update/patch: the writing manager (one
entry per manager, operation, subresource and, for updates, apiVersion) takes the fields
that were added or changed, everyone loses the removed ones. managedFields sent in the
update itself are taken as given (kubectl moves client-side-apply ownership that way), and
entries with an empty set are dropped. Fields no one may own through this endpoint are
left out of every set: apiVersion, kind, metadata.name/namespace/uid/... (the server's
stripped fields), and ``status`` on the main resource (``spec`` on ``/status``).

The manager ``kubectl`` gets what the API server gives it for objects that client-side
apply wrote (``kubectl.kubernetes.io/last-applied-configuration``): conflicts on fields
whose live value is still the last-applied one are forced, and the annotation is rewritten
to the new configuration, so going back to client-side apply keeps working.

Not done (yet): the 10-manager cap that folds old Update entries into "ancient-changes",
version conversion of entries written at another apiVersion, nulls in an applied
configuration (they are dropped, not owned), and the resourceVersion/uid preconditions of
an apply body.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .fieldset import (
    FIELD,
    FieldSetError,
    canonical_json,
    from_fields_v1,
    path_order,
    path_string,
    root_schema,
    to_fields_v1,
)
from .fieldwalk import compare, ensure_named, field_set, merge, remove, without_prefixes

__all__ = ["ApplyConflict", "FieldSetError", "default_manager", "server_side_apply", "track_update"]

_META_IGNORED = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink")
# The stripped fields of the API server's field manager: never owned by anyone.
_STRIPPED = {((FIELD, "apiVersion"),), ((FIELD, "kind"),), ((FIELD, "metadata"),)} | {
    ((FIELD, "metadata"), (FIELD, name),) for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation",
        "managedFields", "resourceVersion")}
_MAX_MANAGER_LEN = 128
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_ANNOTATIONS_MAX = 256 * 1024


@dataclass
class _Entry:
    manager: str
    operation: str
    subresource: str
    api_version: str
    time: str | None = None
    fields: set = field(default_factory=set)

    @property
    def key(self) -> tuple:
        # appliers keep one entry whatever version they apply with, as on a real server
        return (self.manager, self.operation, self.subresource,
                "" if self.operation == "Apply" else self.api_version)

    def described(self) -> str:
        """The manager as the API server names it in conflict messages."""
        out = json.dumps(self.manager, ensure_ascii=False)
        if self.subresource:
            out += f" with subresource {json.dumps(self.subresource, ensure_ascii=False)}"
        if self.operation == "Update":
            out += f" using {self.api_version}"
        return out

    def identifier(self) -> str:
        ident = {"manager": self.manager, "operation": self.operation}
        if self.operation != "Apply":
            ident["apiVersion"] = self.api_version
        if self.subresource:
            ident["subresource"] = self.subresource
        return json.dumps(ident, separators=(",", ":"))


class ApplyConflict(Exception):
    """Apply would change fields other managers own. ``conflicts``: [(manager, field path)]."""

    def __init__(self, found: list[tuple[_Entry, tuple]]):
        self._found = sorted(found, key=lambda c: (c[0].identifier(), path_order(c[1])))
        self.conflicts = [(entry.manager, path_string(path)) for entry, path in self._found]
        self.paths = {path for _, path in self._found}
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if len(self._found) == 1:
            entry, path = self._found[0]
            return f"Apply failed with 1 conflict: conflict with {entry.described()}: {path_string(path)}"
        lines, current = [], None
        for entry, path in self._found:
            if entry.identifier() != current:
                current = entry.identifier()
                lines.append(f"conflicts with {entry.described()}:")
            lines.append(f"- {path_string(path)}")
        return f"Apply failed with {len(self._found)} conflicts: " + "\n".join(lines)

    def status(self) -> dict:
        """The 409 ``Status`` body a real API server returns."""
        causes = [{"type": "FieldManagerConflict", "message": f"conflict with {entry.described()}",
                   "field": path_string(path)} for entry, path in self._found]
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": "Conflict", "details": {"causes": causes},
                "code": 409}


def default_manager(user_agent: str) -> str:
    """The field manager the API server derives when a request names none: the User-Agent
    up to its first "/", printable characters only, at most 128 bytes. kubectl names its
    managers itself (kubectl-client-side-apply, kubectl-edit, ...); what falls back here is
    e.g. ``kubectl`` for `kubectl/v1.30.2 (linux/amd64) ...` and ``OpenAPI-Generator`` for
    the official Python client (`OpenAPI-Generator/30.1.0/python`)."""
    out = ""
    for ch in user_agent.split("/", 1)[0]:
        if not ch.isprintable():
            continue
        if len((out + ch).encode()) > _MAX_MANAGER_LEN:
            break
        out += ch
    return out


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decode(obj: dict | None) -> dict[tuple, _Entry]:
    managers: dict[tuple, _Entry] = {}
    for raw in ((obj or {}).get("metadata") or {}).get("managedFields") or ():
        if not isinstance(raw, dict) or raw.get("fieldsType", "FieldsV1") != "FieldsV1":
            continue
        try:
            fields = from_fields_v1(raw.get("fieldsV1") or {})
        except (ValueError, AttributeError):
            continue
        entry = _Entry(str(raw.get("manager", "")), str(raw.get("operation", "")),
                       str(raw.get("subresource", "")), str(raw.get("apiVersion", "")),
                       raw.get("time"), fields)
        if entry.key in managers:
            managers[entry.key].fields |= fields
        else:
            managers[entry.key] = entry  # even when empty: [{}] is how a client clears them
    return managers


def _encode(managers: dict[tuple, _Entry]) -> list[dict]:
    entries = [e for e in managers.values() if e.fields]
    entries.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    out = []
    for e in entries:
        raw = {"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version}
        if e.time:
            raw["time"] = e.time
        raw.update(fieldsType="FieldsV1", fieldsV1=to_fields_v1(e.fields))
        if e.subresource:
            raw["subresource"] = e.subresource
        out.append(raw)
    return out


def _body(obj: dict | None) -> dict:
    """A deep copy without managedFields ({} for a create)."""
    out = copy.deepcopy(obj) if obj else {}
    if isinstance(out.get("metadata"), dict):
        out["metadata"].pop("managedFields", None)
    return out


def _without_nulls(value):
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _reset_fields(subresource: str) -> set:
    """What a write through this endpoint may not own (the strategies' reset fields)."""
    return {((FIELD, "spec"),)} if subresource == "status" else {((FIELD, "status"),)}


def _with_managed(obj: dict, managers: dict[tuple, _Entry]) -> dict:
    encoded = _encode(managers)
    meta = obj.setdefault("metadata", {})
    if encoded:
        meta["managedFields"] = encoded
    else:
        meta.pop("managedFields", None)
    return obj


def server_side_apply(live: dict | None, config: dict, *, manager: str, force: bool,
                      api_version: str, kind: str) -> dict:
    """The object after ``manager`` applies ``config`` to ``live`` (None: create).

    Raises ApplyConflict (unless ``force``) and FieldSetError (a map-list item without its
    key: the API server answers 500 with that message)."""
    root = root_schema(api_version, kind)
    reset = _reset_fields("")
    cfg = _without_nulls(copy.deepcopy(config))
    cfg.pop("status", None)  # status goes through /status only
    for name in _META_IGNORED:
        (cfg.get("metadata") or {}).pop(name, None)
    base = _body(live)
    managers = _decode(live)
    me = _Entry(manager, "Apply", "", api_version)
    last = managers.get(me.key)
    me.fields = without_prefixes(field_set(cfg, root), reset) - _STRIPPED
    me.time = last.time if last else None
    managers[me.key] = me
    merged = merge(base, cfg, root)
    if last:
        owned = set().union(*(e.fields for e in managers.values()))
        merged = remove(merged, ensure_named(last.fields, root) - ensure_named(owned, root), root)
    added, modified, removed = (without_prefixes(s, reset) for s in compare(base, merged, root))
    changed = added | modified
    conflicts = [(e, path) for key, e in managers.items() if key != me.key for path in e.fields & changed]
    if conflicts and not force:
        allowed = _still_last_applied(base, root, api_version) if manager == "kubectl" else set()
        conflicts = [(e, path) for e, path in conflicts if path not in allowed]
        if conflicts:
            raise ApplyConflict(conflicts)
    for key, e in managers.items():
        if key != me.key:
            e.fields -= changed | removed
    if added or modified or removed:  # an apply that changes nothing keeps the old time
        me.time = _now()
    if manager == "kubectl" and _annotations(merged).get(LAST_APPLIED):
        _set_last_applied(merged, config)
    return _with_managed(merged, managers)


def _annotations(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _still_last_applied(live: dict, root, api_version: str) -> set:
    """The fields of the last client-side apply whose live value is still the applied one."""
    try:
        last = json.loads(_annotations(live).get(LAST_APPLIED) or "null")
        if not isinstance(last, dict) or last.get("apiVersion") != api_version:
            return set()
        added, modified, removed = compare(last, live, root)
        return field_set(last, root) - added - modified - removed
    except (ValueError, FieldSetError):
        return set()


def _set_last_applied(obj: dict, config: dict) -> None:
    applied = copy.deepcopy(config)
    notes = (applied.get("metadata") or {}).get("annotations")
    if isinstance(notes, dict):
        notes.pop(LAST_APPLIED, None)
        if not notes:
            del applied["metadata"]["annotations"]
    annotations = obj["metadata"].setdefault("annotations", {})
    annotations[LAST_APPLIED] = canonical_json(applied) + "\n"  # Go's json.Encoder adds it
    if sum(len(k) + len(v) for k, v in annotations.items()) > _ANNOTATIONS_MAX:
        del annotations[LAST_APPLIED]  # too big to keep, as the API server decides too


def track_update(old: dict | None, new: dict, *, manager: str, operation: str = "Update",
                 subresource: str = "", api_version: str, kind: str) -> dict:
    """``new`` (as it will be stored) with managedFields after ``manager`` wrote it over
    ``old`` (None: create) by create, update or patch."""
    root = root_schema(api_version, kind)
    reset = _reset_fields(subresource)
    managers = {} if subresource else _decode(new)
    if not managers:  # clients that do not know managedFields must not wipe them
        managers = _decode(old)
    out = _body(new)
    added, modified, removed = compare(_body(old), out, root)
    taken = without_prefixes(added | modified, reset) - _STRIPPED
    for e in managers.values():
        e.fields -= without_prefixes(added | modified | removed, reset)
    if taken:
        me = _Entry(manager, operation, subresource, api_version)
        me = managers.setdefault(me.key, me)
        me.fields |= taken
        me.time = _now()
    return _with_managed(out, managers)
