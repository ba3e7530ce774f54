"""Pure helpers for the logs pane: search highlighting, pretty JSON, windows, saving.

No widgets here; `LogPane` uses them and they are unit-tested on their own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from rich.highlighter import Highlighter
from rich.text import Text

#: Keys 1-4 in the logs pane: a time window, sent as the API's `sinceSeconds`.
SINCE_KEYS = {"1": 60, "2": 300, "3": 900, "4": 3600}
#: Key 0 cycles the number of lines fetched first (None: everything the runtime kept).
TAILS = (500, 2000, 100, None)


def since_label(seconds: int | None) -> str:
    if not seconds:
        return ""
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m"


class SearchHighlighter(Highlighter):
    """Highlights every case-insensitive occurrence of the search text."""

    def __init__(self, needle: str = "", style: str = "bold reverse") -> None:
        self.style = style
        self.pattern: re.Pattern | None = None
        self.set(needle)

    def set(self, needle: str) -> None:
        self.pattern = re.compile(re.escape(needle), re.IGNORECASE) if needle else None

    def highlight(self, text: Text) -> None:
        if self.pattern is not None:
            text.highlight_regex(self.pattern, self.style)


def matching_lines(lines: Iterable[str], needle: str) -> list[int]:
    """Indexes of the lines containing `needle` (case-insensitive)."""
    if not needle:
        return []
    low = needle.lower()
    return [i for i, line in enumerate(lines) if low in line.lower()]


def next_match(matches: list[int], current: int | None, forward: bool) -> int | None:
    """The match after (or before) line `current`, wrapping around."""
    if not matches:
        return None
    if current is None:
        return matches[0] if forward else matches[-1]
    if forward:
        return next((m for m in matches if m > current), matches[0])
    return next((m for m in reversed(matches) if m < current), matches[-1])


def pretty_json(line: str) -> list[str] | None:
    """A line holding a JSON object (after any prefix such as a timestamp or `[container]`)
    as indented lines, the prefix kept on the first; None when it is not JSON."""
    start = line.find("{")
    if start < 0 or not line.rstrip().endswith("}"):
        return None
    try:
        data = json.loads(line[start:])
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    body = json.dumps(data, indent=2, ensure_ascii=False).splitlines()
    body[0] = line[:start] + body[0]
    return body


def save_lines(lines: Iterable[str], directory: Path, stem: str, now: datetime | None = None) -> Path:
    """Write the buffer to `<directory>/<stem>-YYYYmmdd-HHMMSS.log`; returns the path."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{safe}-{stamp}.log"
    with path.open("w") as fh:
        for line in lines:
            fh.write(line + "\n")
    return path
