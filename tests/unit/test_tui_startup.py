"""The TUI's start-up (issue 18): the first frame shows the pods, a list made before the
app started stands in for the first one, and the footer rebuilds only when its keys
change; against the in-process fake API (no sleeps: wait_for)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_fake_api import app_on, pod, serving, wait_for  # noqa: E402


@pytest.fixture
async def fake_api():
    async with serving() as api:
        yield api


def record_frames(app) -> list[int]:
    """The pods table's row count at each frame the app sends to the terminal."""
    shown: list[int] = []
    display = app._display

    def recording(screen, renderable) -> None:
        if renderable is not None and not app._batch_count:
            shown.append(app.main_table.row_count)
        display(screen, renderable)

    app._display = recording
    return shown


async def test_the_first_frame_already_shows_the_pods(fake_api, tmp_path):
    app = app_on(fake_api, tmp_path)
    shown = record_frames(app)
    async with app.run_test(size=(120, 34)) as pilot:
        await wait_for(pilot, lambda: shown, message="a frame")
        assert shown[0] == 4, shown  # never a frame of empty panes first


async def test_the_first_frame_styles_each_pane_once(fake_api, tmp_path, monkeypatch):
    """Mounting styles every widget; the screen's first resume does not style them all
    again (first_frame.MainScreen), and the main table is focused at once, not after
    Textual's auto-focus picked another widget."""
    from collections import Counter

    from textual.css.stylesheet import Stylesheet

    styled: Counter = Counter()
    apply = Stylesheet.apply

    def counting(self, node, **kwargs):
        if not shown:
            styled[getattr(node, "id", None) or type(node).__name__] += 1
        return apply(self, node, **kwargs)

    monkeypatch.setattr(Stylesheet, "apply", counting)
    app = app_on(fake_api, tmp_path, first_lists={"pods": ([pod("early-1")], str(fake_api.rv))})
    shown = record_frames(app)
    async with app.run_test(size=(120, 34)) as pilot:
        await wait_for(pilot, lambda: shown, message="a frame")
        # each table once, the main one again as it takes the focus
        assert (styled["nodes"], styled["services"], styled["main"], styled["_default"]) == (1, 1, 2, 1), styled
        assert app.focused is app.main_table


async def test_a_list_made_before_the_start_stands_in_for_the_first(fake_api, tmp_path):
    rv = str(fake_api.rv)
    app = app_on(fake_api, tmp_path, first_lists={"pods": ([pod("early-1")], rv)})
    shown = record_frames(app)
    asked: list[str] = []  # what the app asked of the API, in order, and where the first frame went out

    def recording(name: str):
        call = getattr(app.api, name)

        def asking(*args, **kwargs):
            asked.append(name)
            return call(*args, **kwargs)
        return asking

    for name in ("_request", "watch", "logs"):
        setattr(app.api, name, recording(name))
    display = app._display

    def frame(screen, renderable) -> None:
        if renderable is not None and not app._batch_count and "frame" not in asked:
            asked.append("frame")
        display(screen, renderable)

    app._display = frame
    async with app.run_test(size=(120, 34)) as pilot:
        table = app.main_table
        await wait_for(pilot, lambda: shown, message="a frame")
        assert shown[0] == 1 and str(table.get_cell("uid-default-early-1", "NAME")) == "early-1"
        # the other panes' lists, the pods' watch, metrics and status all follow the frame
        await wait_for(pilot, lambda: len(asked) > 3, message="requests after the frame")
        assert asked[0] == "frame", asked

        def pod_gets():
            return [r for r in fake_api.calls("GET") if r.path == "/api/v1/pods"]

        await wait_for(pilot, pod_gets, message="the pods' watch")
        assert all(r.query.get("watch") for r in pod_gets()), "no second list of the pods"
        assert pod_gets()[0].query.get("resourceVersion") == rv  # the watch follows that list
        fake_api.inject("pods", "ADDED", pod("late-1"))
        await wait_for(pilot, lambda: table.row_count == 2, message="a pod added after the list")


async def test_the_footer_rebuilds_only_when_its_keys_change(fake_api, tmp_path):
    app = app_on(fake_api, tmp_path)
    async with app.run_test(size=(120, 34)) as pilot:
        await wait_for(pilot, lambda: app.main_table.row_count == 4)
        footer = app.screen.query_one("Footer")
        await wait_for(pilot, lambda: len(footer.query("FooterKey")) > 0, message="footer keys")
        rebuilds = []
        recompose = footer.recompose

        async def counted() -> None:
            rebuilds.append(1)
            await recompose()

        footer.recompose = counted
        app.nodes_table.focus()  # a table like the pods one: the same keys
        await pilot.pause()
        app.services_table.focus()
        await pilot.pause()
        app.main_table.focus()
        await pilot.pause()
        assert rebuilds == []
        await pilot.press("l")  # the logs pane has keys of its own
        await wait_for(pilot, lambda: "Search logs" in {k.description for k in footer.query("FooterKey")},
                       message="the footer shows the logs' keys")
        assert len(rebuilds) == 1


def test_ui_start_loads_only_the_first_screen():
    """`kubedeck ui` loads neither YAML, httpx's command line (click, pygments), the
    client commands nor the screens opened later (x-ray, journey, describe/YAML/help,
    confirm, pickers, the shell)."""
    import subprocess

    later = ("yaml", "click", "pygments", "kubedeck.commands", "kubedeck.printers",
             "kubedeck.tui.xray", "kubedeck.tui.journey", "kubedeck.engine.present.xray",
             "kubedeck.tui.widgets.text_screen", "kubedeck.tui.widgets.confirm",
             "kubedeck.tui.widgets.pick_screen", "kubedeck.tui.help", "kubedeck.tui.shell")
    probe = ("import sys\nimport kubedeck.cli, kubedeck.tui.app\n"
             f"print(','.join(m for m in {later!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


async def test_the_pods_listed_before_the_start_are_the_apis(fake_api, tmp_path):
    """cli.py `_list_pods` (the forked child's step, on http.client): the API's pods and
    resourceVersion, with the state dir's token."""
    import asyncio
    import json

    from kubedeck.cli import _list_pods
    from tui_fake_api import TOKEN

    (tmp_path / "api.json").write_text(json.dumps({"url": fake_api.url, "token": TOKEN}))
    items, rv = await asyncio.to_thread(_list_pods, tmp_path)
    assert sorted(p["metadata"]["name"] for p in items) == sorted(
        p["metadata"]["name"] for p in fake_api.objects["pods"].values()) and len(items) == 4
    assert rv == str(fake_api.rv)
    (tmp_path / "api.json").write_text(json.dumps({"url": fake_api.url, "token": "wrong"}))
    assert await asyncio.to_thread(_list_pods, tmp_path) is None  # refused: the TUI lists and says why


def test_ui_without_an_engine_says_so(tmp_path):
    """The pods' list in the forked child is also the check that an engine answers: none
    started there, or one whose api.json is left but which does not answer."""
    import json
    import socket
    import subprocess

    def ui(state):
        return subprocess.run([sys.executable, "-m", "kubedeck", "--state", str(state), "ui"],
                              capture_output=True, text=True, timeout=60)

    r = ui(tmp_path / "none")
    assert r.returncode == 1, r
    assert r.stderr.startswith("error: no kubedeck cluster is running for state dir"), r.stderr
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    state = tmp_path / "gone"
    state.mkdir()
    (state / "api.json").write_text(json.dumps({"url": f"https://127.0.0.1:{port}", "token": "t"}))
    r = ui(state)
    assert r.returncode == 1, r
    assert r.stderr.startswith(f"error: the kubedeck cluster for {state} is not answering"), r.stderr


@pytest.mark.parametrize("argv", [
    ["ui"], ["--state", "/s", "ui"], ["--state=/s", "ui", "--theme", "kubedeck-light"], ["ui", "--theme=x"],
    ["--state", "ui", "ui"],
])
def test_ui_command_line_read_as_the_full_parser_reads_it(argv):
    from kubedeck.cli import _ui_args, build_parser

    quick, full = _ui_args(argv), build_parser().parse_args(argv)
    assert quick is not None
    assert {k: getattr(full, k) for k in vars(quick)} == vars(quick)


@pytest.mark.parametrize("argv", [
    [], ["get", "pods"], ["ui", "--help"], ["--context", "c", "ui"], ["ui", "--state", "/s"],
    ["--state", "/s"], ["--state", "ui"], ["ui", "--theme"], ["ui", "--theme", "-x"], ["ui", "ui"],
    ["--state", "/a", "--state", "/b", "ui"], ["--sta", "/s", "ui"],
])
def test_other_command_lines_go_to_the_full_parser(argv):
    from kubedeck.cli import _ui_args

    assert _ui_args(argv) is None


async def test_a_first_frame_due_after_the_app_quit_does_nothing():
    """A user who quits before the first screen's data came: the first frame's timer may
    fire while the app exits, with no screen left (a ScreenStackError once in CI)."""
    from textual.app import App

    from kubedeck.tui.first_frame import FirstFrame

    shown: list[int] = []
    app = App()
    async with app.run_test():
        frame = FirstFrame(app, 60, on_show=lambda: shown.append(1))
    assert not app.screen_stack
    frame.show()  # what the timer does then
    assert shown == [] and not frame.shown.is_set()
