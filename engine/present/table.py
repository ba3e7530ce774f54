"""The `meta.k8s.io/v1` Table the API serves for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`,
and the text kubectl prints from it.

`table()` builds the object exactly as the API server's `TableConvertor` and
`asTable` handler do: every column with its priority (the server always prints wide),
rows with `cells`, `conditions` where kubectl's printer sets them, and `object` per
`includeObject`: a `PartialObjectMetadata` (the default, `Metadata`), the whole object
(`Object`) or null (`None`). On a watch the server sends the column definitions with the
first event only (`no_headers=True` for the others). `render()` is the client half, as kubectl's table printer
does it: upper-case headers, priority-1 columns only when wide, a NAMESPACE column that
the client adds when listing all namespaces, columns padded as its tabwriter pads them.
"""

from __future__ import annotations

from datetime import datetime

from .columns import printer_for

INCLUDE_OBJECT = ("Metadata", "Object", "None")


def _row_object(obj: dict, include_object: str) -> dict | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def table(kind: str, objects: list[dict], *, now: datetime, include_object: str = "Metadata",
          resource_version: str | None = None, no_headers: bool = False) -> dict:
    """A Table of `objects` (all of one `kind`); `resource_version` is the list's (or the
    single object's) resourceVersion for `metadata`. `no_headers` leaves the column
    definitions out (null), as the server does for every watch event after the first."""
    if include_object not in INCLUDE_OBJECT:
        raise ValueError(f"includeObject must be one of {', '.join(INCLUDE_OBJECT)}, not {include_object!r}")
    printer = printer_for(kind)
    rows = []
    for obj in objects:
        row: dict = {"cells": printer.cells(obj, now)}
        conditions = printer.conditions(obj)
        if conditions:
            row["conditions"] = conditions
        row["object"] = _row_object(obj, include_object)
        rows.append(row)
    meta = {"resourceVersion": resource_version} if resource_version else {}
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": None if no_headers else [c.definition() for c in printer.columns], "rows": rows}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "<none>" if value is None else str(value)


def render(data: dict, *, wide: bool = False, headers: bool = True, namespace_column: bool = False) -> str:
    """A Table as kubectl prints it. With `namespace_column`, the NAMESPACE column is
    taken from each row's object metadata (include it as `Metadata` or `Object`)."""
    keep = [i for i, c in enumerate(data["columnDefinitions"]) if wide or c.get("priority", 0) == 0]
    head = [data["columnDefinitions"][i]["name"].upper() for i in keep]
    lines = [[_text(row["cells"][i]) for i in keep] for row in data["rows"]]
    if namespace_column:
        head = ["NAMESPACE", *head]
        lines = [[((row.get("object") or {}).get("metadata") or {}).get("namespace", ""), *line]
                 for row, line in zip(data["rows"], lines)]
    if headers:
        lines = [head, *lines]
    if not lines:
        return ""
    # kubectl's tabwriter: 3 spaces of padding, cells at least 6 wide with it
    widths = [max(3, *(len(line[i]) for line in lines)) for i in range(len(lines[0]))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)
