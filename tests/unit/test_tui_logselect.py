"""The logs pane's select/copy mode and pager, with Pilot against the fake API (no sleeps)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_fake_api import app_on, serving, wait_for  # noqa: E402

from kubedeck.tui.app import KubedeckApp  # noqa: E402
from kubedeck.tui.help import KEY_HELP  # noqa: E402
from kubedeck.tui.pager import page_lines, pager_command  # noqa: E402

LINES = [f"line {i:02d}" for i in range(40)]


@pytest.fixture
async def fake_api():
    async with serving() as api:
        api.logs[("default", "web-1")] = list(LINES)  # before any app asks for them
        yield api


@pytest.fixture
def make_app(fake_api, tmp_path):
    return lambda: app_on(fake_api, tmp_path)


async def open_logs(app: KubedeckApp, pilot) -> None:
    table = app.main_table
    await wait_for(pilot, lambda: table.row_count == 4, message="pods listed")
    table.move_cursor(row=table.get_row_index("uid-default-web-1"))
    await pilot.press("l")
    await wait_for(pilot, lambda: app.log_pane.log_widget.line_count == len(LINES), message="log lines shown")
    assert app.focused is app.log_pane.log_widget


def footer_keys(app: KubedeckApp) -> dict[str, str]:
    return {key: active.binding.description for key, active in app.active_bindings.items()
            if active.binding.show and active.enabled}


async def test_select_lines_and_copy_them(make_app):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await open_logs(app, pilot)
        log = app.log_pane.log_widget
        assert not log.selecting and app.log_pane.follow
        assert "v" in footer_keys(app) and "o" in footer_keys(app)
        assert footer_keys(app).get("y") == "YAML"  # not selecting: y is still the app's YAML
        await pilot.press("v")
        await wait_for(pilot, lambda: log.selecting, message="select mode")
        start = log.cursor
        assert log.lines[start] == "line 39"  # the last line on screen (following: the newest)
        assert app.log_pane.follow is False  # new lines no longer scroll the selection away
        assert footer_keys(app).get("y") == "Copy"
        await pilot.press("k", "k", "up")
        assert log.selected_lines() == ["line 36", "line 37", "line 38", "line 39"]
        await pilot.press("j")
        assert log.selected_lines() == ["line 37", "line 38", "line 39"]
        await wait_for(pilot, lambda: "select:3" in app.log_pane._title())
        await pilot.press("y")
        await wait_for(pilot, lambda: not log.selecting, message="copy leaves the mode")
        assert app.clipboard == "line 37\nline 38\nline 39\n"
        assert any("copied 3 lines" in n.message for n in app._notifications)
        assert app.screen.__class__.__name__ != "TextScreen"  # y did not open the YAML view
        assert "select:" not in app.log_pane._title()


async def test_select_pages_edges_and_escape(make_app):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await open_logs(app, pilot)
        log = app.log_pane.log_widget
        await pilot.press("v", "g")
        assert log.cursor == 0 and log.scroll_offset.y == 0  # the cursor is kept on screen
        assert len(log.selected_lines()) == len(LINES)
        await pilot.press("v", "v", "pagedown")  # v leaves; v again starts anew on screen
        height = log.scrollable_content_region.height
        first, last = log.selected_range()
        assert last - first == height - 1
        assert log.scroll_offset.y <= log.cursor < log.scroll_offset.y + height
        await pilot.press("G")
        assert log.selected_range() == (first, len(LINES) - 1)
        assert log.scroll_offset.y + height - 1 == len(LINES) - 1
        await pilot.press("pageup")
        assert log.cursor == len(LINES) - height and log.selected_range() == (first, log.cursor)
        # the selected lines are painted differently from the others
        y = log.cursor - int(log.scroll_offset.y)
        selected_style = log.render_line(y)._segments[0].style
        plain_y = next(i for i in range(height) if not log.selected_range()[0] <= i + int(log.scroll_offset.y) <= log.selected_range()[1])
        assert selected_style != log.render_line(plain_y)._segments[0].style
        await pilot.press("escape")
        assert not log.selecting and app.clipboard == ""
        await pilot.press("down")  # outside the mode arrows scroll again, no selection appears
        assert not log.selecting


async def test_selection_follows_its_text_when_the_ring_buffer_drops_lines(make_app):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await open_logs(app, pilot)
        log = app.log_pane.log_widget
        await pilot.press("v", "k")
        assert log.selected_lines() == ["line 38", "line 39"]
        log.max_lines = 45
        log.write_lines([f"new {i}" for i in range(10)])  # 50 lines: the 5 oldest go
        assert log.lines[0] == "line 05"
        assert log.selected_lines() == ["line 38", "line 39"]
        await pilot.press("y")
        assert app.clipboard == "line 38\nline 39\n"


async def test_pager_gets_the_buffer_with_the_tui_suspended(make_app, tmp_path, monkeypatch):
    out = tmp_path / "paged.txt"
    monkeypatch.setenv("PAGER", f"sh -c 'cat > \"$0\"' {out}")
    app = make_app()
    suspended = []

    @contextlib.contextmanager
    def fake_suspend():
        suspended.append("in")
        yield
        suspended.append("out")

    async with app.run_test(size=(120, 34)) as pilot:
        await open_logs(app, pilot)
        app.suspend = fake_suspend  # headless drivers cannot suspend
        await pilot.press("o")
        await wait_for(pilot, lambda: suspended == ["in", "out"], message="suspended and resumed")
        assert out.read_text().splitlines() == LINES


async def test_pager_unsupported_is_a_notification(make_app):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await open_logs(app, pilot)
        await pilot.press("o")  # the headless driver cannot suspend
        await wait_for(pilot, lambda: any(n.message.startswith("pager:") for n in app._notifications),
                       message="an error notification")


def test_pager_command_and_plain_print_fallback(tmp_path):
    assert pager_command({"PAGER": "cat -v"}) == ["cat", "-v"]
    assert pager_command({"PAGER": "no-such-pager-kubedeck"}) is None
    default = pager_command({})
    assert default is None or default[:2] == ["less", "-R"]

    class Out:
        text = ""

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    out, asked = Out(), []
    assert page_lines(["a", "b"], environ={"PAGER": "no-such-pager-kubedeck"}, out=out, wait=asked.append) == 0
    assert out.text == "a\nb\n" and asked and "Enter" in asked[0]


def test_help_lists_the_select_and_pager_keys():
    assert "v select lines" in KEY_HELP
    assert "y copies" in KEY_HELP
    assert "o show the buffer in $PAGER" in KEY_HELP
