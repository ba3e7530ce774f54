"""Readable text for describe (the TUI's `d`, `kubedeck describe`) and YAML (the TUI's
`y`), with Secret values masked unless revealed on purpose."""

from __future__ import annotations

from datetime import datetime

import yaml

from . import format as fmt

_SKIP_META = ("managedFields",)


def yaml_text(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def safe_object(obj: dict, *, reveal: bool = False) -> dict:
    """The object as shown: Secrets masked (or decoded when `reveal`), noise removed."""
    if obj.get("kind") == "Secret":
        obj = fmt.masked_secret(obj, reveal=reveal)
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in _SKIP_META}
    return {**obj, "metadata": meta}


def to_yaml(obj: dict, *, reveal: bool = False) -> str:
    return yaml_text(safe_object(obj, reveal=reveal))


def events_for(obj: dict, events: list[dict]) -> list[dict]:
    """Events whose involvedObject is `obj` (by uid, else kind/namespace/name), oldest first."""
    meta = obj.get("metadata", {})
    uid, name, ns = meta.get("uid"), meta.get("name"), meta.get("namespace")
    kind = obj.get("kind")
    found = []
    for event in events:
        inv = event.get("involvedObject") or {}
        if inv.get("uid") and uid:
            if inv["uid"] == uid:
                found.append(event)
        elif inv.get("name") == name and inv.get("namespace", ns) == ns and (
            not kind or inv.get("kind") in (None, kind)
        ):
            found.append(event)
    return sorted(found, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")


def describe(obj: dict, events: list[dict], now: datetime, *, reveal: bool = False) -> str:
    shown = safe_object(obj, reveal=reveal)
    meta = shown.get("metadata", {})
    lines = [
        f"Name:         {meta.get('name', '')}",
    ]
    if meta.get("namespace"):
        lines.append(f"Namespace:    {meta['namespace']}")
    lines.append(f"Kind:         {shown.get('kind', '')}")
    lines.append(f"Created:      {meta.get('creationTimestamp', '')} ({fmt.age(meta.get('creationTimestamp'), now)} ago)")
    for title, key in (("Labels", "labels"), ("Annotations", "annotations")):
        values = meta.get(key) or {}
        if not values:
            lines.append(f"{title + ':':<14}<none>")
            continue
        first = True
        for k, v in values.items():
            text = str(v)
            if len(text) > 100:
                text = text[:97] + "..."
            lines.append(f"{(title + ':') if first else '':<14}{k}={text}")
            first = False
    if shown.get("kind") == "Pod":
        lines.append(f"Status:       {fmt.pod_summary(obj, now).status}")
        lines.append(f"Node:         {obj.get('spec', {}).get('nodeName') or '<none>'}")
        lines.append(f"IP:           {obj.get('status', {}).get('podIP') or '<none>'}")
    for section in ("spec", "data", "stringData", "status"):
        if shown.get(section):
            lines.append(f"{section[0].upper() + section[1:]}:")
            body = yaml_text(shown[section]).rstrip("\n")
            lines.extend("  " + line for line in body.splitlines())
    lines.append("Events:")
    matched = events_for(obj, events)
    if not matched:
        lines.append("  <none>")
    else:
        lines.append(f"  {'TYPE':<8} {'REASON':<24} {'AGE':<6} {'FROM':<16} MESSAGE")
        for event in matched:
            when = event.get("lastTimestamp") or event.get("eventTime")
            source = (event.get("source") or {}).get("component", "") or event.get(
                "reportingComponent", ""
            )
            count = event.get("count", 1)
            age = fmt.age(when, now) + (f" (x{count})" if count and count > 1 else "")
            lines.append(
                f"  {event.get('type', ''):<8} {event.get('reason', ''):<24} {age:<6} "
                f"{source:<16} {event.get('message', '')}"
            )
    return "\n".join(lines) + "\n"
