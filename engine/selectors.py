"""Label selectors, as Kubernetes evaluates them.

Three shapes reach us: a Service's plain map (`{"app": "web"}`), a LabelSelector
(`{"matchLabels": ..., "matchExpressions": [...]}`), and the string form used by
`?labelSelector=` and `kubedeck get -l` (`app=web,tier!=db,env in (a,b),!legacy`).
A Service's `targetPort` on a selected pod (`resolve_target_port`) lives here too: the
Endpoints controller, the NodePort proxy and the port-forward client all need it.
"""

from __future__ import annotations

import re

_SET_RE = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def parse_selector_string(text: str) -> dict:
    """Parse the string form into a LabelSelector dict. Raises ValueError on bad syntax."""
    match_labels: dict[str, str] = {}
    exprs: list[dict] = []
    for part in _split_top(text):
        part = part.strip()
        if not part:
            continue
        if m := _SET_RE.match(part):
            vals = [v.strip() for v in m.group(3).split(",") if v.strip()]
            exprs.append({"key": m.group(1), "operator": "In" if m.group(2) == "in" else "NotIn",
                          "values": vals})
        elif "!=" in part:
            k, v = part.split("!=", 1)
            exprs.append({"key": k.strip(), "operator": "NotIn", "values": [v.strip()]})
        elif "=" in part:
            k, v = part.split("==", 1) if "==" in part else part.split("=", 1)
            match_labels[k.strip()] = v.strip()
        elif part.startswith("!"):
            exprs.append({"key": part[1:].strip(), "operator": "DoesNotExist"})
        elif re.fullmatch(r"[A-Za-z0-9./_-]+", part):
            exprs.append({"key": part, "operator": "Exists"})
        else:
            raise ValueError(f"unable to parse requirement: {part!r}")
    return {"matchLabels": match_labels, "matchExpressions": exprs}


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def matches_selector(selector: dict | str | None, labels: dict) -> bool:
    """True when labels satisfy the selector. An empty LabelSelector matches everything."""
    if selector is None:
        return True
    if isinstance(selector, str):
        selector = parse_selector_string(selector)
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        return all(labels.get(k) == v for k, v in selector.items())  # plain map
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in vals:
            return False
        if op == "NotIn" and key in labels and labels[key] in vals:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def resolve_target_port(pod: dict, target) -> int | None:
    """The container port a Service's `targetPort` (a number, or a container port's name)
    means on one selected pod; None if the pod has no port of that name."""
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for c in pod["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target:
                return int(p["containerPort"])
    return None
