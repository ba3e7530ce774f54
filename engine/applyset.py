"""Kubernetes ApplySets (KEP 3659), as `kubectl apply --prune --applyset` keeps them.

A parent object (here a Secret) names the set: its label `applyset.kubernetes.io/id` is
`applyset-<base64url(sha256("<name>.<namespace>.<Kind>.<group>"))>-v1` (unpadded, as
kubectl's `ApplySet.ID()`), and its annotations list the group-kinds
(`contains-group-kinds`, `Kind.group`, sorted, comma-separated) and the namespaces other
than its own (`additional-namespaces`) where members live. Every member carries the
label `applyset.kubernetes.io/part-of: <id>`. Pruning lists each listed group-kind in
each listed namespace by that label and deletes what the folder no longer holds, so
nothing outside the set is ever a candidate.

kubectl refuses a parent whose `applyset.kubernetes.io/tooling` names another tool, so
kubedeck writes `kubectl/<version>` there: `kubectl apply --prune --applyset=NAME -n NS`
then sees (and may take over) the very set `kubedeck up --context` keeps, and kubedeck
accepts a set kubectl made. A parent of any other tool is refused.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

ID_LABEL = "applyset.kubernetes.io/id"
PART_OF = "applyset.kubernetes.io/part-of"
TOOLING = "applyset.kubernetes.io/tooling"
GROUP_KINDS = "applyset.kubernetes.io/contains-group-kinds"
NAMESPACES = "applyset.kubernetes.io/additional-namespaces"
TOOLING_VALUE = "kubectl/v1.30.0-kubedeck"  # see the module docstring


class ApplySetError(Exception):
    pass


def applyset_id(name: str, namespace: str, kind: str = "Secret", group: str = "") -> str:
    """kubectl's ApplySet.ID() for a parent."""
    digest = hashlib.sha256(".".join((name, namespace, kind, group)).encode()).digest()
    return "applyset-" + base64.urlsafe_b64encode(digest).decode().rstrip("=") + "-v1"


def group_kind(group: str, kind: str) -> str:
    """schema.GroupKind.String(): `Kind.group`, or `Kind` for the core group."""
    return f"{kind}.{group}" if group else kind


def parse_group_kind(text: str) -> tuple[str, str]:
    """schema.ParseGroupKind: `Deployment.apps` -> ("apps", "Deployment")."""
    kind, _, group = text.partition(".")
    return group, kind


def tooling_name(value: str) -> str:
    """kubectl's toolingBaseName: everything before the last `/`."""
    return value.rsplit("/", 1)[0] if "/" in value else value


@dataclass
class ApplySet:
    """The parent (a Secret `name` in `namespace`) and what its annotations say now."""

    name: str
    namespace: str
    group_kinds: frozenset = frozenset()  # {(group, kind)} as recorded on the parent
    namespaces: frozenset = frozenset()   # members' namespaces, the parent's included

    @property
    def id(self) -> str:
        return applyset_id(self.name, self.namespace)

    def check_parent(self, parent: dict | None) -> None:
        """Read a live parent into this set, or refuse one that is not ours to change."""
        if parent is None:
            return
        meta = parent.get("metadata") or {}
        labels, notes = meta.get("labels") or {}, meta.get("annotations") or {}
        where = f"ApplySet parent secret {self.namespace}/{self.name}"
        tool = notes.get(TOOLING)
        if tool is None:
            raise ApplySetError(f"{where} already exists and is missing required annotation {TOOLING}")
        if tooling_name(tool) != tooling_name(TOOLING_VALUE):
            raise ApplySetError(f"{where} already exists and is managed by tooling {tooling_name(tool)!r}")
        if labels.get(ID_LABEL) != self.id:
            raise ApplySetError(f"{where} has label {ID_LABEL}={labels.get(ID_LABEL)!r}, want {self.id}")
        self.group_kinds = frozenset(parse_group_kind(t) for t in (notes.get(GROUP_KINDS) or "").split(",") if t)
        self.namespaces = frozenset(n for n in (notes.get(NAMESPACES) or "").split(",") if n) | {self.namespace}

    def parent_patch(self, group_kinds, namespaces) -> dict:
        """The server-side apply body of the parent recording these members' kinds and namespaces."""
        return {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {
                "name": self.name, "namespace": self.namespace,
                "labels": {ID_LABEL: self.id},
                "annotations": {
                    TOOLING: TOOLING_VALUE,
                    GROUP_KINDS: ",".join(sorted(group_kind(g, k) for g, k in group_kinds)),
                    NAMESPACES: ",".join(sorted(set(namespaces) - {self.namespace, ""})),
                },
            },
        }

    def label_member(self, obj: dict) -> dict:
        """`obj` with the part-of label (a copy; the manifest itself is never changed)."""
        meta = dict(obj.get("metadata") or {})
        labels = dict(meta.get("labels") or {})
        if labels.get(PART_OF, self.id) != self.id:
            raise ApplySetError(f"label {PART_OF} is already set to {labels[PART_OF]!r} in the manifest")
        labels[PART_OF] = self.id
        meta["labels"] = labels
        return {**obj, "metadata": meta}
