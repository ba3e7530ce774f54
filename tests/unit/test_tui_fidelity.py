"""What the TUI shows matches Kubernetes and itself (issue 21), against the fake API.

- `:events` lists newest first, a new event lands on top, and `/` matches an event's
  reason and message;
- focus: after `l` the logs pane is visibly the focused one (accent line, title bar),
  the footer says `/` searches the logs, the prompt (shown above the footer, not under
  it) says whose logs, `escape` gives focus back to the table, where `/` filters rows;
- a Secret's describe has no "StringData:" label, leaves the last-applied annotation out
  (as `kubectl describe`), its YAML masks that annotation, and `x` reveals in both views;
- the screenshot's text runs: the header reads "kubedeck test" and every row of the pods
  table starts in the same column, the selected one included, even for a viewer that
  trims the no-break spaces a run starts with.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_fake_api import CREATED, app_on, serving, wait_for  # noqa: E402

from kubedeck.engine.present.format import MASK  # noqa: E402
from kubedeck.tui.widgets.text_screen import TextScreen  # noqa: E402

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@pytest.fixture
async def fake_api():
    async with serving() as api:
        yield api


@pytest.fixture
def make_app(fake_api, tmp_path):
    return lambda: app_on(fake_api, tmp_path)


def event(name: str, reason: str, message: str, when: str, *, kind="Pod", obj="web-1", type="Normal") -> dict:
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-ev-{name}", "creationTimestamp": when},
            "involvedObject": {"kind": kind, "name": obj, "namespace": "default"},
            "reason": reason, "message": message, "type": type, "count": 1,
            "firstTimestamp": when, "lastTimestamp": when, "source": {"component": "kubelet"}}


def reasons_in_order(table) -> list[str]:
    column = table.kind.headers.index("REASON")
    return [str(table.get_row_at(i)[column]) for i in range(table.row_count)]


async def test_events_newest_first_and_filter_on_reason_and_message(make_app, fake_api):
    # added in an order that is neither time order nor name order
    fake_api.add("events", event("b", "Started", "Started container main", "2026-01-02T11:58:00Z"))
    fake_api.add("events", event("a", "NodeNotReady", "Node node-1 status is now: NodeNotReady",
                                 "2026-01-02T11:59:30Z", kind="Node", obj="node-1"))
    fake_api.add("events", event("c", "Scheduled", "Successfully assigned default/web-1 to node-1",
                                 "2026-01-02T11:50:00Z"))
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        table = app.main_table
        await pilot.press("colon", *"events", "enter")
        await wait_for(pilot, lambda: table.kind.plural == "events" and table.row_count == 3, message="3 events")
        assert reasons_in_order(table) == ["NodeNotReady", "Started", "Scheduled"]
        fake_api.inject("events", "ADDED", event("d", "BackOff", "Back-off restarting failed container",
                                                 "2026-01-02T11:59:59Z", type="Warning"))
        await wait_for(pilot, lambda: table.row_count == 4, message="the new event")
        assert reasons_in_order(table) == ["BackOff", "NodeNotReady", "Started", "Scheduled"]

        await pilot.press("slash", *"NodeNotReady", "enter")
        await wait_for(pilot, lambda: table.row_count == 1, message="/NodeNotReady: one row")
        assert reasons_in_order(table) == ["NodeNotReady"]
        await pilot.press("slash", "ctrl+u", *"back-off", "enter")  # a word of the message only
        await wait_for(pilot, lambda: reasons_in_order(table) == ["BackOff"], message="/back-off")


def footer_keys(app) -> dict[str, str]:
    return {key.description: key.key_display or key.key for key in app.screen.query("FooterKey")}


async def test_focused_pane_is_marked_and_escape_returns_to_the_table(make_app):
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        table = app.main_table
        await wait_for(pilot, lambda: table.row_count == 4)
        table.move_cursor(row=table.get_row_index("uid-default-web-1"))
        # the footer and the pane edges follow focus on the next refresh: waited for, not read at once
        await wait_for(pilot, lambda: footer_keys(app).get("Filter rows") == "/", message="footer: / filters rows")
        main_pane, logs = app.query_one("#main-pane"), app.log_pane
        assert main_pane.styles.border_left[0] == "heavy" and logs.styles.border_left[0] != "heavy"

        await pilot.press("l")
        await wait_for(pilot, lambda: logs.has_focus_within, message="logs focused")
        await wait_for(pilot, lambda: logs.styles.border_left[0] == "heavy"
                       and main_pane.styles.border_left[0] != "heavy", message="the logs pane's edge marked")
        title = app.query_one("#log-title")
        assert title.styles.background != app.query_one("#main-title").styles.background
        await wait_for(pilot, lambda: footer_keys(app).get("Search logs") == "/", message="footer: / searches logs")
        keys = footer_keys(app)
        assert "Filter rows" not in keys and "Back to table" in keys

        await pilot.press("slash")
        assert "search the logs of default/web-1" in app.prompt.placeholder
        await pilot.pause()
        footer = app.screen.query_one("Footer")
        assert app.prompt.region.height == 1 and app.prompt.region.y < footer.region.y  # seen, not under the footer
        await pilot.press("escape")  # closes the prompt, focus back in the logs
        await wait_for(pilot, lambda: logs.has_focus_within, message="logs focused again")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.focused is table, message="escape: table focused")
        await wait_for(pilot, lambda: main_pane.styles.border_left[0] == "heavy", message="the table's edge marked")
        await pilot.press("slash", *"db", "enter")
        await wait_for(pilot, lambda: table.row_count == 1, message="/db filters the pods")


async def test_secret_describe_and_yaml_mask_and_reveal_in_place(make_app, fake_api):
    applied = '{"apiVersion":"v1","kind":"Secret","stringData":{"token":"hunter3"}}'
    fake_api.add("secrets", {"metadata": {"name": "api", "namespace": "default", "uid": "uid-secret-api",
                                          "creationTimestamp": CREATED, "annotations": {LAST_APPLIED: applied}},
                             "type": "Opaque", "data": {"password": "aHVudGVyMg=="}, "stringData": {"token": "hunter3"}})
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        table = app.main_table
        await pilot.press("colon", *"secrets", "enter")
        await wait_for(pilot, lambda: table.kind.plural == "secrets" and table.row_count == 2)
        table.move_cursor(row=table.get_row_index("uid-secret-api"))

        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, TextScreen), message="describe open")
        body = app.screen.body
        assert "StringData" not in body and "Data:" in body
        assert "hunter" not in body and "aHVudGVy" not in body and body.count(MASK) == 2  # password, token
        assert LAST_APPLIED not in body  # kubectl describe leaves it out
        await pilot.press("x")
        await wait_for(pilot, lambda: "hunter2" in app.screen.body, message="x reveals in describe")
        assert "hunter3" in app.screen.body and isinstance(app.screen, TextScreen)
        await pilot.press("escape")

        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, TextScreen), message="YAML open")
        body = app.screen.body
        assert "stringData" not in body and "hunter" not in body and f"{LAST_APPLIED}: {MASK}" in body
        await pilot.press("x")
        await wait_for(pilot, lambda: "hunter2" in app.screen.body, message="x reveals in YAML")
        assert applied in app.screen.body.replace("'", "")


# -- the screenshot, read as a viewer that trims the spaces a text run starts with ------------

def trimmed_lines(svg: str) -> dict[int, dict[int, str]]:
    """Column -> text per line of a Rich SVG, each run placed at its x with its leading
    (no-break) spaces trimmed, as some SVG viewers and text extractors draw it."""
    char_width = float(re.search(r'textLength="([\d.]+)"[^>]*>[^<&]<', svg).group(1))
    lines: dict[int, dict[int, str]] = {}
    for x, y, raw in re.findall(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', svg):
        text = html.unescape(raw)
        lines.setdefault(round(float(y)), {})[round(float(x) / char_width)] = text.strip()
    return lines


def row_text(line: dict[int, str]) -> str:
    out = ""
    for column in sorted(line):
        out = out.ljust(column) + line[column]
    return out


async def screenshot_lines(make_app) -> list[str]:
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        table = app.main_table
        await wait_for(pilot, lambda: table.row_count == 4 and app.status_bar.cluster == "test")
        table.move_cursor(row=table.get_row_index("uid-default-web-2"))
        await pilot.pause()
        return [row_text(line) for _, line in sorted(trimmed_lines(app.export_screenshot()).items())]


async def test_screenshot_header_reads_kubedeck_space_cluster(make_app):
    line = (await screenshot_lines(make_app))[0]
    assert line.lstrip().startswith("kubedeck test  ns:all  view:pods"), line


async def test_screenshot_selected_row_lines_up_with_the_others(make_app):
    lines = await screenshot_lines(make_app)
    header = next(i for i, line in enumerate(lines) if "READY" in line and "RESTARTS" in line)
    rows = [line[1:] for line in lines[header:header + 5]]  # the pane's left edge (focus line) off
    assert [r.split()[1] for r in rows] == ["NAME", "job-x", "db-0", "web-1", "web-2"], rows
    namespace_at = {len(r) - len(r.lstrip()) for r in rows}
    name_at = {r.index(r.split()[1], len(r) - len(r.lstrip()) + len(r.split()[0])) for r in rows}
    assert len(namespace_at) == 1 and len(name_at) == 1, f"rows start in different columns: {rows}"
