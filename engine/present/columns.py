"""Column definitions per kind: the one source for the API's Table, the CLI and the TUI.

A `Printer` is kubectl's pair of `TableColumnDefinition`s and print function
(`pkg/printers/internalversion/printers.go`): `columns` with name, type, format,
description and priority (0 always shown, 1 only with `-o wide`), and `cells(obj, now)`
returning one value per column, wide ones included, as the API server does (it always
prints wide and lets the client drop priority-1 columns). Integer columns hold ints.

`printer_for(kind)` finds a kind's printer; a kind without one gets the API server's
default table (`Name`, `Created At`). The printers themselves live in `core.py`,
`workloads.py`, `network.py` and `others.py`, which register here with `register()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .descriptions import DOC

Cells = Callable[[dict, datetime], list]


@dataclass(frozen=True)
class Column:
    name: str  # as the API sends it ("Port(s)"); kubectl shows it upper-cased
    type: str = "string"  # string, integer, boolean, date
    description: str = ""
    priority: int = 0
    format: str = ""

    @property
    def header(self) -> str:
        return self.name.upper()

    def definition(self) -> dict:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


@dataclass(frozen=True)
class Printer:
    kind: str
    columns: tuple[Column, ...]
    cells: Cells
    #: TableRow conditions for an object (kubectl marks finished pods `Completed`).
    conditions: Callable[[dict], list[dict]] = field(default=lambda obj: [])

    def headers(self, *, wide: bool = True) -> list[str]:
        return [c.header for c in self.columns if wide or c.priority == 0]

    def row(self, obj: dict, now: datetime) -> dict[str, object]:
        """Cells by header, for callers that pick columns by name (the TUI)."""
        return dict(zip((c.header for c in self.columns), self.cells(obj, now)))


# -- helpers the printers share ---------------------------------------------------------

def name_column(priority: int = 0) -> Column:
    return Column("Name", format="name", description=DOC["name"], priority=priority)


AGE = Column("Age", description=DOC["creationTimestamp"])
CONTAINERS = Column("Containers", priority=1, description="Names of each container in the template.")
IMAGES = Column("Images", priority=1, description="Images referenced by each container in the template.")


def name(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def created(obj: dict) -> str | None:
    return (obj.get("metadata") or {}).get("creationTimestamp")


def containers_and_images(pod_spec: dict | None) -> list[str]:
    """kubectl's `layoutContainerCells`: names and images, comma-joined."""
    containers = (pod_spec or {}).get("containers") or []
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]


# -- the registry -----------------------------------------------------------------------

_PRINTERS: dict[str, Printer] = {}


def register(printer: Printer) -> Printer:
    _PRINTERS[printer.kind] = printer
    return printer


def _default_cells(obj: dict, now: datetime) -> list:
    when = created(obj)
    return [name(obj), when or ""]


#: The API server's table for kinds without a printer (`rest.NewDefaultTableConvertor`).
DEFAULT = Printer("", (name_column(), Column("Created At", type="date", description=DOC["creationTimestamp"])),
                  _default_cells)


def printer_for(kind: str) -> Printer:
    # The printer modules register on import; importing them here keeps callers to one import.
    from . import core, network, others, workloads  # noqa: F401

    return _PRINTERS.get(kind, DEFAULT)


def printed_kinds() -> list[str]:
    printer_for("")
    return sorted(_PRINTERS)
