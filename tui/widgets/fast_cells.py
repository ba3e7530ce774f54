"""Drawing a table's cells and rows directly, for the one shape ResourceTable's cells take.

DataTable draws every cell through Rich: `Styled(Padding(text))` rendered by the
console, which splits, crops and pads the line twice and combines styles segment by
segment (~0.2 ms a cell here; a repainted row of 10 cells ~2 ms, most of a batch's
repaint). ResourceTable's cells are all one-line `Text`s with one style of their own and
no spans, in rows one line high, so the result is known in advance: the cell padding and
the text's trailing fill take the row style (with the cell's `row`/`column` meta and the
cursor/hover component style) and the post style; the text takes the same with its own
style between. `FastCells._render_cell` builds exactly those segments and stores them
under DataTable's own cache key; any other cell (header, row labels, fixed cells, markup,
spans, tabs, taller rows) goes through DataTable. tests/unit/test_tui_fast_cells.py
compares the two segment by segment, so a Textual or Rich change that moves the output
shows up there. A row of such cells (`_render_line_in_row`) is drawn the same way,
leaving out the styles DataTable works out for every row and only uses for row labels,
fixed columns or a cell cursor, and `render_line` reuses the widget's style for a whole
paint instead of working it out again line by line.
"""

from __future__ import annotations

from functools import lru_cache

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text


def _plain(value: object) -> str | None:
    """The text of a cell this module can draw, else None."""
    if type(value) is not Text or value._spans or value.justify or value.overflow:
        return None
    text = value.plain
    if "\t" in text or "\n" in text:
        return None
    return text


@lru_cache(maxsize=16384)
def _meta(row: int, column: int) -> Style:
    """The cell's position as style meta (for clicks), made once per position: making
    a Style with meta pickles it and draws an id, the costliest step of a cell."""
    return Style.from_meta({"row": row, "column": column})


@lru_cache(maxsize=4096)
def _edge(row: int) -> Style:
    """The meta of the blank right of a row's last cell."""
    return Style.from_meta({"row": row, "column": 0, "out_of_bounds": True})


class FastCells:
    """Mixin for a DataTable subclass (before DataTable in the bases)."""

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False):
        fallback = super()._render_cell  # type: ignore[misc]
        if row_index < self.fixed_rows or column_index < self.fixed_columns:  # also header/labels (-1)
            return fallback(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        row = self.rows.get(row_key)
        value = (self._data.get(row_key) or {}).get(column_key)
        text = _plain(value)
        pad = self.cell_padding
        if text is None or row is None or row.height != 1 or width <= 2 * pad:
            return fallback(row_index, column_index, base_style, width, cursor, hover)
        cache = self._cell_render_cache
        key = (row_key, column_key, base_style, cursor, hover, self._show_hover_cursor,
               self._update_count, self._pseudo_class_state)
        lines = cache.get(key)
        if lines is not None:
            return lines
        component, post = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css", self.cursor_background_priority == "css")
        pre = base_style + _meta(row_index, column_index) + component
        own = value.style
        if isinstance(own, str):  # a style name: what Rich would look up (rare; never ours)
            own = Style.parse(own) if own else Style.null()
        blank = pre + post if pre else post
        inner = width - 2 * pad
        length = cell_len(text)
        if length > inner:
            text, length = set_cell_size(text, inner), inner
        line = [Segment(" " * pad, blank)] if pad else []
        if text:
            styled = pre + own
            line.append(Segment(text, styled + post if styled else post))
        if length < inner:
            line.append(Segment(" " * (inner - length), blank))
        if pad:
            line.append(Segment(" " * pad, blank))
        lines = [line]
        cache[key] = lines
        return lines

    def _render_line_in_row(self, row_key, line_no: int, base_style: Style, cursor_location, hover_location):
        """DataTable's, for a row cursor and no row labels or fixed columns, less what
        that case never uses (the header's and the background's styles, worked out
        anew for every row: as much as the row's cells)."""
        fallback = super()._render_line_in_row  # type: ignore[misc]
        index = self._row_locations.get(row_key)
        if (index is None or self.cursor_type != "row" or self.fixed_columns
                or (self._labelled_row_exists and self.show_row_labels)):
            return fallback(row_key, line_no, base_style, cursor_location, hover_location)
        show_cursor, show_hover = self.show_cursor, self._show_hover_cursor
        cache = self._row_render_cache
        key = (row_key, line_no, base_style, cursor_location, hover_location, "row", show_cursor,
               show_hover, self._update_count, self._pseudo_class_state)
        row = cache.get(key)
        if row is not None:
            return row
        row_style = self._get_row_style(index, base_style)
        cursor, hover = index == cursor_location.row, index == hover_location.row
        cells, table_width = [], self._row_label_column_width
        for column_index, column in enumerate(self.ordered_columns):
            width = column.get_render_width(self)
            table_width += width
            cells.append(self._render_cell(index, column_index, row_style, width, cursor, hover)[line_no])
        edge, _ = self._get_styles_to_render_cell(False, False, False, hover, cursor, show_cursor, show_hover,
                                                  False, False)
        cells.append([Segment(" " * max(0, self.size.width - table_width), row_style + edge + _edge(index))])
        row = ([], cells)
        cache[key] = row
        return row

    def render_lines(self, crop):
        # DataTable.render_line asks for the widget's rich_style on every line, a walk up
        # the DOM combining colours (~0.2 ms): once per paint is enough
        self._paint_style = self.rich_style
        try:
            return super().render_lines(crop)  # type: ignore[misc]
        finally:
            self._paint_style = None

    def render_line(self, y: int):
        style = getattr(self, "_paint_style", None)
        if style is None or self.fixed_rows:
            return super().render_line(y)  # type: ignore[misc]
        scroll_x, scroll_y = self.scroll_offset
        if y >= (self.header_height if self.show_header else 0):
            y += scroll_y
        return self._render_line(y, scroll_x, scroll_x + self.size.width, style)
