"""A DataTable of one resource kind, kept current from watch events in place.

Events are queued with `queue()` and applied at most once per frame by `flush()`
(driven by a 1/30 s interval): rows are keyed by uid and changed cells are written in
place, only their rows leaving DataTable's render caches and being repainted
(`_cells_written`), so a burst of events never clears and rebuilds the table. A row that
changes off screen keeps its cells until it is scrolled to or read (`_deferred`): a batch
of 100 changes draws the dozen rows shown, not 100 (unless a `/` filter, which looks into
cells, or a kind's own order is on). Added and removed rows are applied once per frame,
repainting only what moved (row_edits.py). Only a change of
namespace, filter or theme rebuilds (`rebuild()`; a big table's first screens at once, the
rest over the next frames: bulk_rows.py). New rows go to the end, except for a
kind with an `order` (events, newest first), whose rows are re-ordered in place after
each frame of changes, the cursor staying on its row.

Cell text carries a style of its own (`CELL`, invisible): under the cursor, DataTable
gives a cell's padding and its text one style, and Rich's SVG export (screenshots,
snapshots) would then write " web-1 " as one run starting with a no-break space, which a
viewer that trims it draws one cell left of the other rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

from kubedeck.engine.present import format as fmt
from kubedeck.engine.present.resources import SEARCHED, ResourceKind
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets import DataTable

from .bulk_rows import FIRST_ROWS, BulkRows
from .fast_cells import FastCells
from .row_edits import RowEdits

FRAME = 1 / 30  # seconds between applying batched watch events

Decorate = Callable[[dict, list[str]], list[str]]
CELL = Style(meta={"cell": True})


class ResourceTable(FastCells, RowEdits, BulkRows, DataTable):
    """Rows of one `ResourceKind`, filtered by namespace and a `/` filter."""

    DEFAULT_CSS = """
    ResourceTable {
        height: 1fr;
        background: $surface;
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 0;
    }
    ResourceTable > .datatable--header {
        background: $panel;
        color: $text-accent;
        text-style: bold;
    }
    """

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    def __init__(
        self,
        kind: ResourceKind,
        *,
        now: Callable[[], datetime] | None = None,
        decorate: Decorate | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(cursor_type="row", id=id)
        self.kind = kind
        self.now = now or (lambda: datetime.now(timezone.utc))
        self.decorate = decorate
        self.objects: dict[str, dict] = {}
        self.namespace: str | None = None
        self.filter_text = ""
        self._pending: dict[str, tuple[str, dict]] = {}
        self._rendered: dict[str, tuple[list[str], str]] = {}
        self._colors: dict[str, Style] = {}
        self._last_flush = 0.0
        self._dirty_rows: set[str] = set()
        self._stale: set[str] = set()  # rows refresh_rows marked, re-rendered once on screen
        self._deferred: set[str] = set()  # rows changed off screen, drawn when shown or read
        self._backlog: dict[str, None] = {}  # rows a rebuild has still to add, in order
        self._arriving: list[tuple[str, list[str], str]] = []  # new rows _render made, to add
        self._leaving: list[str] = []  # rows _render or a deletion let go, to remove

    def on_mount(self) -> None:
        self._setup_columns()
        self.set_interval(FRAME, self.flush)
        self.set_interval(10, self.refresh_rows)

    def _setup_columns(self) -> None:
        self.clear(columns=True)
        for header in self.kind.headers:
            self.add_column(Text(header, style=CELL), key=header)

    async def _on_idle(self, event: events.Idle) -> None:
        # DataTable measures new rows on idle but keeps rendering cells cached at the old
        # column widths until something else changes; drop the caches when widths move.
        before = [c.content_width for c in self.columns.values()]
        await super()._on_idle(event)
        if before != [c.content_width for c in self.columns.values()]:
            self._clear_caches()
            self.refresh()

    # -- feeding ---------------------------------------------------------------------------

    def set_kind(self, kind: ResourceKind, objects: list[dict]) -> None:
        self.kind = kind
        self.filter_text = ""
        self._pending.clear()
        self.objects = {_uid(o): o for o in objects}
        self._setup_columns()
        self.rebuild()

    def set_objects(self, objects: list[dict]) -> None:
        self._pending.clear()
        self.objects = {_uid(o): o for o in objects}
        self.rebuild()

    def queue(self, event_type: str, obj: dict) -> None:
        """Remember an event; the newest per object wins, applied on the next flush. The
        first event after a quiet frame is applied at once (a lone status change shows
        without waiting for the 1/30 s tick); a burst still coalesces per frame."""
        quiet = not self._pending and time.monotonic() - self._last_flush > FRAME
        self._pending[_uid(obj)] = (event_type, obj)
        if quiet:
            self.call_later(self.flush)

    def flush(self) -> int:
        """Apply queued events in place; returns how many were applied."""
        if self._backlog:
            self._add_backlog()
        if self._stale or self._deferred:
            self._refresh_visible()
        if not self._pending:
            return 0
        self._last_flush = time.monotonic()
        pending, self._pending = self._pending, {}
        shown = self._shown_rows()
        for uid, (event_type, obj) in pending.items():
            if event_type == "DELETED":
                self.objects.pop(uid, None)
                self._deferred.discard(uid)
                if self._rendered.pop(uid, None) is not None:
                    self._leaving.append(uid)
            else:
                self.objects[uid] = obj
                if shown is not None and uid in self._rendered and shown.get(uid) is None:
                    self._deferred.add(uid)  # off screen: its cells can wait
                else:
                    self._render(uid)
        self._apply_rows()
        if self.kind.order is not None:
            self._reorder()  # a new event, or a repeated one seen again, moves to the top
        return len(pending)

    def _shown_rows(self):
        """uid -> index of the rows on screen, or None when every changed row must be drawn
        now: a `/` filter (whether a row stays depends on its cells) or a kind with an
        `order` (rows move on and off screen after each frame)."""
        if self.filter_text.strip() or self.kind.order is not None:
            return None
        rows = self._on_screen()
        return None if rows is None else {uid: i for i, uid in rows}

    def _on_screen(self) -> list[tuple[int, str]] | None:
        """(index, uid) of the rows on screen; None where DataTable's internals are not
        the ones known here."""
        locations = getattr(self, "_row_locations", None)
        if locations is None:
            return None
        top = self.scroll_offset.y
        return [(i, key.value) for i in range(top, min(top + self.size.height, self.row_count))
                if (key := locations.get_key(i)) is not None]

    def _reorder(self) -> None:
        """Put the rows in the kind's order (DataTable.sort sees cell values only, not
        the objects, and keeps the cursor's index rather than its row)."""
        if not hasattr(self, "_data") or not hasattr(self, "_row_locations"):
            self.rebuild()
            return
        from textual._two_way_dict import TwoWayDict

        selected = self.selected_uid()
        order = self.kind.order
        keys = sorted(self._data, key=lambda key: order(self.objects.get(key.value) or {}))
        self._row_locations = TwoWayDict({key: i for i, key in enumerate(keys)})
        self._update_count += 1
        if selected is not None:
            self.cursor_coordinate = self.cursor_coordinate._replace(row=self.get_row_index(selected))
        self.refresh()

    # -- rendering -------------------------------------------------------------------------

    def _cells(self, obj: dict) -> tuple[list[str], str]:
        cells, health = self.kind.row(obj, self.now())
        if self.decorate is not None:
            cells = self.decorate(obj, cells)
        return cells, health

    def _styled(self, value: str, health: str) -> Text:
        return Text(value, style=self._colors.get(health, CELL), no_wrap=True)

    def _render(self, uid: str) -> None:
        if uid in self._backlog:
            return  # its row is added, from the object as it is then, by a later slice
        obj = self.objects[uid]
        cells, health = self._cells(obj)
        if not self.matches(obj, cells):
            if self._rendered.pop(uid, None) is not None:
                self._leaving.append(uid)
            return
        old = self._rendered.get(uid)
        if old is None:
            self._arriving.append((uid, cells, health))  # added by _apply_rows
            return
        if old != (cells, health):
            data = getattr(self, "_data", {}).get(uid)
            for header, value, before in zip(self.kind.headers, cells, old[0]):
                if value != before or health != old[1]:
                    # Only a cell wider than its column makes DataTable re-measure widths;
                    # anything else (shrinking, or growing within the column) must not, as
                    # a re-measure walks the whole column: too slow with a thousand pods.
                    column = self.columns.get(header)
                    grow = column is None or len(value) > column.content_width
                    if grow or data is None or header not in data:
                        self.update_cell(uid, header, self._styled(value, health), update_width=grow)
                    else:
                        # what update_cell does, less its refresh per cell (a batch of 100
                        # pods changes ~300 cells): _cells_written() repaints once
                        data[header] = self._styled(value, health)
                        self._dirty_rows.add(uid)
        self._rendered[uid] = (cells, health)

    def _apply_rows(self) -> None:
        """Remove the rows `_render` let go and add the new ones (at the end, as add_row
        does), each set at once, then repaint written cells (row_edits.py)."""
        leaving, self._leaving = self._leaving, []
        arriving, self._arriving = self._arriving, []
        self._remove_rows(leaving)
        self._add_rows(arriving)
        self._cells_written()

    def refresh_rows(self) -> None:
        """Re-render every row in place (ages, node totals, metrics); only changed cells
        move. The rows on screen go at once, the others when they come on screen (flush
        looks every frame). Re-rendering all of 5,000 pods in one go stalled a frame for
        ~0.5 s; by slices of 250 per frame, it kept the TUI busy for ~20 frames each time
        (twice every 10 s: ages and metrics), which is where updates waited."""
        self._stale = set(self.objects)
        self._refresh_visible()

    def _refresh_visible(self) -> None:
        """Re-render the rows on screen that refresh_rows marked or that changed while
        off screen."""
        rows = self._on_screen()
        if rows is None:  # not DataTable's internals as known here: all of them now
            shown = list(self._stale | self._deferred)
        else:
            shown = [uid for _, uid in rows if uid in self._stale or uid in self._deferred]
        for uid in shown:
            self._stale.discard(uid)
            self._deferred.discard(uid)
            if uid in self.objects:
                self._render(uid)
        self._apply_rows()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if (self._stale or self._deferred) and round(old) != round(new):
            self._refresh_visible()  # the rows scrolled to are drawn before they are painted

    def _draw_deferred(self, row_key) -> None:
        uid = getattr(row_key, "value", row_key)
        if uid in self._deferred:
            self._deferred.discard(uid)
            self._render(uid)
            self._cells_written()

    def get_row(self, row_key):
        self._draw_deferred(row_key)  # what is read is the newest object's cells
        return super().get_row(row_key)

    def get_cell(self, row_key, column_key):
        self._draw_deferred(row_key)
        return super().get_cell(row_key, column_key)

    def rebuild(self) -> None:
        """Clear and re-add the visible rows, sorted; for namespace/filter/theme changes."""
        self._load_colors()
        self._stale = set()
        self._deferred = set()
        selected = self.selected_uid()
        self.clear()
        self._rendered.clear()
        self._backlog = {}
        uids = self._sorted_by_metadata()
        if uids is not None:
            # only the first screens' cells now; the rest by slices from flush()
            cut = FIRST_ROWS + (uids.index(selected) if selected in uids else 0)  # the cursor's row too
            self._backlog = dict.fromkeys(uids[cut:])
            rows = [(uid, *self._cells(self.objects[uid])) for uid in uids[:cut]]
        else:
            rows = []
            for uid, obj in self.objects.items():
                cells, health = self._cells(obj)
                if self.matches(obj, cells):
                    rows.append((uid, cells, health))
            order = self.kind.order
            rows.sort(key=(lambda r: order(self.objects[r[0]])) if order else (lambda r: r[1][:2]))
        self._add_rows(rows)
        if selected in self._rendered:
            self.move_cursor(row=self.get_row_index(selected))

    def _load_colors(self) -> None:
        try:
            variables = self.app.get_css_variables()
        except Exception:  # not mounted yet
            variables = {}
        self._colors = {
            health: Style.parse(variables.get(f"pod-{health}") or "none") + CELL
            for health in ("running", "pending", "failed", "succeeded")
        }

    # -- filtering and selection -----------------------------------------------------------

    def matches(self, obj: dict, cells: list[str]) -> bool:
        meta = obj.get("metadata", {})
        if self.namespace and self.kind.namespaced and meta.get("namespace") != self.namespace:
            return False
        text = self.filter_text.strip()
        if not text:
            return True
        if text.startswith("-l"):
            return fmt.labels_match(meta.get("labels") or {}, text[2:].strip())
        needle = text.lower()
        if needle in meta.get("name", "").lower():
            return True
        headers = self.kind.headers
        return any(needle in cells[headers.index(h)].lower() for h in SEARCHED if h in headers)

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.rebuild()

    def set_namespace(self, namespace: str | None) -> None:
        self.namespace = namespace
        self.rebuild()

    def selected_uid(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:
            return None
        return key.value

    def selected_object(self) -> dict | None:
        uid = self.selected_uid()
        return self.objects.get(uid) if uid else None


def _uid(obj: dict) -> str:
    meta = obj.get("metadata", {})
    return meta.get("uid") or f"{meta.get('namespace', '')}/{meta.get('name', '')}"
