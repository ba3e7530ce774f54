"""The logs pane: a bounded ring buffer of lines from one pod's container.

The app tells the pane what to show with `show_pod()`; the pane owns the streaming worker
(one at a time, exclusive). Lines land in a `deque(maxlen=...)`; the `Log` widget shows
them, re-rendered only when wrap or search change. Follow (auto-scroll), timestamps, wrap,
previous and search are toggled with keys while the pane has focus.
"""

from __future__ import annotations

import asyncio

import textwrap
from collections import deque
from collections.abc import Callable

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Log, Static

MAX_LINES = 10_000


class LogPane(Vertical, can_focus=False):
    """Shows and follows the logs of the selected pod."""

    DEFAULT_CSS = """
    LogPane { height: 1fr; }
    LogPane > #log-title { height: 1; background: $panel; color: $text-muted; }
    LogPane > Log { height: 1fr; background: $surface; scrollbar-size-vertical: 1; }
    """

    BINDINGS = [
        Binding("F", "toggle_follow", "Follow"),
        Binding("T", "toggle_timestamps", "Timestamps"),
        Binding("w", "toggle_wrap", "Wrap"),
        Binding("p", "toggle_previous", "Previous"),
        Binding("c", "pick_container", "Container"),
        Binding("slash", "search", "Search"),
    ]

    class ContainerPickRequested(Message):
        def __init__(self, containers: list[str]) -> None:
            super().__init__()
            self.containers = containers

    class SearchRequested(Message):
        pass

    def __init__(self, *, source: Callable | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.source = source  # async line iterator factory: ApiClient.logs
        self.lines: deque[str] = deque(maxlen=MAX_LINES)
        self.follow = True
        self.timestamps = False
        self.wrap = False
        self.previous = False
        self.search = ""
        self.pod: tuple[str, str] | None = None
        self.containers: list[str] = []
        self.container: str | None = None
        # Kept, not queried: a timer may still feed the pane while the app shuts down.
        self._log = Log(max_lines=MAX_LINES, auto_scroll=True, id="log")
        self._title_widget = Static("Logs: select a pod", id="log-title")

    def compose(self) -> ComposeResult:
        yield self._title_widget
        yield self._log

    @property
    def log_widget(self) -> Log:
        return self._log

    def _title(self) -> str:
        if self.pod is None:
            return "Logs: select a pod"
        flags = [
            f"follow:{'on' if self.follow else 'off'}",
            f"ts:{'on' if self.timestamps else 'off'}",
            f"wrap:{'on' if self.wrap else 'off'}",
        ]
        if self.previous:
            flags.append("previous")
        if self.search:
            flags.append(f"search:{self.search}")
        ns, name = self.pod
        return f"Logs {ns}/{name} [{self.container or '-'}]  " + " ".join(flags)

    def _update_title(self) -> None:
        self._title_widget.update(self._title())

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
        self.restart()

    def clear_pod(self) -> None:
        self.pod = None
        self.workers.cancel_group(self, "logs")
        self.lines.clear()
        self.log_widget.clear()
        self._update_title()

    def restart(self) -> None:
        self.lines.clear()
        self.log_widget.clear()
        self._update_title()
        if self.pod is not None and self.source is not None and self.is_attached:
            self._stream(self.pod, self.container)

    @work(exclusive=True, group="logs", exit_on_error=False)
    async def _stream(self, pod: tuple[str, str], container: str | None) -> None:
        """Stream the logs; while following, an error (say the container is still
        being created) is shown once and retried every second until it works."""
        namespace, name = pod
        said = None
        while True:
            try:
                async for line in self.source(
                    namespace,
                    name,
                    container,
                    follow=not self.previous,
                    tail=500,
                    timestamps=self.timestamps,
                    previous=self.previous,
                ):
                    self.add_line(line)
                return
            except Exception as exc:  # shown in the pane, never a traceback
                if str(exc) != said:
                    self.add_line(f"[kubedeck] logs unavailable: {exc}")
                    said = str(exc)
                if self.previous:
                    return
            await asyncio.sleep(1.0)

    def add_line(self, line: str) -> None:
        self.lines.append(line)
        if self.search and self.search.lower() not in line.lower():
            return
        self.log_widget.write_lines(self._shape(line))

    def _shape(self, line: str) -> list[str]:
        width = max(20, self.log_widget.size.width - 2)
        if self.wrap and len(line) > width:
            return textwrap.wrap(line, width, replace_whitespace=False) or [""]
        return [line]

    def rerender(self) -> None:
        log = self.log_widget
        log.clear()
        needle = self.search.lower()
        out: list[str] = []
        for line in self.lines:
            if not needle or needle in line.lower():
                out.extend(self._shape(line))
        log.write_lines(out)
        self._update_title()

    def on_resize(self) -> None:
        if self.wrap:
            self.call_after_refresh(self.rerender)

    def set_search(self, text: str) -> None:
        self.search = text
        self.rerender()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.log_widget.auto_scroll = self.follow
        if self.follow:
            self.log_widget.scroll_end(animate=False)
        self._update_title()

    def action_toggle_timestamps(self) -> None:
        self.timestamps = not self.timestamps
        self.restart()

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self.rerender()

    def action_toggle_previous(self) -> None:
        self.previous = not self.previous
        self.restart()

    def action_pick_container(self) -> None:
        if len(self.containers) > 1:
            self.post_message(self.ContainerPickRequested(self.containers))
        else:
            self.notify("this pod has a single container")

    def action_search(self) -> None:
        self.post_message(self.SearchRequested())
