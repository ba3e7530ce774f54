"""Errors and warnings found in manifest files.

A ``ManifestError`` is a plain, frozen value: where (file, line), what (object,
field path) and the user-facing words.  Loader and validator never raise for
bad input; they return lists of these.  ``str()`` gives the one-line form the
CLI, TUI and API show::

    web.yaml:21 Deployment/tracker spec.template.spec.containers[0].ports[0]: unknown field "containerPorts"

Empty parts are left out (no ``:0`` for an unknown line, no blank object or
field).  ``format_path`` turns a field path tuple such as
``("spec", "containers", 0, "ports")`` into ``spec.containers[0].ports``.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

__all__ = ["ManifestError", "format_path"]

_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


def format_path(path) -> str:
    """Render a field path tuple the way Kubernetes prints field paths."""
    out = []
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.match(str(part)):
            out.append(("." if out else "") + str(part))
        else:
            text = str(part).replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'["{text}"]')
    return "".join(out)


@dataclass(frozen=True)
class ManifestError:
    file: str
    line: int
    object: str
    field: str
    message: str
    severity: str = "error"  # or "warning"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        head = " ".join(p for p in (self.location(), self.object, self.field) if p)
        return f"{head}: {self.message}" if head else self.message

    def to_dict(self) -> dict:
        return asdict(self)
