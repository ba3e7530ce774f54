"""Changing a DataTable's rows in place, repainting only what moved.

DataTable keys every render cache (cells, rows, lines, row offsets) by an update count
that add_row, remove_row and update_cell each bump, and asks the screen for a layout
when the virtual size changes: each watch event that added or removed a pod re-rendered
every visible cell, re-measured the new rows through Rich and laid out the whole screen
(~100 ms of a churn batch at 1,000 pods). Here:

- written cells (`_cells_written`): only their rows leave the caches, only their lines
  are repainted;
- rows added at the end or removed (`_rows_moved(low)`): when row `low` is below the
  screen nothing visible moved, so only the cache entries of rows from `low` on go and
  the update count stays; when it is on or above the screen everything shown may have
  moved, and the update count is bumped (one full repaint of the table, no layout);
- `ordered_rows` and `_y_offsets` (lists DataTable rebuilds after each change) are
  views of the row order, as every row is one line high;
- `_update_dimensions` sets the new virtual size without a screen layout when the
  table's own size does not depend on its rows (a fixed or fractional height): the
  scrollbar is updated in place.

Falls back to DataTable's own calls where its internals are not the ones known here
(textual 8). Used by ResourceTable and BulkRows.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.geometry import Region, Size
from textual.widget import Widget
from textual.widgets.data_table import CellKey, RowDoesNotExist


class _InOrder(Sequence):
    """The rows at `indexes` (a range), looked up when asked for, of rows one line high
    (`ResourceTable`'s all are): `pick(key)` of the row key at each index. A slice is
    another view, so DataTable's loops over a slice that stop after a page stay short."""

    def __init__(self, locations, indexes: range, pick) -> None:
        self._locations, self._indexes, self._pick = locations, indexes, pick

    def __len__(self) -> int:
        return len(self._indexes)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return _InOrder(self._locations, self._indexes[i], self._pick)
        return self._pick(self._locations.get_key(self._indexes[i]))  # IndexError past the end

    def clear(self) -> None:
        """DataTable.clear() empties its own list; a view holds nothing to empty."""


class RowEdits:
    # DataTable lists every row in order (ordered_rows) and every line (_y_offsets)
    # afresh after each change of the update count or the row count: O(rows) twice per
    # added or removed row batch, ~10 ms at 5,000 pods. With every row one line high, the
    # row at a line is the row at that index: both are views looked up on demand.
    @property
    def ordered_rows(self):
        return _InOrder(self._row_locations, range(len(self.rows)), self.rows.__getitem__)

    @property
    def _y_offsets(self):
        return _InOrder(self._row_locations, range(len(self.rows)), lambda key: (key, 0))

    def _header_lines(self) -> int:
        return self.header_height if self.show_header else 0

    def _cells_written(self) -> None:
        """Repaint the rows whose cells were written straight into DataTable's data."""
        rows, self._dirty_rows = self._dirty_rows, set()
        if not rows:
            return
        try:
            by_row = (self._cell_render_cache, self._row_render_cache)  # keys start with the row key
            renderables, lines = self._row_renderable_cache, self._line_cache
            locations = self._row_locations
        except AttributeError:
            self._update_count += 1
            self.refresh()
            return
        header = self._header_lines()
        indexes = {i for i in (locations.get(uid) for uid in rows) if i is not None}
        for cache in by_row:
            for key in [k for k in cache.keys() if k[0] in rows]:
                cache.discard(key)
        for key in [k for k in renderables.keys() if k[1] in indexes]:  # (update count, row index)
            renderables.discard(key)
        ys = {i + header for i in indexes}  # rows are one line high; the line cache is keyed by y
        for key in [k for k in lines.keys() if k[0] in ys]:
            lines.discard(key)
        top, height, width = self.scroll_offset.y, self.size.height, self.size.width
        for i in indexes:
            y = i + header - top
            if header <= y < height:
                self.refresh(Region(0, y, width, 1))

    def _rows_moved(self, low: int) -> None:
        """Rows from index `low` on were added, removed or moved: forget what was drawn
        for them; bump the update count only if that shows (see the module docstring)."""
        self._require_update_dimensions = True
        self.check_idle()
        header = self._header_lines()
        if low + header < self.scroll_offset.y + self.size.height or not hasattr(self, "_line_cache"):
            self._update_count += 1
            self.refresh()
            return
        locations = self._row_locations

        def moved(row_key) -> bool:
            index = locations.get(row_key)
            return index is None or index >= low

        for cache in (self._cell_render_cache, self._row_render_cache):
            for key in [k for k in cache.keys() if moved(k[0])]:
                cache.discard(key)
        for key in [k for k in self._row_renderable_cache.keys() if k[1] >= low]:
            self._row_renderable_cache.discard(key)
        for key in [k for k in self._line_cache.keys() if k[0] >= low + header]:
            self._line_cache.discard(key)

    def _remove_rows(self, uids: list[str]) -> None:
        """remove_row for many rows at once: the rows after the first removed one are
        re-indexed once (DataTable.remove_row re-indexes every row, per call) and the
        cursor stays on the row it was on (DataTable keeps the index instead)."""
        locations = getattr(self, "_row_locations", None)
        if not uids:
            return
        if locations is None or not hasattr(self, "_data"):
            for uid in uids:
                try:
                    self.remove_row(uid)
                except RowDoesNotExist:
                    pass
            return
        selected = self.selected_uid()
        indexes = [i for i in (locations.get(uid) for uid in uids) if i is not None]
        if not indexes:
            return
        low, count = min(indexes), len(locations)
        tail = [locations.get_key(i) for i in range(low, count)]
        wanted = set(uids)
        for key in tail:
            if key in wanted:
                del locations[key]
                for column_key in self._data.get(key) or {}:
                    self._updated_cells.discard(CellKey(key, column_key))
                del self.rows[key]
                del self._data[key]
        # survivors move up in order; each one's old index is still its own when reached
        for i, key in enumerate((k for k in tail if k not in wanted), low):
            del locations[key]
            locations[key] = i
        row = locations.get(selected) if selected and selected not in wanted else None
        if row is not None:
            self.cursor_coordinate = self.cursor_coordinate._replace(row=row)
        else:
            self.cursor_coordinate = self.cursor_coordinate  # clamped to the rows left
        self.hover_coordinate = self.hover_coordinate
        self._rows_moved(low)

    def _update_dimensions(self, new_rows) -> None:
        height = self.styles.height
        if new_rows or height is None or height.is_auto:
            return super()._update_dimensions(new_rows)  # type: ignore[misc]
        width = sum(column.get_render_width(self) for column in self.columns.values())
        size = Size(width + self._row_label_column_width, self._total_row_height + self._header_lines())
        if size != self.virtual_size:
            # what Widget._size_updated does when a layout is not wanted
            self.set_reactive(Widget.virtual_size, size)
            self._scroll_update(size)
