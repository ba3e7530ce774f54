"""Adding many rows to a DataTable at once, and a big table's rows over several frames.

DataTable.add_row sets the cursor (a reactive, with its watchers) on every call, and the
table then measures every new cell through Rich when idle: with 5,000 pods that was ~3 s
on this machine before the first frame (`bench/any_cluster_scale.py`). `_add_rows` writes
the rows into DataTable's data at once and takes the column widths from the cells' own
text (one line each, so their cell length is what Rich would measure); the idle pass then
only re-sizes the table. Rows added below the screen leave what is drawn alone
(`_rows_moved`, row_edits.py). Where DataTable's internals are not the ones this was
written for (textual 8), it falls back to add_row.

A rebuild without a `/` filter, of a kind in namespace/name order, needs no cells to
choose and sort its rows (the metadata says both): it adds the first FIRST_ROWS rows (more
than any screen shows, and the cursor's row) at once and leaves the rest in `_backlog`,
added BACKLOG_SLICE per frame by the table's flush. A row waiting there is rendered from
its object as it is when its turn comes; an event for it only updates the object.

Used by ResourceTable, which provides `kind`, `objects`, `_rendered`, `_cells`,
`_styled`, `matches`, `_backlog` and (RowEdits) `_rows_moved`.
"""

from __future__ import annotations

from itertools import islice

from rich.cells import cell_len

FIRST_ROWS = 300  # rows a rebuild adds at once (more than a screen); the rest follow by slices
BACKLOG_SLICE = 500  # rows added per frame after those


class BulkRows:
    def _sorted_by_metadata(self) -> list[str] | None:
        """The uids of the rows to show, in order, when neither needs their cells: no
        `/` filter (it looks into cells) and rows in namespace/name order (the first
        cells); None otherwise."""
        headers = self.kind.headers
        first = ("NAMESPACE", "NAME") if self.kind.namespaced else ("NAME",)
        if self.filter_text.strip() or self.kind.order is not None or headers[:len(first)] != first:
            return None
        keyed = []
        for uid, obj in self.objects.items():
            if self.matches(obj, []):  # the namespace only, without a filter
                meta = obj.get("metadata") or {}
                keyed.append((meta.get("namespace", "") if self.kind.namespaced else "", meta.get("name", ""), uid))
        keyed.sort()
        return [uid for _, _, uid in keyed]

    def _add_backlog(self) -> None:
        """Add the next BACKLOG_SLICE rows a rebuild left for later, as they are now."""
        batch = list(islice(self._backlog, BACKLOG_SLICE))
        for uid in batch:
            del self._backlog[uid]
        rows = []
        for uid in batch:
            obj = self.objects.get(uid)
            if obj is not None and uid not in self._rendered:  # deleted, or added by an event meanwhile
                cells, health = self._cells(obj)
                if self.matches(obj, cells):
                    rows.append((uid, cells, health))
        self._add_rows(rows)

    def _add_rows(self, rows: list[tuple[str, list[str], str]]) -> None:
        """add_row for many rows at the end, at once (see the module docstring)."""
        try:
            data, locations, columns = self._data, self._row_locations, self.ordered_columns
            from textual.widgets.data_table import Row, RowKey
        except (AttributeError, ImportError):
            data = None
        if data is None or not rows:
            for uid, cells, health in rows:
                self.add_row(*(self._styled(c, health) for c in cells), key=uid)
                self._rendered[uid] = (cells, health)
            return
        start = len(locations)
        before = [column.content_width for column in columns]
        widths = list(before)
        for i, (uid, cells, health) in enumerate(rows, start):
            key = RowKey(uid)
            locations[key] = i
            data[key] = {column.key: self._styled(value, health) for column, value in zip(columns, cells)}
            self.rows[key] = Row(key, 1)
            self._rendered[uid] = (cells, health)
            widths = [max(w, cell_len(v)) for w, v in zip(widths, cells)]
        for column, width in zip(columns, widths):
            column.content_width = width
        self.cursor_coordinate = self.cursor_coordinate
        if start == 0 and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()  # as add_row does for a table's first row
        # a wider column moves every cell drawn: all repainted; else only from the new rows
        # on, which below the screen is nothing (row_edits.py); the idle pass sets the
        # virtual size
        self._rows_moved(0 if widths != before else start)
