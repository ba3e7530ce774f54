"""Snapshot of the main screen in two themes, from the deterministic fake dataset.

`snap_compare` runs the app with its own event loop, so the fake API runs in a thread.
Update with `pytest tests/unit/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_fake_api import NOW, TOKEN, FakeApi, dataset, wait_for  # noqa: E402

from kubedeck.tui.app import KubedeckApp  # noqa: E402
from kubedeck.tui.widgets.resource_table import ResourceTable  # noqa: E402


@pytest.fixture
def threaded_api():
    api = FakeApi()
    dataset(api)
    api.status["manifestErrors"] = [
        {"file": "web.yaml", "line": 7, "object": "Deployment/web", "field": "spec.replicas",
         "message": "must be an integer"}
    ]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(api.start(), loop).result(10)
    yield api
    asyncio.run_coroutine_threadsafe(api.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


async def loaded(pilot) -> None:
    app = pilot.app
    main = app.query_one("#main", ResourceTable)
    nodes = app.query_one("#nodes", ResourceTable)
    await wait_for(pilot, lambda: main.row_count == 4 and nodes.row_count == 1
                   and app.query_one("#services", ResourceTable).row_count == 1
                   and app.status_bar.cluster == "test" and app.errors_area.display
                   and str(nodes.get_cell("uid-node-1", "PODS")) == "3")
    await pilot.pause()


@pytest.mark.parametrize("theme", ["kubedeck-dark", "kubedeck-light"])
def test_main_screen(snap_compare, threaded_api, tmp_path, theme):
    app = KubedeckApp(api_url=threaded_api.url, token=TOKEN, theme=theme,
                      config_dir=tmp_path, now=lambda: NOW, status_interval=0.2)
    assert snap_compare(app, run_before=loaded, terminal_size=(120, 34))
