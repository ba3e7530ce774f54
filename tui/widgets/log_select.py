"""The `Log` widget of the logs pane, with a keyboard line-selection mode.

`v` starts selecting at a visible cursor line; j/k, arrows, PgUp/PgDn, g/G (home/end)
move the cursor and extend the selection from where it started (highlighted); `y` copies
the selected lines to the clipboard (Textual's `App.copy_to_clipboard`, an OSC 52 escape
the terminal turns into a clipboard write) and leaves; `v` again or `escape` leaves.

The mode never captures the mouse beyond what the TUI already does, so it does not fight
the terminal's own selection; for that, the pane's `o` shows the whole buffer in `$PAGER`
with the TUI suspended (see `tui/pager.py`).

Selection keys are bound here, on the focused widget, so they win over the scroll keys of
`Log` and the app's `y` (YAML) / `escape` while selecting; outside the mode
`check_action` turns them off and the keys fall through to those bindings as before.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Log

#: Actions that only act (and only show in the footer) while selecting.
SELECTING_ONLY = frozenset({"select_move", "select_edge", "copy_selection", "leave_select"})


class SelectableLog(Log):
    """A `Log` whose lines can be selected and copied from the keyboard."""

    COMPONENT_CLASSES = {"log--selected", "log--cursor"}

    DEFAULT_CSS = """
    SelectableLog > .log--selected { background: $accent 40%; }
    SelectableLog > .log--cursor { background: $accent; color: $text; text-style: bold; }
    """

    BINDINGS = [
        Binding("v", "toggle_select", "Select"),
        Binding("y", "copy_selection", "Copy"),
        Binding("escape", "leave_select", "Leave select"),
        Binding("j,down", "select_move(1)", "Down", show=False),
        Binding("k,up", "select_move(-1)", "Up", show=False),
        Binding("pagedown", "select_move(0, 1)", "Page down", show=False),
        Binding("pageup", "select_move(0, -1)", "Page up", show=False),
        Binding("g,home", "select_edge(False)", "First", show=False),
        Binding("G,end", "select_edge(True)", "Last", show=False),
    ]

    class SelectionChanged(Message):
        """Posted when the mode starts or ends, or the selection grows or shrinks."""

        def __init__(self, log: SelectableLog) -> None:
            super().__init__()
            self.log = log

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.anchor: int | None = None  # where the selection started; None: not selecting
        self.cursor = 0

    # -- state -------------------------------------------------------------------------------

    @property
    def selecting(self) -> bool:
        return self.anchor is not None

    def selected_range(self) -> tuple[int, int] | None:
        """First and last selected line (inclusive), or None when not selecting."""
        if self.anchor is None:
            return None
        return min(self.anchor, self.cursor), max(self.anchor, self.cursor)

    def selected_lines(self) -> list[str]:
        span = self.selected_range()
        if span is None:
            return []
        return list(self.lines[span[0]:span[1] + 1])

    def start_select(self, line: int | None = None) -> bool:
        """Enter the mode with the cursor (and the selection) on `line`, by default the
        last line on screen; False when there is nothing to select."""
        if not self.lines:
            return False
        if line is None:
            line = int(self.scroll_offset.y) + max(1, self.scrollable_content_region.height) - 1
        self.cursor = self.anchor = max(0, min(line, len(self.lines) - 1))
        self._selection_changed()
        return True

    def leave_select(self) -> None:
        if self.anchor is not None:
            self.anchor = None
            self._selection_changed()

    def _selection_changed(self) -> None:
        self._render_line_cache.clear()
        self.refresh()
        self.refresh_bindings()
        self.post_message(self.SelectionChanged(self))

    # -- actions -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in SELECTING_ONLY:
            return self.selecting
        return True

    def action_toggle_select(self) -> None:
        if self.selecting:
            self.leave_select()
        elif not self.start_select():
            self.notify("no log lines to select", severity="warning")

    def action_leave_select(self) -> None:
        self.leave_select()

    def action_select_move(self, lines: int, pages: int = 0) -> None:
        step = lines + pages * max(1, self.scrollable_content_region.height - 1)
        self._move_to(self.cursor + step)

    def action_select_edge(self, last: bool) -> None:
        self._move_to(len(self.lines) - 1 if last else 0)

    def action_copy_selection(self) -> None:
        lines = self.selected_lines()
        self.app.copy_to_clipboard("\n".join(lines) + "\n")
        self.leave_select()
        self.notify(f"copied {len(lines)} line{'s' if len(lines) != 1 else ''} to the clipboard")

    def _move_to(self, line: int) -> None:
        self.cursor = max(0, min(line, len(self.lines) - 1))
        top = int(self.scroll_offset.y)
        height = max(1, self.scrollable_content_region.height)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)
        self._selection_changed()

    # -- the buffer moving under the selection ---------------------------------------------------

    def _prune_max_lines(self) -> None:
        removed = len(self._lines) - self.max_lines if self.max_lines is not None else 0
        super()._prune_max_lines()
        if removed > 0 and self.anchor is not None:
            # the oldest lines left the ring buffer: the selection keeps pointing at the
            # same text; once that text itself has gone, it shrinks to the first line
            self.anchor = max(0, self.anchor - removed)
            self.cursor = max(0, self.cursor - removed)
            self._selection_changed()

    def clear(self):
        self.leave_select()
        return super().clear()

    # -- rendering -------------------------------------------------------------------------------

    def _render_line(self, y: int, scroll_x: int, width: int) -> Strip:
        strip = super()._render_line(y, scroll_x, width)
        span = self.selected_range()
        if span is None or not span[0] <= y <= span[1]:
            return strip
        component = "log--cursor" if y == self.cursor else "log--selected"
        style = self.get_component_rich_style(component, partial=True)
        return Strip(list(Segment.apply_style(strip, post_style=style)), strip.cell_length)
