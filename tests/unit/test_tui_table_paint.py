"""The pods table repaints only the rows a watch event changed (ResourceTable writes the
cells and drops those rows from DataTable's render caches): what is painted must still
be the new text, on screen at once and for an off-screen row once it is scrolled to."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_fake_api import NOW, TOKEN, FakeApi, dataset, pod, wait_for  # noqa: E402

from kubedeck.tui.app import KubedeckApp  # noqa: E402
from kubedeck.tui.widgets.resource_table import ResourceTable  # noqa: E402


@pytest.fixture
async def fake_api():
    api = FakeApi()
    dataset(api)
    for i in range(200):
        api.add("pods", pod(f"bulk-{i:03d}", ns="bulk", phase="Pending", ready=False, waiting="ContainerCreating"))
    await api.start()
    yield api
    await api.stop()


def painted_line(table: ResourceTable, name: str) -> str:
    """The text DataTable renders for the row of `name` (through its render caches)."""
    index = table.get_row_index(f"uid-bulk-{name}")
    y = index + table.header_height - table.scroll_offset.y
    assert 0 <= y < table.size.height, f"{name} is not on screen"
    return table.render_line(y).text


async def test_changed_rows_repaint_visible_and_scrolled_to(fake_api, tmp_path):
    app = KubedeckApp(api_url=fake_api.url, token=TOKEN, now=lambda: NOW, status_interval=5,
                      retry_delay=0.05, config_dir=tmp_path / "config")
    async with app.run_test(size=(120, 34)) as pilot:
        table = app.query_one("#main", ResourceTable)
        await wait_for(pilot, lambda: table.row_count == 204, timeout=20)
        await pilot.pause()
        assert "ContainerCreating" in painted_line(table, "bulk-001")  # cached before the change
        before = table._update_count
        fake_api.inject("pods", "MODIFIED", pod("bulk-001", ns="bulk", waiting="CrashLoopBackOff", ready=False))
        fake_api.inject("pods", "MODIFIED", pod("bulk-180", ns="bulk", waiting="ImagePullBackOff", ready=False))
        await wait_for(pilot, lambda: "CrashLoopBackOff" in painted_line(table, "bulk-001"), timeout=10)
        assert table._update_count == before  # written in place: the other rows' renders stay cached
        assert "ContainerCreating" in painted_line(table, "bulk-002")
        table.scroll_to(y=table.get_row_index("uid-bulk-bulk-180"), animate=False)
        await pilot.pause()
        assert "ImagePullBackOff" in painted_line(table, "bulk-180")


async def test_refresh_rows_does_the_screen_at_once_and_the_rest_when_shown(fake_api, tmp_path):
    from datetime import timedelta

    app = KubedeckApp(api_url=fake_api.url, token=TOKEN, now=lambda: NOW, status_interval=5,
                      retry_delay=0.05, config_dir=tmp_path / "config")
    async with app.run_test(size=(120, 34)) as pilot:
        table = app.query_one("#main", ResourceTable)
        await wait_for(pilot, lambda: table.row_count == 204, timeout=20)

        def age(name: str) -> str:
            return str(table.get_cell(f"uid-bulk-{name}", "AGE"))

        before = age("bulk-190")
        table.now = lambda: NOW + timedelta(days=400)
        table.refresh_rows()
        assert age("bulk-001") != before  # on screen: at once
        await pilot.pause()
        assert age("bulk-190") == before and "uid-bulk-bulk-190" in table._stale  # off screen: not yet
        table.scroll_to(y=table.get_row_index("uid-bulk-bulk-190"), animate=False)
        await wait_for(pilot, lambda: table.scroll_offset.y > 0)
        table.flush()  # what the next frame does: the rows now on screen are re-rendered
        assert age("bulk-190") == age("bulk-001")
        await pilot.pause()
        assert "bulk-190" in painted_line(table, "bulk-190") and age("bulk-190") in painted_line(table, "bulk-190")
