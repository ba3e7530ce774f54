"""Functional tests of the TUI against the in-process fake API (no sleeps: wait_for)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_fake_api import app_on, pod, serving, wait_for  # noqa: E402

from kubedeck.tui.app import KubedeckApp  # noqa: E402
from kubedeck.engine.present.format import MASK  # noqa: E402
from kubedeck.tui.widgets.resource_table import ResourceTable  # noqa: E402
from kubedeck.tui.widgets.status_bar import StatusBar  # noqa: E402

@pytest.fixture
async def fake_api():
    async with serving() as api:
        yield api


@pytest.fixture
def make_app(fake_api, tmp_path):
    return lambda **kwargs: app_on(fake_api, tmp_path, **kwargs)


def cell(table: ResourceTable, uid: str, column: str) -> str:
    return str(table.get_cell(uid, column))


def main(app: KubedeckApp) -> ResourceTable:
    return app.query_one("#main", ResourceTable)


async def test_pods_appear_with_kubectl_columns(make_app):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        table = main(app)
        await wait_for(pilot, lambda: table.row_count == 4, message="4 pods")
        assert cell(table, "uid-default-db-0", "STATUS") == "ContainerCreating"
        assert cell(table, "uid-default-web-1", "READY") == "1/1"
        assert cell(table, "uid-default-web-1", "AGE") == "60m"
        services = app.query_one("#services", ResourceTable)
        await wait_for(pilot, lambda: services.row_count == 1)
        assert cell(services, "uid-svc-web", "URL") == "http://127.0.0.1:30080"
        nodes = app.query_one("#nodes", ResourceTable)
        await wait_for(pilot, lambda: nodes.row_count == 1 and cell(nodes, "uid-node-1", "PODS") == "3")
        assert cell(nodes, "uid-node-1", "CPU") == "-/4"  # usage/allocatable; the fake has no metrics API


async def test_watch_modified_updates_cell_in_place(make_app, fake_api):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        table = main(app)
        await wait_for(pilot, lambda: table.row_count == 4)
        row_keys_before = list(table.rows)
        added = []
        original_add_row = table.add_row
        table.add_row = lambda *a, **k: added.append(a) or original_add_row(*a, **k)
        crashed = pod("web-1", labels={"app": "web"}, ready=False, waiting="CrashLoopBackOff")
        fake_api.inject("pods", "MODIFIED", crashed)
        await wait_for(pilot, lambda: cell(table, "uid-default-web-1", "STATUS") == "CrashLoopBackOff")
        assert list(table.rows) == row_keys_before
        assert added == []  # updated in place, not re-added
        fake_api.inject("pods", "DELETED", crashed)
        await wait_for(pilot, lambda: table.row_count == 3)


async def test_many_deletions_in_one_frame_leave_a_consistent_table(make_app):
    """flush() removes several rows with one re-index (not DataTable.remove_row each)."""
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        table = main(app)
        await wait_for(pilot, lambda: table.row_count == 4)
        kind = app.informers["pods"].kind
        extra = [pod(f"bulk-{i}", labels={"app": "bulk"}) for i in range(6)]
        for p in extra:
            app._on_event(kind, "ADDED", p)
        table.flush()
        table.move_cursor(row=table.get_row_index("uid-default-bulk-2"))
        for p in extra[:2] + extra[3:5]:
            app._on_event(kind, "DELETED", p)
        assert table.flush() == 4
        await pilot.pause()
        keys = [k.value for k in table.rows]
        assert keys == [k for k in keys if not k.startswith("uid-default-bulk-")] + \
            ["uid-default-bulk-2", "uid-default-bulk-5"]
        assert [table.get_row_index(k) for k in keys] == list(range(len(keys)))
        assert table.get_row_at(table.get_row_index("uid-default-bulk-5"))[0].plain == "default"
        assert table.selected_uid() == "uid-default-bulk-2"  # the cursor stays on its row, not its index


async def test_filter_by_name_status_and_label(make_app):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        table = main(app)
        await wait_for(pilot, lambda: table.row_count == 4)
        await pilot.press("slash", *"web", "enter")
        await wait_for(pilot, lambda: table.row_count == 2)
        await pilot.press("slash", *["backspace"] * 3, *"Creating", "enter")
        await wait_for(pilot, lambda: table.row_count == 1)
        table.set_filter("-l app=db")
        assert table.row_count == 1
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 4)


async def test_delete_asks_then_calls_api(make_app, fake_api):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        table = main(app)
        await wait_for(pilot, lambda: table.row_count == 4)
        target = table.selected_object()["metadata"]["name"]
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen")
        assert fake_api.calls("DELETE") == []
        await pilot.press("y")
        await wait_for(pilot, lambda: fake_api.calls("DELETE") != [])
        assert fake_api.calls("DELETE")[0].path.endswith(f"/pods/{target}")
        await wait_for(pilot, lambda: table.row_count == 3)


async def test_kill_uses_grace_period_zero(make_app, fake_api):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await wait_for(pilot, lambda: main(app).row_count == 4)
        await pilot.press("ctrl+k", "y")
        await wait_for(pilot, lambda: fake_api.calls("DELETE") != [])
        assert fake_api.calls("DELETE")[0].query == {"gracePeriodSeconds": "0"}


async def test_command_switches_view_and_scale_sends_merge_patch(make_app, fake_api):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        table = main(app)
        await wait_for(pilot, lambda: table.row_count == 4)
        await pilot.press("colon", *"deploy", "enter")
        await wait_for(pilot, lambda: table.kind.plural == "deployments" and table.row_count == 1)
        assert app.query_one(StatusBar).view == "deployments"
        await pilot.press("plus")
        await wait_for(pilot, lambda: fake_api.calls("PATCH") != [])
        call = fake_api.calls("PATCH")[0]
        assert call.path == "/apis/apps/v1/namespaces/default/deployments/web"
        assert call.body == {"spec": {"replicas": 3}}
        await wait_for(pilot, lambda: cell(table, "uid-deploy-web", "READY") == "2/3")
        await pilot.press("r")
        await wait_for(pilot, lambda: len(fake_api.calls("PATCH")) == 2)
        annotations = fake_api.calls("PATCH")[1].body["spec"]["template"]["metadata"]["annotations"]
        assert "kubectl.kubernetes.io/restartedAt" in annotations


async def test_theme_cycle_is_persisted(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        assert app.theme == "kubedeck-dark"
        await pilot.press("t")
        await wait_for(pilot, lambda: app.theme != "kubedeck-dark")
        chosen = app.theme
        config = json.loads((tmp_path / "config" / "config.json").read_text())
        assert config["theme"] == chosen
    again = make_app()
    async with again.run_test(size=(120, 34)):
        assert again.theme == chosen


async def test_user_theme_from_config_dir(make_app, tmp_path):
    themes = tmp_path / "config" / "themes"
    themes.mkdir(parents=True)
    (themes / "mine.toml").write_text('name = "mine"\nprimary = "#ff00ff"\n[variables]\npod-running = "#123456"\n')
    app = make_app(theme="mine")
    async with app.run_test(size=(120, 34)) as pilot:
        assert app.theme == "mine"
        assert app.get_css_variables()["pod-running"] == "#123456"
        app.theme = "textual-light"  # built-in themes still work with our variables
        await pilot.pause()
        assert app.get_css_variables()["pod-failed"]


async def test_secrets_masked_until_revealed(make_app):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        table = main(app)
        await pilot.press("colon", *"secrets", "enter")
        await wait_for(pilot, lambda: table.kind.plural == "secrets" and table.row_count == 1)
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "TextScreen")
        body = app.screen.body
        assert MASK in body and "hunter2" not in body and "aHVudGVyMg==" not in body
        await pilot.press("escape")
        await pilot.press("d")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "TextScreen")
        assert "hunter2" not in app.screen.body and "aHVudGVyMg==" not in app.screen.body
        await pilot.press("escape", "x")
        await wait_for(pilot, lambda: "hunter2" in getattr(app.screen, "body", ""))


async def test_disconnected_banner_when_server_down(make_app, fake_api):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        bar = app.query_one(StatusBar)
        await wait_for(pilot, lambda: main(app).row_count == 4)
        assert bar.connected
        await fake_api.stop()
        await wait_for(pilot, lambda: not bar.connected, message="disconnected")
        assert "disconnected, retrying" in str(bar.render())
        await fake_api.start_again()
        fake_api.inject("pods", "ADDED", pod("late-1"))
        await wait_for(pilot, lambda: bar.connected and main(app).row_count == 5, timeout=10)


async def test_manifest_errors_and_logs(make_app, fake_api):
    fake_api.status["manifestErrors"] = [
        {"file": "web.yaml", "line": 7, "object": "Deployment/web", "field": "spec.replicas", "message": "must be an integer"}
    ]
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        errors = app.query_one("#errors")
        await wait_for(pilot, lambda: errors.display and "web.yaml:7" in str(errors.render()))
        table = main(app)
        await wait_for(pilot, lambda: table.row_count == 4)
        table.move_cursor(row=table.get_row_index("uid-default-web-1"))
        logs = app.query_one("#logs")
        await wait_for(pilot, lambda: "hello from web-1" in logs.lines)


async def test_fits_80x24(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: main(app).row_count == 4)
        for pane in ("#nodes", "#services", "#main", "#logs"):
            widget = app.query_one(pane)
            assert widget.region.height >= 3, pane
            assert widget.region.bottom <= 24


async def test_thousand_pods_and_a_burst_of_events(make_app, fake_api):
    for i in range(1000):
        fake_api.add("pods", pod(f"bulk-{i:04d}", ns="bulk", phase="Pending", ready=False, waiting="ContainerCreating"))
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        table = main(app)
        await wait_for(pilot, lambda: table.row_count == 1004, timeout=20)
        for i in range(1000):
            fake_api.inject("pods", "MODIFIED", pod(f"bulk-{i:04d}", ns="bulk"))
        last = "uid-bulk-bulk-0999"
        await wait_for(pilot, lambda: cell(table, last, "STATUS") == "Running", timeout=20)
        assert table.row_count == 1004


async def test_namespace_picker_and_all_namespaces(make_app):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        table = main(app)
        await wait_for(pilot, lambda: table.row_count == 4 and len(app.informers["namespaces"].cache) == 2)
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "PickScreen")
        await pilot.press("down", "enter")  # options: all, batch, default
        await wait_for(pilot, lambda: table.row_count == 1)
        assert app.status_bar.namespace == "batch"
        await pilot.press("0")
        await wait_for(pilot, lambda: table.row_count == 4)


async def test_help_and_log_toggles(make_app, fake_api):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        table = main(app)
        await wait_for(pilot, lambda: table.row_count == 4)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: "ctrl-d" in getattr(app.screen, "body", ""))
        await pilot.press("escape")
        table.move_cursor(row=table.get_row_index("uid-default-web-1"))
        await pilot.press("l")
        logs = app.log_pane
        await wait_for(pilot, lambda: len(logs.lines) == 2)
        await pilot.press("T")
        await wait_for(pilot, lambda: any(r.query.get("timestamps") == "true" for r in fake_api.calls("GET")))
        await pilot.press("F")
        assert logs.follow is False and logs.log_widget.auto_scroll is False
        await pilot.press("slash", *"second", "enter")
        await wait_for(pilot, lambda: logs.match_line == 1)  # highlighted in place, context kept
        assert logs.log_widget.line_count == 2 and "search:second 1/1" in logs._title()
        await pilot.press("ampersand")  # only matching lines
        await wait_for(pilot, lambda: logs.log_widget.line_count == 1)
        await pilot.press("w")
        assert logs.wrap


async def test_log_burst_is_batched_bounded_and_drops_are_shown(make_app):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        logs = app.log_pane
        # the app follows the selected pod once the list arrives, which restarts (clears)
        # the pane: let that happen first, or it can wipe the burst on a slow machine
        await wait_for(pilot, lambda: main(app).row_count > 0 and logs.pod is not None,
                       message="the pane following the selected pod")
        logs.show_pod("default", "quiet", ["main"])
        writes = []
        original = logs.log_widget.write_lines
        logs.log_widget.write_lines = lambda lines, *a, **k: writes.append(len(lines)) or original(lines, *a, **k)
        for i in range(25_000):
            logs.add_line(f"line {i}")
        await wait_for(pilot, lambda: logs.log_widget.line_count == 10_000, timeout=30, message="10,000 lines shown")
        assert len(writes) == 1  # one write per frame, not one per line
        assert len(logs.lines) == 10_000 and logs.lines[0] == "line 15000"
        assert logs.dropped == 15_000 and "dropped:15000" in logs._title()
