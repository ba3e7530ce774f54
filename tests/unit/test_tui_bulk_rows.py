"""A rebuild of a big table (tui/widgets/bulk_rows.py): the first rows at once, the rest
over the next frames, in namespace/name order; events for rows still waiting are not
lost; the column widths it takes from the cells are the ones DataTable measures."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.app import App  # noqa: E402
from textual.widgets import DataTable  # noqa: E402
from tui_fake_api import NOW, pod, wait_for  # noqa: E402

from kubedeck.engine.present.resources import VIEWS  # noqa: E402
from kubedeck.tui.widgets import bulk_rows, resource_table  # noqa: E402
from kubedeck.tui.widgets.resource_table import ResourceTable  # noqa: E402


class Tables(App):
    def compose(self):
        self.table = ResourceTable(VIEWS["pods"], now=lambda: NOW, id="main")
        self.bare = DataTable()
        yield self.table
        yield self.bare


def pods(n: int) -> list[dict]:
    made = [pod(f"p-{i:03d}{'-long-name' * (i == 150)}", ns=f"ns-{i % 7}", phase="Pending", ready=False,
                waiting="ContainerCreating") for i in range(n)]
    random.Random(4).shuffle(made)  # the API's order is not the table's
    return made


def names(table: ResourceTable) -> list[tuple[str, str]]:
    return [(str(table.get_cell(key, "NAMESPACE")), str(table.get_cell(key, "NAME")))
            for key in (table._row_locations.get_key(i) for i in range(table.row_count))]


async def test_big_rebuild_fills_by_slices_in_order_and_keeps_events(monkeypatch):
    monkeypatch.setattr(resource_table, "FIRST_ROWS", 30)
    monkeypatch.setattr(bulk_rows, "BACKLOG_SLICE", 40)
    objs = pods(200)
    app = Tables()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.table
        table.set_objects(objs)
        assert table.row_count == 30 and len(table._backlog) == 170  # the rest waits for the next frames
        waiting = [uid for uid in table._backlog]
        changed, gone = table.objects[waiting[50]], table.objects[waiting[60]]
        table.queue("MODIFIED", pod(changed["metadata"]["name"], ns=changed["metadata"]["namespace"]))
        table.queue("DELETED", gone)
        table.queue("ADDED", pod("zz-new", ns="aa"))
        await wait_for(pilot, lambda: not table._backlog and not table._pending, timeout=10)

        shown = names(table)
        assert table.row_count == 200 == len(set(shown))  # 200 - 1 deleted + 1 added, none twice
        assert (gone["metadata"]["namespace"], gone["metadata"]["name"]) not in shown
        listed = [s for s in shown if s != ("aa", "zz-new")]
        assert listed == sorted(listed)  # namespace, then name, across the slices
        assert str(table.get_cell(changed["metadata"]["uid"], "STATUS")) == "Running"  # the event's state

        # the widths taken from the cells are what DataTable measures itself
        bare = app.bare
        for header in table.kind.headers:
            bare.add_column(header, key=header)
        for key in table.rows:
            bare.add_row(*(table.get_cell(key, h) for h in table.kind.headers))
        await pilot.pause()
        await wait_for(pilot, lambda: bare.row_count == 200 and not bare._new_rows, timeout=10)
        assert [c.content_width for c in table.ordered_columns] == [c.content_width for c in bare.ordered_columns]


async def test_rebuild_keeps_the_cursor_row_even_beyond_the_first_rows(monkeypatch):
    monkeypatch.setattr(resource_table, "FIRST_ROWS", 30)
    app = Tables()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.table
        table.set_objects(pods(200))
        await wait_for(pilot, lambda: not table._backlog, timeout=10)
        table.move_cursor(row=120)
        selected = table.selected_uid()
        table.set_namespace(None)  # a rebuild
        assert table.selected_uid() == selected and table.row_count >= 121
        await wait_for(pilot, lambda: table.row_count == 200, timeout=10)
        assert table.selected_uid() == selected


async def test_a_filter_or_an_order_rebuilds_at_once(monkeypatch):
    monkeypatch.setattr(resource_table, "FIRST_ROWS", 30)
    app = Tables()
    async with app.run_test(size=(120, 40)):
        table = app.table
        table.set_objects(pods(200))
        table.set_filter("p-1")  # looks into the cells: every row is rendered to choose
        assert table.row_count == 100 and not table._backlog  # p-100 to p-199
