"""`o` in the logs pane: the buffer in `$PAGER`, with the TUI suspended.

While the pager runs the terminal belongs to it, so the terminal's own mouse selection
(and its copy) works as anywhere else; quitting the pager returns to the TUI. Without a
pager the lines are printed and the TUI comes back on Enter.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable

#: Used when $PAGER is unset: colours kept, starting at the newest line.
DEFAULT_PAGER = ("less", "-R", "+G")


def pager_command(environ: dict[str, str] | None = None) -> list[str] | None:
    """The pager to run (`$PAGER`, else `less -R +G`), or None when it is not installed."""
    env = os.environ if environ is None else environ
    raw = env.get("PAGER", "").strip()
    try:
        command = shlex.split(raw) if raw else list(DEFAULT_PAGER)
    except ValueError:
        command = list(DEFAULT_PAGER)
    if not command or shutil.which(command[0]) is None:
        return None
    return command


def page_lines(
    lines: Iterable[str],
    *,
    environ: dict[str, str] | None = None,
    out=None,
    wait: Callable[[str], object] = input,
) -> int:
    """Show `lines` in the pager (blocking; the caller has suspended the TUI).
    Returns the pager's exit code, or 0 after the plain-print fallback."""
    text = "".join(line + "\n" for line in lines)
    command = pager_command(environ)
    if command is not None:
        try:
            return subprocess.run(command, input=text, text=True, check=False).returncode
        except OSError:
            pass  # fall back to printing
    stream = out or sys.stdout
    stream.write(text)
    stream.flush()
    try:
        wait("-- end of the logs: press Enter to return to kubedeck --")
    except EOFError:
        pass
    return 0
