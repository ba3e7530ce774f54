"""Readable text for describe (the TUI's `d`, `kubedeck describe`) and YAML (the TUI's
`y`), with Secret values masked unless revealed on purpose.

The header and the Events table follow `kubectl describe`: the last-applied annotation is
left out of Annotations (kubectl's `skipAnnotations`), and events are sorted as kubectl's
`SortableEvents` sorts them (series.lastObservedTime, else lastTimestamp, else eventTime),
events of the same second in the order they were recorded (resourceVersion), then laid
out as its tabwriter does (`Type Reason Age From Message`, `Age` as `3m (x4 over 5m)`).
"""

from __future__ import annotations

from datetime import datetime

from . import format as fmt

_SKIP_META = ("managedFields",)


def yaml_text(data: object) -> str:
    import yaml  # here: the TUI's and `get`'s start-up import this module, not always YAML

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def safe_object(obj: dict, *, reveal: bool = False) -> dict:
    """The object as shown: Secrets masked (or decoded when `reveal`), noise removed."""
    if obj.get("kind") == "Secret":
        obj = fmt.masked_secret(obj, reveal=reveal)
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in _SKIP_META}
    return {**obj, "metadata": meta}


def to_yaml(obj: dict, *, reveal: bool = False) -> str:
    return yaml_text(safe_object(obj, reveal=reveal))


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def event_time(event: dict) -> str:
    """kubectl's `eventTime()`: the time `kubectl describe` sorts events by."""
    series = event.get("series") or {}
    return series.get("lastObservedTime") or event.get("lastTimestamp") or event.get("eventTime") or ""


def _recorded(event: dict) -> tuple[str, int, str]:
    """Sort key: the event time (RFC 3339 in UTC sorts as text; seconds only, so many
    events share one), then the order of recording, which the resourceVersion keeps."""
    meta = event.get("metadata") or {}
    rv = str(meta.get("resourceVersion") or "")
    return event_time(event)[:19], int(rv) if rv.isdigit() else 0, meta.get("name", "")


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
    return sorted(found, key=_recorded)


def _event_age(event: dict, now: datetime) -> str:
    """kubectl's Age cell: first seen, or `last (xN over first)` for a repeated event."""
    first = fmt.age(event.get("eventTime") or event.get("firstTimestamp"), now)
    series = event.get("series") or {}
    if series:
        return f"{fmt.age(series.get('lastObservedTime'), now)} (x{series.get('count', 1)} over {first})"
    if int(event.get("count") or 1) > 1:
        return f"{fmt.age(event.get('lastTimestamp'), now)} (x{event['count']} over {first})"
    return first


def events_table(events: list[dict], now: datetime) -> list[str]:
    """The Events section of `kubectl describe`, for events already sorted."""
    if not events:
        return [f"{'Events:':<14}<none>"]
    rows = [["Type", "Reason", "Age", "From", "Message"], ["----", "------", "----", "----", "-------"]]
    for event in events:
        source = (event.get("source") or {}).get("component") or event.get("reportingController") \
            or event.get("reportingComponent") or ""
        rows.append([event.get("type", ""), event.get("reason", ""), _event_age(event, now), source,
                     (event.get("message") or "").strip()])
    widths = [max(len(row[i]) for row in rows) + 2 for i in range(4)]  # tabwriter padding 2
    return ["Events:", *("  " + "".join(c.ljust(w) for c, w in zip(row, widths)) + row[4] for row in rows)]


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
        values = {k: v for k, v in (meta.get(key) or {}).items() if k != LAST_APPLIED}
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
    for section in ("spec", "data", "status"):
        if shown.get(section):
            lines.append(f"{section[0].upper() + section[1:]}:")
            body = yaml_text(shown[section]).rstrip("\n")
            lines.extend("  " + line for line in body.splitlines())
    lines.extend(events_table(events_for(obj, events), now))
    return "\n".join(lines) + "\n"
