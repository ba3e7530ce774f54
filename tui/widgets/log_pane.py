"""The logs pane: a bounded ring buffer of lines from one pod, one or all of its containers.

The app tells the pane what to show with `show_pod()`; the pane owns the streaming worker
(one at a time, exclusive; with all containers, one task per container inside it, lines
prefixed `[container]`). Lines land in a `deque(maxlen=MAX_LINES)` (older lines dropped
are counted and shown in the title, never silently) and in a pending batch that a timer
writes to the `Log` widget at most 20 times a second, so a pod printing 10,000 lines/s
costs one write per frame, not one per line. The `Log` widget renders only visible lines.

Search highlights matches in place and `n`/`N` jump between them, keeping the lines
around (`&` narrows to matching lines). The buffer is re-shaped (wrap, pretty JSON,
narrowing) only when one of those settings changes.

`v` selects lines from the keyboard and `y` copies them (`SelectableLog`); `o` shows the
buffer in `$PAGER` with the TUI suspended, where the terminal's own mouse selection works.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections import deque
from collections.abc import Callable
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from ..logtext import (
    SINCE_KEYS, TAILS, SearchHighlighter, matching_lines, next_match, pretty_json, save_lines,
    since_label,
)
from ..pager import page_lines
from .log_select import SelectableLog

MAX_LINES = 10_000
FLUSH_INTERVAL = 1 / 20


class LogPane(Vertical, can_focus=False):
    """Shows and follows the logs of the selected pod."""

    DEFAULT_CSS = """
    LogPane { height: 1fr; }
    LogPane > #log-title { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    LogPane > SelectableLog { height: 1fr; background: $surface; scrollbar-size-vertical: 1; }
    """

    # `/` and `escape` first: the footer then says, before anything else, what `/` does
    # here and how to get back to the table.
    BINDINGS = [
        Binding("slash", "search", "Search logs"),
        Binding("escape", "leave", "Back to table"),
        Binding("F", "toggle_follow", "Follow"),
        Binding("T", "toggle_timestamps", "Timestamps"),
        Binding("w", "toggle_wrap", "Wrap"),
        Binding("p", "toggle_previous", "Previous"),
        Binding("c", "pick_container", "Container"),
        Binding("a", "toggle_all_containers", "All containers"),
        Binding("n", "jump(True)", "Next match"),
        Binding("N", "jump(False)", "Prev match"),
        Binding("ampersand", "toggle_only_matches", "Only matches", show=False),
        Binding("J", "toggle_json", "JSON"),
        Binding("1", "since('1')", "1m", show=False),
        Binding("2", "since('2')", "5m", show=False),
        Binding("3", "since('3')", "15m", show=False),
        Binding("4", "since('4')", "1h", show=False),
        Binding("0", "cycle_tail", "Tail", show=False),
        Binding("S", "save", "Save"),
        Binding("o", "pager", "Pager"),
    ]

    class ContainerPickRequested(Message):
        def __init__(self, containers: list[str]) -> None:
            super().__init__()
            self.containers = containers

    class SearchRequested(Message):
        pass

    class Leave(Message):
        """`escape`: the user is done with the logs; the app focuses the table."""

    def __init__(self, *, source: Callable | None = None, save_dir: Path | None = None,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.source = source  # async line iterator factory: ApiClient.logs
        self.save_dir = save_dir
        self.lines: deque[str] = deque(maxlen=MAX_LINES)
        self.dropped = 0
        self.follow = True
        self.timestamps = False
        self.wrap = False
        self.previous = False
        self.all_containers = False
        self.pretty = False
        self.only_matches = False
        self.since: int | None = None
        self.tail: int | None = TAILS[0]
        self.search = ""
        self.match_line: int | None = None
        self.pod: tuple[str, str] | None = None
        self.containers: list[str] = []
        self.container: str | None = None
        self._pending: list[str] = []
        self._highlighter = SearchHighlighter()
        # Kept, not queried: a timer may still feed the pane while the app shuts down.
        self._log = SelectableLog(max_lines=MAX_LINES, auto_scroll=True, highlight=True, id="log")
        self._log.highlighter = self._highlighter
        self._title_widget = Static("Logs: select a pod", id="log-title", markup=False)

    def compose(self) -> ComposeResult:
        yield self._title_widget
        yield self._log

    def on_mount(self) -> None:
        self.set_interval(FLUSH_INTERVAL, self.flush)

    @property
    def log_widget(self) -> SelectableLog:
        return self._log

    # -- title -------------------------------------------------------------------------------

    def _title(self) -> str:
        if self.pod is None:
            return "Logs: select a pod"
        flags = [
            f"follow:{'on' if self.follow else 'off'}",
            f"ts:{'on' if self.timestamps else 'off'}",
            f"wrap:{'on' if self.wrap else 'off'}",
            f"since:{since_label(self.since)}" if self.since else f"tail:{self.tail or 'all'}",
        ]
        for flag, on in (("previous", self.previous), ("json", self.pretty)):
            if on:
                flags.append(flag)
        if self.search:
            matches = self.matches()
            where = f" {matches.index(self.match_line) + 1}/{len(matches)}" if self.match_line in matches else f" {len(matches)}"
            flags.append(f"search:{self.search}{where}{' only' if self.only_matches else ''}")
        if self.dropped:
            flags.append(f"dropped:{self.dropped}")
        if self._log.selecting:
            flags.append(f"select:{len(self._log.selected_lines())} (y copy, esc leave)")
        ns, name = self.pod
        which = "all" if self.all_containers and len(self.containers) > 1 else (self.container or "-")
        return f"Logs {ns}/{name} [{which}]  " + " ".join(flags)

    def _update_title(self) -> None:
        self._title_widget.update(self._title())

    # -- what to stream ----------------------------------------------------------------------

    def show_pod(self, namespace: str, name: str, containers: list[str]) -> None:
        """Follow another pod (no-op when it is the one already shown)."""
        if self.pod == (namespace, name) and self.containers == containers:
            return
        self.pod = (namespace, name)
        self.containers = containers
        if self.container not in containers:
            self.container = containers[0] if containers else None
        self.restart()

    def set_container(self, container: str) -> None:
        self.container = container
        self.all_containers = False
        self.restart()

    def clear_pod(self) -> None:
        self.pod = None
        self.workers.cancel_group(self, "logs")
        self._clear()
        self._update_title()

    def _clear(self) -> None:
        self.lines.clear()
        self._pending.clear()
        self.dropped = 0
        self.match_line = None
        self._log.clear()

    def restart(self) -> None:
        self._clear()
        self._update_title()
        if self.pod is not None and self.source is not None and self.is_attached:
            many = self.all_containers and len(self.containers) > 1
            self._stream(self.pod, list(self.containers) if many else [self.container])

    @work(exclusive=True, group="logs", exit_on_error=False)
    async def _stream(self, pod: tuple[str, str], containers: list[str | None]) -> None:
        if len(containers) == 1:
            await self._follow(pod, containers[0], "")
            return
        width = max(len(c or "") for c in containers)
        await asyncio.gather(*(self._follow(pod, c, f"[{c:<{width}}] ") for c in containers))

    async def _follow(self, pod: tuple[str, str], container: str | None, prefix: str) -> None:
        """Stream one container; while following, an error (say the container is still
        being created) is shown once and retried every second until it works."""
        namespace, name = pod
        said = None
        while True:
            try:
                async for line in self.source(
                    namespace, name, container, follow=not self.previous,
                    tail=None if self.since else self.tail, timestamps=self.timestamps,
                    previous=self.previous, since_seconds=self.since,
                ):
                    self.add_line(prefix + line)
                return
            except Exception as exc:  # shown in the pane, never a traceback
                if str(exc) != said:
                    self.add_line(f"{prefix}[kubedeck] logs unavailable: {exc}")
                    said = str(exc)
                if self.previous:
                    return
            await asyncio.sleep(1.0)

    # -- buffer and rendering ------------------------------------------------------------------

    def add_line(self, line: str) -> None:
        if len(self.lines) == MAX_LINES:
            self.dropped += 1
        self.lines.append(line)
        self._pending.append(line)

    def flush(self) -> int:
        """Write the lines received since the last frame; returns how many."""
        if not self._pending:
            return 0
        pending, self._pending = self._pending, []
        out: list[str] = []
        for line in pending[-MAX_LINES:]:  # a burst larger than the buffer: only its tail shows
            out.extend(self._shape(line))
        if out:
            self._log.write_lines(out)
        if self.search or self.dropped:
            self._update_title()
        return len(pending)

    def _shape(self, line: str) -> list[str]:
        if self.only_matches and self.search and self.search.lower() not in line.lower():
            return []
        shaped = (pretty_json(line) if self.pretty else None) or [line]
        width = max(20, self._log.size.width - 2)
        if not self.wrap:
            return shaped
        out: list[str] = []
        for part in shaped:
            out.extend(textwrap.wrap(part, width, replace_whitespace=False, drop_whitespace=False) or [""]
                       if len(part) > width else [part])
        return out

    def rerender(self) -> None:
        self._pending.clear()
        self._log.clear()
        out: list[str] = []
        for line in self.lines:
            out.extend(self._shape(line))
        self._log.write_lines(out)
        self.match_line = None
        self._update_title()

    def on_resize(self) -> None:
        if self.wrap:
            self.call_after_refresh(self.rerender)

    # -- search --------------------------------------------------------------------------------

    def matches(self) -> list[int]:
        return matching_lines(self._log.lines, self.search)

    def set_search(self, text: str) -> None:
        self.search = text
        self._highlighter.set(text)
        self.rerender()
        if text and not self.only_matches:
            self.action_jump(False)  # the newest match, as a pager searching backwards

    def action_jump(self, forward: bool) -> None:
        if not self.search:
            self.notify("search first with /")
            return
        line = next_match(self.matches(), self.match_line, forward)
        if line is None:
            self.notify(f"no match for {self.search!r}", severity="warning")
            return
        self.match_line = line
        if self.follow:
            self.action_toggle_follow()
        context = max(0, line - self._log.size.height // 3)  # keep lines before it in view
        self._log.scroll_to(y=context, animate=False)
        self._update_title()

    def action_search(self) -> None:
        self.post_message(self.SearchRequested())

    def action_leave(self) -> None:
        self.post_message(self.Leave())

    def action_toggle_only_matches(self) -> None:
        self.only_matches = not self.only_matches
        self.rerender()

    # -- select, copy, pager ---------------------------------------------------------------------

    def on_selectable_log_selection_changed(self, event: SelectableLog.SelectionChanged) -> None:
        event.stop()
        if self._log.selecting and self.follow:
            self.action_toggle_follow()  # new lines must not scroll the selection away
        self._update_title()

    def action_pager(self) -> None:
        lines = list(self._log.lines)
        if not lines:
            self.notify("no log lines to show", severity="warning")
            return
        try:
            with self.app.suspend():
                page_lines(lines)
        except Exception as exc:  # e.g. suspend unsupported (headless, web)
            self.notify(f"pager: {exc}", severity="error")

    # -- toggles -------------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self._log.auto_scroll = self.follow
        if self.follow:
            self._log.scroll_end(animate=False)
        self._update_title()

    def action_toggle_timestamps(self) -> None:
        self.timestamps = not self.timestamps
        self.restart()

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self.rerender()

    def action_toggle_json(self) -> None:
        self.pretty = not self.pretty
        self.rerender()

    def action_toggle_previous(self) -> None:
        self.previous = not self.previous
        self.restart()

    def action_toggle_all_containers(self) -> None:
        if len(self.containers) < 2:
            self.notify("this pod has a single container")
            return
        self.all_containers = not self.all_containers
        self.restart()

    def action_since(self, key: str) -> None:
        seconds = SINCE_KEYS[key]
        self.since = None if self.since == seconds else seconds
        self.restart()

    def action_cycle_tail(self) -> None:
        if self.since is None:
            self.tail = TAILS[(TAILS.index(self.tail) + 1) % len(TAILS)]
        self.since = None
        self.restart()

    def action_pick_container(self) -> None:
        if len(self.containers) > 1:
            self.post_message(self.ContainerPickRequested(self.containers))
        else:
            self.notify("this pod has a single container")

    def action_save(self) -> None:
        if self.pod is None:
            return
        ns, name = self.pod
        which = "all" if self.all_containers else (self.container or "")
        try:
            path = save_lines(list(self.lines), self.save_dir or Path.cwd(), f"{ns}_{name}_{which}")
        except OSError as exc:
            self.notify(f"cannot save logs: {exc}", severity="error")
            return
        self.notify(f"saved {len(self.lines)} lines to {path}")
