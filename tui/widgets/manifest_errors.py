"""The manifest-error area above the prompt: the first three errors of the watched folder.

Each reads as `kubedeck validate` prints it (`error_text`); a longer list ends with how
many more there are, and the line tells that `E` opens one in `$EDITOR`. With no errors
the area takes no room (`display` off), so the panes above keep the screen.
"""

from __future__ import annotations

from textual.widgets import Static

SHOWN = 3


def error_text(error: dict) -> str:
    """`file:line Kind/name field: message`, like `kubedeck validate` prints it."""
    where = str(error.get("file") or "?")
    if error.get("line"):
        where += f":{error['line']}"
    head = " ".join(str(p) for p in (where, error.get("object"), error.get("field")) if p)
    prefix = "warning: " if error.get("severity") == "warning" else ""
    return f"{prefix}{head}: {error.get('message', '')}"


class ManifestErrors(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self._text = ""

    def show(self, errors: list[dict]) -> None:
        lines = [error_text(err) for err in errors[:SHOWN]]
        more = len(errors) - SHOWN
        if more > 0:
            lines.append(f"... and {more} more (E to open one)")
        elif lines:
            lines[-1] += "   (E to open)"
        text = "\n".join(lines)
        if text != self._text:  # each status poll calls this: an update lays out and paints again
            self._text = text
            self.update(text)
        self.display = bool(lines)
