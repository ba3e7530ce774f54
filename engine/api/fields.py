"""Field selectors (`?fieldSelector=involvedObject.name=web,type!=Normal`), as the API
server supports them: `=`, `==` and `!=` on the fields each kind declares selectable.
`kubectl describe` finds an object's Events with them, `kubectl get pods
--field-selector status.phase=Running` filters with them. An unsupported field is a 400
with the real server's message, so a typo is not silently an empty list.
"""

from __future__ import annotations

from collections.abc import Callable

_COMMON = ("metadata.name", "metadata.namespace")
SELECTABLE: dict[str, tuple[str, ...]] = {
    "Pod": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
    "Event": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
              "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
              "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"),
    "Secret": ("type",),
    "Node": ("spec.unschedulable",),
    "Namespace": ("status.phase",),
    "ReplicaSet": ("status.replicas",),
    "Job": ("status.successful",),
}


class FieldSelectorError(ValueError):
    pass


def _value(obj: dict, path: str) -> str:
    if path == "source":  # Events: the component that reported it
        return str((obj.get("source") or {}).get("component") or "")
    cur: object = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if path == "metadata.namespace" and cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if path == "spec.hostNetwork" and cur is None:
        return "false"
    return "" if cur is None else str(cur)


def parse_field_selector(text: str, kind: str) -> Callable[[dict], bool] | None:
    """A predicate for the selector, or None when it selects everything."""
    terms: list[tuple[str, bool, str]] = []
    allowed = _COMMON + SELECTABLE.get(kind, ())
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "!=" in part:
            field, _, want = part.partition("!=")
            eq = False
        elif "==" in part:
            field, _, want = part.partition("==")
            eq = True
        elif "=" in part:
            field, _, want = part.partition("=")
            eq = True
        else:
            raise FieldSelectorError(f'invalid selector: \'{text}\'; can\'t understand \'{part}\'')
        field = field.strip()
        if field not in allowed:
            raise FieldSelectorError(f'field label not supported: {field}')
        terms.append((field, eq, want.strip()))
    if not terms:
        return None
    return lambda obj: all((_value(obj, f) == w) == eq for f, eq, w in terms)

