"""Rows added, removed and changed in place (tui/widgets/row_edits.py, ResourceTable.flush):
the cursor stays on its pod, what is painted is the rows' text at their new places, rows
below the screen move without a repaint of those shown or a screen layout, and a row
changed off screen is drawn when it is scrolled to or read."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.app import App  # noqa: E402
from textual.screen import Screen  # noqa: E402
from tui_fake_api import NOW, pod, wait_for  # noqa: E402

from kubedeck.engine.present.resources import VIEWS  # noqa: E402
from kubedeck.tui.widgets.resource_table import ResourceTable  # noqa: E402
from kubedeck.tui.widgets.row_edits import _InOrder  # noqa: E402

SIZE = (120, 20)


class Tables(App):
    def compose(self):
        self.table = ResourceTable(VIEWS["pods"], now=lambda: NOW, id="main")
        yield self.table


def uid(name: str) -> str:
    return f"uid-bulk-{name}"


def painted(table: ResourceTable, y: int) -> str:
    """The text of screen line y (0 is the header) as DataTable renders it."""
    assert 0 < y < table.size.height, f"line {y} is not a row on screen"
    return table.render_line(y).text


def in_order(table: ResourceTable) -> list[str]:
    keys = [table._row_locations.get_key(i) for i in range(table.row_count)]
    assert len({k.value for k in keys}) == table.row_count == len(table._data)  # one index per row
    return [k.value for k in keys]


async def loaded(pilot, table: ResourceTable, n: int = 200) -> None:
    table.set_objects([pod(f"p-{i:03d}", ns="bulk") for i in range(n)])
    await wait_for(pilot, lambda: table.row_count == n and not table._backlog, timeout=10)
    await pilot.pause()


async def test_churn_keeps_the_cursor_on_its_pod_and_the_rows_in_place():
    app = Tables()
    async with app.run_test(size=SIZE) as pilot:
        table = app.table
        await loaded(pilot, table)
        table.move_cursor(row=table.get_row_index(uid("p-050")))
        await pilot.pause()
        top = table.scroll_offset.y
        # rows above the cursor (some above the screen, some on it) go, others come, some change
        for name in ("p-002", "p-010", "p-040", "p-049"):
            table.queue("DELETED", pod(name, ns="bulk"))
        for name in ("p-500", "p-501"):
            table.queue("ADDED", pod(name, ns="bulk"))
        table.queue("MODIFIED", pod("p-051", ns="bulk", waiting="CrashLoopBackOff", ready=False))
        assert table.flush() == 7
        order = in_order(table)
        expected = [uid(f"p-{i:03d}") for i in range(200) if i not in (2, 10, 40, 49)]
        assert order == expected + [uid("p-500"), uid("p-501")]  # new rows at the end, as add_row puts them
        assert table.selected_uid() == uid("p-050")  # not the row now at its old index
        await pilot.pause()
        y = table.get_row_index(uid("p-050")) + 1 - table.scroll_offset.y
        assert "p-050" in painted(table, y) and "p-051" in painted(table, y + 1)
        assert "CrashLoopBackOff" in painted(table, y + 1)
        assert table.scroll_offset.y <= top  # the cursor's row is still on screen
        # the cursor's own pod goes: the cursor keeps its index (as DataTable does)
        index = table.cursor_row
        table.queue("DELETED", pod("p-050", ns="bulk"))
        table.flush()
        assert table.cursor_row == index and table.selected_uid() == uid("p-051")


async def test_rows_below_the_screen_move_without_repainting_the_screen_or_a_layout():
    app = Tables()
    async with app.run_test(size=SIZE) as pilot:
        table = app.table
        await loaded(pilot, table)
        layouts = []
        original = Screen._refresh_layout
        Screen._refresh_layout = lambda screen, *a, **k: layouts.append(1) or original(screen, *a, **k)
        try:
            count, height = table._update_count, table.virtual_size.height
            for name in ("p-150", "p-151", "p-152"):
                table.queue("DELETED", pod(name, ns="bulk"))
            table.queue("ADDED", pod("p-900", ns="bulk"))
            table.flush()
            await wait_for(pilot, lambda: table.virtual_size.height == height - 2)
            assert table._update_count == count  # the rows shown keep their renders
            assert layouts == []  # the virtual size changes without laying out the screen
        finally:
            Screen._refresh_layout = original
        table.scroll_end(animate=False)
        await wait_for(pilot, lambda: table.scroll_offset.y == table.max_scroll_y)
        last = table.size.height - 1
        assert "p-900" in painted(table, last) and "p-199" in painted(table, last - 1)
        table.scroll_to(y=table.get_row_index(uid("p-149")) - 2, animate=False)
        await wait_for(pilot, lambda: table.scroll_offset.y == table.get_row_index(uid("p-149")) - 2)
        assert "p-149" in painted(table, 3) and "p-153" in painted(table, 4)  # 150-152 gone


async def test_a_row_removed_on_screen_moves_the_rows_under_it_up():
    app = Tables()
    async with app.run_test(size=SIZE) as pilot:
        table = app.table
        await loaded(pilot, table)
        assert "p-003" in painted(table, 4)
        count = table._update_count
        table.queue("DELETED", pod("p-003", ns="bulk"))
        table.flush()
        assert table._update_count > count  # what is shown moved: drawn again
        assert "p-004" in painted(table, 4) and "p-002" in painted(table, 3)


async def test_a_row_changed_off_screen_is_drawn_when_scrolled_to_or_read():
    app = Tables()
    async with app.run_test(size=SIZE) as pilot:
        table = app.table
        await loaded(pilot, table)
        for name in ("p-120", "p-180"):
            table.queue("MODIFIED", pod(name, ns="bulk", waiting="ImagePullBackOff", ready=False))
        table.flush()
        assert {uid("p-120"), uid("p-180")} <= table._deferred
        assert str(table._data[uid("p-120")]["STATUS"]) == "Running"  # not drawn yet
        assert table.objects[uid("p-120")]["status"]["containerStatuses"][0]["ready"] is False
        assert str(table.get_cell(uid("p-120"), "STATUS")) == "ImagePullBackOff"  # read: drawn
        table.scroll_to(y=table.get_row_index(uid("p-180")), animate=False)
        await wait_for(pilot, lambda: table.scroll_offset.y > 0)
        assert uid("p-180") not in table._deferred  # drawn as it came on screen
        y = table.get_row_index(uid("p-180")) + 1 - table.scroll_offset.y
        # (the STATUS column widens for it once DataTable has measured it, on idle)
        await wait_for(pilot, lambda: "ImagePullBackOff" in painted(table, y))


async def test_with_a_filter_every_change_is_drawn_at_once():
    app = Tables()
    async with app.run_test(size=SIZE) as pilot:
        table = app.table
        await loaded(pilot, table)
        table.set_filter("Running")
        assert table.row_count == 200
        table.queue("MODIFIED", pod("p-190", ns="bulk", waiting="CrashLoopBackOff", ready=False))
        table.flush()
        assert not table._deferred and uid("p-190") not in in_order(table)  # no longer matches: gone
        assert table.row_count == 199


def test_in_order_view():
    class Locations(dict):
        def get_key(self, i):
            return self.get(i)

    view = _InOrder(Locations({0: "a", 1: "b", 2: "c"}), range(3), str.upper)
    assert len(view) == 3 and view[0] == "A" and view[-1] == "C"
    assert list(view[:2]) == ["A", "B"] and list(view[1:]) == ["B", "C"] and list(view) == ["A", "B", "C"]
    assert view[1:][0] == "B" and len(view[1:]) == 2 and list(view[5:]) == []
    try:
        view[3]
    except IndexError:
        pass
    else:
        raise AssertionError("past the end must raise IndexError (DataTable catches LookupError)")


async def test_paging_moves_as_datatables_own():
    """page down/up walk ordered_rows (a view here): the cursor lands where a plain
    DataTable of the same rows puts it."""
    from textual.widgets import DataTable

    class Plain(App):
        def compose(self):
            self.table = DataTable(cursor_type="row")
            yield self.table

    landed = {}
    for app in (Tables(), Plain()):
        async with app.run_test(size=SIZE) as pilot:
            table = app.table
            if isinstance(table, ResourceTable):
                await loaded(pilot, table)
            else:
                table.add_columns(*VIEWS["pods"].headers)
                for i in range(200):
                    table.add_row("bulk", f"p-{i:03d}")
                await pilot.pause()
            rows = []
            for action in ("page_down", "page_down", "page_up", "scroll_bottom", "page_up"):
                getattr(table, f"action_{action}")()
                await pilot.pause()
                rows.append((table.cursor_row, table.scroll_offset.y))
            landed[type(app).__name__] = rows
    assert landed["Tables"] == landed["Plain"] and landed["Tables"][0][0] > 0
