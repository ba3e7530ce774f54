"""FastCells draws ResourceTable's cells without Rich's render pipeline: its segments must
be DataTable's own, style for style (meta, cursor, hover, health colours), for every
cell shape it takes on, and every other cell must still go through DataTable."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App
from textual.widgets import DataTable

from kubedeck.tui.widgets.fast_cells import FastCells
from kubedeck.tui.widgets.resource_table import CELL

RED = Style.parse("#ff0000") + CELL

VALUES = [
    Text("web-1", style=CELL, no_wrap=True),
    Text("CrashLoopBackOff", style=RED, no_wrap=True),
    Text("", style=CELL, no_wrap=True),
    Text("日本語のポッド", style=CELL, no_wrap=True),  # double-width cells, cropped mid-character below
    Text("plain"),  # no style of its own
    Text("bold", style="bold"),  # a style by name
]
OTHERS = ["[b]markup[/b]", Text.assemble(("two", "red"), " spans"), Text("a\tb"), Text("one\ntwo")]


class Fast(FastCells, DataTable):
    pass


class Tables(App):
    def compose(self):
        yield Fast(cursor_type="row")


def two_columns(table: Fast, values) -> None:
    """Columns A and B: a row per value with a red `row i` beside it; the cursor on row 1."""
    for name in ("A", "B"):
        table.add_column(name, key=name)
    for i, value in enumerate(values):
        table.add_row(value, Text(f"row {i}", style=RED), key=f"r{i}")
    table.move_cursor(row=1)


def segments(lines) -> list[list[tuple[str, Style | None]]]:
    return [[(s.text, s.style) for s in Segment.simplify(line)] for line in lines]


async def test_segments_are_datatables_own():
    app = Tables()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(Fast)
        two_columns(table, VALUES + OTHERS)
        await pilot.pause()
        row_style = table.rich_style
        checked = 0
        for row in range(table.row_count):
            for column in range(2):
                for width in (4, 7, 12, 30):
                    for cursor, hover in ((False, False), (True, False), (False, True), (True, True)):
                        table._cell_render_cache.clear()
                        fast = table._render_cell(row, column, row_style, width, cursor, hover)
                        table._cell_render_cache.clear()
                        slow = DataTable._render_cell(table, row, column, row_style, width, cursor, hover)
                        assert segments(fast) == segments(slow), (row, column, width, cursor, hover)
                        checked += 1
        assert checked == table.row_count * 2 * 4 * 4
        # the header goes through DataTable (its key is the header row's)
        table._cell_render_cache.clear()
        header = table._render_cell(-1, 0, row_style, 10)
        assert "A" in "".join(s.text for s in header[0])


async def test_only_plain_one_line_cells_take_the_short_way():
    app = Tables()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(Fast)
        table.add_column("A", key="A")
        for i, value in enumerate(VALUES + OTHERS):
            table.add_row(value, key=f"r{i}")
        await pilot.pause()
        calls = []
        original = DataTable._render_cell

        def counted(self, *args, **kwargs):
            calls.append(args[0])
            return original(self, *args, **kwargs)

        DataTable._render_cell = counted
        try:
            for row in range(table.row_count):
                table._render_cell(row, 0, table.rich_style, 12)
        finally:
            DataTable._render_cell = original
        assert calls == list(range(len(VALUES), len(VALUES) + len(OTHERS)))


async def test_rows_are_datatables_own():
    app = Tables()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(Fast)
        two_columns(table, VALUES)
        table.hover_coordinate = table.hover_coordinate._replace(row=3)
        table._show_hover_cursor = True
        await pilot.pause()
        style, cursor, hover = table.rich_style, table.cursor_coordinate, table.hover_coordinate
        for i in range(table.row_count):
            key = table._row_locations.get_key(i)
            table._clear_caches()
            fast = table._render_line_in_row(key, 0, style, cursor, hover)
            table._clear_caches()
            slow = DataTable._render_line_in_row(table, key, 0, style, cursor, hover)
            assert fast[0] == slow[0] == []
            assert segments(fast[1]) == segments(slow[1]), i
        # a row with a label goes through DataTable
        table.add_row("x", "y", key="labelled", label="L")
        await pilot.pause()
        key = table._row_locations.get_key(table.row_count - 1)
        table._clear_caches()
        fixed, _ = table._render_line_in_row(key, 0, style, cursor, hover)
        assert "L" in "".join(s.text for s in fixed[0])
