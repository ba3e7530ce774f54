"""The object service: every write path's rules in one place, over the store.

The folder sync, the API, the controllers and the CLI (through the API) all create,
apply and delete objects through this service, so that admission (schema and semantic
validation, as the API server's 422), apply (server-side apply with managedFields, one
implementation for the API, the CLI and the folder), delete propagation (Foreground,
Background, Orphan), and Events (aggregated and pruned, as `--event-ttl`) are written once.

It holds only the store, and, once the node agent runs, the `kubelet` that stops a pod's
containers (graceful deletion needs it); nothing else of the cluster.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from .fieldmanager.fieldset import FIELD, canonical_json, root_schema
from .fieldmanager.fieldwalk import compare, remove
from .fieldmanager.ssa import ApplyConflict, FieldSetError, server_side_apply
from .manifests.kinds import qualified_resource
from .podsecurity import HINT, admission_message, check_object
from .labels import A_SOURCE as SOURCE
from .store import Store, StoreError, fold_string_data, key_of, now_iso

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SCHEDULER_ACTIONS = {"Scheduled": "Binding", "FailedScheduling": "Scheduling"}
#: the field manager of the folder sync and `kubedeck apply`
MANAGER = "kubedeck"
#: the namespaces the API server never lets go (its NamespaceLifecycle admission)
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


class Kubelet(Protocol):
    """What pod deletion needs of the node agent."""

    def force_delete(self, pod: dict) -> None: ...

    def set_grace(self, pod: dict, grace: int) -> None: ...


class ObjectService:
    def __init__(self, store: Store, *, manifest_folder: Path | None = None,
                 allow_privileged: bool = False) -> None:
        self.store = store
        #: the Pod Security "baseline" policy's inputs (engine/podsecurity.py)
        self.manifest_folder = manifest_folder
        self.allow_privileged = allow_privileged
        self.kubelet: Kubelet | None = None
        self._events: dict[tuple, tuple[str, str]] = {}
        self._last_event_ns = 0

    def crd_kinds(self) -> set[tuple[str, str]]:
        out = set()
        for crd in self.store.iter_kind("CustomResourceDefinition"):
            spec = crd.get("spec") or {}
            out.add((spec.get("group", ""), (spec.get("names") or {}).get("kind", "")))
        return out

    def admit(self, obj: dict, field_validation: str = "Strict") -> list[str]:
        """Validate an object arriving through the API, as the API server would (422);
        returns the warnings for the client (`unknown_fields`)."""
        errs = self._errors(obj)
        warnings = self.unknown_fields(obj, field_validation, errs)
        errs = [e for e in errs if not _is_unknown(e)]
        if errs:
            kind, _, name = key_of(obj)
            raise StoreError.invalid(kind, name, [(e.field or "", e.message) for e in errs])
        violations = self.pod_security(obj)
        if violations:
            raise StoreError(403, "Forbidden", admission_message(qualified_resource(obj.get("kind", "")),
                                                                 key_of(obj)[2], violations) + f" ({HINT})")
        return warnings

    def unknown_fields(self, obj: dict, field_validation: str, errs: list | None = None) -> list[str]:
        """The API server's `fieldValidation` for fields the schema does not know: `Strict`
        (what kubectl's default --validate sends) makes them a decoding error (400);
        `Warn` (the server's default, so what client libraries get) and `Ignore` drop
        them from `obj`, Warn with a warning each for the response's Warning header."""
        unknown = [e for e in (self._errors(obj) if errs is None else errs) if _is_unknown(e)]
        if not unknown:
            return []
        names = [_unknown_field(e.field, e.message) for e in unknown]
        if field_validation == "Strict":
            kind, version = obj.get("kind", ""), obj.get("apiVersion", "").rpartition("/")[2]
            raise StoreError(400, "BadRequest", f'{kind} in version "{version}" cannot be '
                             f"handled as a {kind}: strict decoding error: " + ", ".join(names))
        for e in unknown:
            _drop(obj, e.field or "", e.message.split('"')[1])
        return names if field_validation == "Warn" else []

    def _errors(self, obj: dict) -> list:
        from .manifests.loader import Document
        from .manifests.validate import validate_document

        doc = Document(obj=obj, file="<api>", index=0, line=0)
        return [e for e in validate_document(doc, known_kinds=self.crd_kinds()) if e.severity == "error"]

    def pod_security(self, obj: dict) -> list[tuple[str, str]]:
        """(field, message) for each way `obj`'s pods break the baseline policy."""
        return check_object(obj, manifest_folder=self.manifest_folder, allow_privileged=self.allow_privileged)

    def apply(self, config: dict, *, manager: str, force: bool, admit: bool = True,
              dry_run: bool = False) -> tuple[dict, bool]:
        """Server-side apply of `config` as `manager`: (the object, whether it is new).
        A field another manager owns is a 409 Conflict unless `force`. With `dry_run`
        nothing is stored. `admit=False` when the caller validated `config` already."""
        try:
            new, live = self._ssa(config, manager=manager, force=force)
        except ApplyConflict as e:
            body = e.status()
            raise StoreError(409, body["reason"], body["message"], body.get("details")) from None
        return self._store_applied(new, live, admit=admit, dry_run=dry_run), live is None

    def _ssa(self, config: dict, *, manager: str, force: bool) -> tuple[dict, dict | None]:
        kind, ns, name = key_of(config)
        live = self.store.get(kind, ns, name)
        return server_side_apply(live, config, manager=manager, force=force,
                                 api_version=config.get("apiVersion", ""), kind=kind), live

    def _store_applied(self, new: dict, live: dict | None, *, admit: bool, dry_run: bool) -> dict:
        if admit:
            self.admit(new)
        if dry_run:  # what the write would store (kubectl diff compares it with the live object)
            return fold_string_data(new)
        if live is None:
            return self.store.create(prepare_create(new))
        if new == live:
            return live
        return self.store.update(new, check_rv=False)

    def apply_file(self, obj: dict, *, source: str) -> str | None:
        """The folder's apply of one validated document: None, "waiting" (its namespace
        does not exist yet) or the error.

        Server-side apply as `kubedeck`, with kubectl apply's rule for fields someone else
        changed since (`kubectl scale`, `edit`): they keep their live value until the file
        changes them; what the file changes wins. The file's previous content is kept in
        `last-applied-configuration`, as kubectl apply keeps it, to tell the two apart."""
        kind, ns, _ = key_of(obj)
        if ns:
            live_ns = self.store.peek("Namespace", "", ns)
            if live_ns is None or live_ns["metadata"].get("deletionTimestamp"):
                return "waiting"  # a Namespace being deleted takes no new content either
        config = json.loads(json.dumps(obj))
        notes = config.setdefault("metadata", {}).get("annotations") or {}
        notes.pop(LAST_APPLIED, None)
        applied = canonical_json(config)
        config["metadata"]["annotations"] = {**notes, SOURCE: source, LAST_APPLIED: applied}
        try:
            try:
                new, live = self._ssa(config, manager=MANAGER, force=False)
            except ApplyConflict as e:
                config = self._yield_unchanged(config, e.paths)
                new, live = self._ssa(config, manager=MANAGER, force=True)
            self._store_applied(new, live, admit=False, dry_run=False)
        except StoreError as e:
            return e.message
        except FieldSetError as e:  # a list item without its merge key
            return str(e)
        return None

    def _yield_unchanged(self, config: dict, conflicts: set) -> dict:
        """`config` without the conflicting fields whose value the file did not change
        since its last apply (those stay as the other manager set them)."""
        kind, ns, name = key_of(config)
        live = self.store.peek(kind, ns, name) or {}
        try:
            previous = json.loads(((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED) or "null")
        except ValueError:
            previous = None
        if not isinstance(previous, dict):
            return config  # nothing known of the last apply: the file wins everywhere
        root = root_schema(config.get("apiVersion", ""), kind)
        current = json.loads(config["metadata"]["annotations"][LAST_APPLIED])
        added, modified, _ = compare(previous, current, root)
        ours = {((FIELD, "metadata"), (FIELD, "annotations"), (FIELD, a)) for a in (SOURCE, LAST_APPLIED)}
        return remove(config, conflicts - added - modified - ours, root)

    def delete(self, kind: str, ns: str, name: str, *, grace: int | None = None,
                      propagation: str | None = None) -> dict:
        if kind == "Namespace":
            return self._delete_namespace(name)
        if propagation == "Orphan":
            obj = self.store.peek(kind, ns, name)
            uid = obj["metadata"]["uid"] if obj else None
            for dep in self.store.dependents(uid) if uid else []:
                dep = json.loads(json.dumps(dep))
                dep["metadata"]["ownerReferences"] = [r for r in dep["metadata"]["ownerReferences"]
                                                      if r.get("uid") != uid]
                self.store.update(dep, check_rv=False)
        if propagation == "Foreground" and kind != "Pod":
            # the owner stays (deletionTimestamp + finalizer) until the garbage
            # collector has deleted its dependents (controllers/gc.py)
            obj = self.store.get(kind, ns, name)
            if obj is None:
                return self.store.delete(kind, ns, name)  # raises NotFound
            fins = obj["metadata"].get("finalizers") or []
            if "foregroundDeletion" not in fins and not obj["metadata"].get("deletionTimestamp"):
                obj["metadata"]["finalizers"] = [*fins, "foregroundDeletion"]
                self.store.update(obj, check_rv=False)
        if kind == "Pod":
            pod = self.store.peek("Pod", ns, name)
            if pod is not None and pod["spec"].get("nodeName") and self.kubelet is not None:
                if grace == 0:
                    self.kubelet.force_delete(pod)
                out = self.store.delete("Pod", ns, name, graceful=True)
                if grace is not None:
                    self.kubelet.set_grace(out, grace)
                return out
        return self.store.delete(kind, ns, name)

    def _delete_namespace(self, name: str) -> dict:
        """Mark a Namespace Terminating; the namespace controller deletes what is in it and
        then the Namespace itself (controllers/namespace.py). The three namespaces the API
        server keeps alive are refused, as its NamespaceLifecycle admission refuses them."""
        if name in IMMORTAL_NAMESPACES:
            raise StoreError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                             {"name": name, "kind": "namespaces"})
        live = self.store.get("Namespace", "", name)
        if live is not None and "kubernetes" not in ((live.get("spec") or {}).get("finalizers") or []):
            # made before namespaces had their finalizer (an older state dir): its content goes too
            prepare_create(live)
            self.store.update(live, check_rv=False)
        out = self.store.delete("Namespace", "", name)  # held by its finalizer: marked, not removed
        if out.get("status", {}).get("phase") != "Terminating":
            out = self.store.update_status("Namespace", "", name, {**out.get("status", {}), "phase": "Terminating"}) or out
        return out

    def record_event(self, obj: dict, reason: str, message: str, *, type: str = "Normal",
                     component: str = "kubedeck") -> None:
        """Record an Event. A repeat of the same (object, reason, message) bumps the
        existing Event's count, as Kubernetes aggregates them; old Events are pruned."""
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        now = now_iso()
        key = (meta.get("uid"), reason, message)
        existing = self._events.get(key)
        if existing is not None:
            ev = self.store.get("Event", existing[0], existing[1])
            if ev is not None:
                ev["count"] = int(ev.get("count", 1)) + 1
                ev["lastTimestamp"] = now
                self.store.update(ev, check_rv=False)
                return
        # named as Kubernetes names them (hex nanoseconds), so the list order is the
        # recording order and kubectl describe breaks ties in timestamps the same way
        self._last_event_ns = max(time.time_ns(), self._last_event_ns + 1)
        name = f"{meta.get('name', 'x')}.{self._last_event_ns:x}"
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": name, "namespace": ns},
              "involvedObject": {"kind": obj.get("kind"), "name": meta.get("name"), "namespace": ns,
                                 "uid": meta.get("uid"), "apiVersion": obj.get("apiVersion")},
              "reason": reason, "message": message, "type": type, "count": 1,
              "firstTimestamp": now, "lastTimestamp": now, "eventTime": None,
              "source": {"component": component}, "reportingComponent": component,
              "reportingInstance": ""}
        # the kubelet reports as its node (kubectl describe: "kubelet, <node>" in older
        # kubectl), the scheduler with a precise eventTime and an action, as upstream
        if component == "kubelet":
            host = (obj.get("spec") or {}).get("nodeName") or (meta.get("name", "") if obj.get("kind") == "Node" else "")
            if host:
                ev["source"]["host"] = ev["reportingInstance"] = host
        elif component == "default-scheduler":
            ev["eventTime"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            ev["action"] = SCHEDULER_ACTIONS.get(reason, "")
        try:
            self.store.create(ev)
        except StoreError:
            return
        self._events[key] = (ns, name)
        if len(self._events) % 200 == 0:
            self._prune_events()

    def _prune_events(self, *, ttl: float = 3600, keep: int = 5000) -> None:
        """Events live an hour, as Kubernetes' default --event-ttl; at most `keep` stay."""
        from .controllers.podutil import parse_time

        events = sorted(self.store.iter_kind("Event"), key=lambda e: e.get("lastTimestamp") or "")
        cutoff = time.time() - ttl
        drop = [e for e in events if parse_time(e.get("lastTimestamp")) < cutoff]
        drop += events[len(drop):max(len(drop), len(events) - keep)]
        for e in drop:
            try:
                self.store.delete("Event", e["metadata"]["namespace"], e["metadata"]["name"])
            except StoreError:
                pass
        live = {(e["metadata"]["namespace"], e["metadata"]["name"]) for e in self.store.iter_kind("Event")}
        self._events = {k: v for k, v in self._events.items() if v in live}


def _is_unknown(e) -> bool:
    return e.message.startswith('unknown field "')


def _drop(obj: dict, field: str, key: str) -> None:
    """Remove `key` from the map at `field` (`spec.containers[0].ports[1]`) of `obj`."""
    node = obj
    for part in filter(None, field.split(".")):
        name, *indexes = part.replace("]", "").split("[")
        node = node.get(name) if name else node
        for i in indexes:
            node = node[int(i)] if isinstance(node, list) and int(i) < len(node) else None
        if not isinstance(node, dict):
            return
    node.pop(key, None)


def _unknown_field(field: str | None, message: str) -> str:
    """`unknown field "foo" (did you mean ...)` at `spec` -> `unknown field "spec.foo"`."""
    key = message.split('"')[1]
    return f'unknown field "{field + "." if field else ""}{key}"'


def prepare_create(obj: dict) -> dict:
    """What the API server sets on a new object before storing it (the strategies'
    PrepareForCreate): a Pod starts Pending, with its QoS class; a Namespace starts
    Active, with the `kubernetes` finalizer that its deletion waits on
    (controllers/namespace.py)."""
    if obj.get("kind") == "Pod" and not (obj.get("status") or {}).get("phase"):
        from .qos import qos_class

        obj["status"] = {**(obj.get("status") or {}), "phase": "Pending", "qosClass": qos_class(obj)}
    elif obj.get("kind") == "Namespace":
        spec = obj.setdefault("spec", {})
        fins = list(spec.get("finalizers") or [])
        spec["finalizers"] = fins if "kubernetes" in fins else [*fins, "kubernetes"]
        obj["status"] = {"phase": "Active"}
    return obj


def prepare_update(new: dict, live: dict) -> dict:
    """What an update through the API may not change (the strategies' PrepareForUpdate):
    a Namespace's finalizers and status, which are the namespace controller's."""
    if new.get("kind") == "Namespace":
        new.setdefault("spec", {})["finalizers"] = list((live.get("spec") or {}).get("finalizers") or [])
        new["status"] = live.get("status") or {}
    return new
