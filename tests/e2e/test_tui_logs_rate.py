"""The logs pane following a real container that prints more than 10,000 lines a second.

A busybox pod prints `ready`, waits for the test's go (a file made by `docker exec`, so the
pane is already following when the flood starts), then prints the numbers 1..TOTAL with
`seq` in paced batches (BATCH lines, then 0.1 s), about 20,000 lines/s for 3 seconds,
then `done`. TOTAL is larger than the pane's ring buffer, so the pane must end up holding
the newest MAX_LINES lines, contiguous and in order, and count every older line as
dropped, in its title: no line is lost silently. Docker's own timestamps (the `T` toggle)
prove the container really printed at >= 10,000 lines/s.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import yaml

from kubedeck.tui.widgets.log_pane import MAX_LINES

from test_tui_engine import SIZE, make_app, select, status_of, until  # noqa: F401,F811 - fixture

BATCH = 2000
BATCHES = 30
TOTAL = BATCH * BATCHES

FLOOD = (
    "echo ready; "
    "while [ ! -e /tmp/go ]; do sleep 0.05; done; "
    f"i=0; while [ $i -lt {BATCHES} ]; do "
    f"seq $((i*{BATCH}+1)) $(((i+1)*{BATCH})); i=$((i+1)); sleep 0.1; done; "
    "echo done; sleep 3600"
)


def flood_pod() -> str:
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "flood", "labels": {"app": "flood"}},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [
            {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", FLOOD]}]},
    }, sort_keys=False)


def stamp(line: str) -> float:
    """Seconds of Docker's RFC 3339 (nanosecond) timestamp at the start of `line`."""
    text = line.split(" ", 1)[0].rstrip("Z")
    whole, _, frac = text.partition(".")
    base = datetime.fromisoformat(whole).replace(tzinfo=timezone.utc).timestamp()
    return base + float("0." + (frac or "0"))


def body(line: str) -> str:
    return line.split(" ", 1)[1] if " " in line else ""


async def test_ten_thousand_lines_per_second_are_kept_in_order_or_counted(engine, make_app):  # noqa: F811
    engine.write("flood.yaml", flood_pod())
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.main_table
        pane = app.log_pane
        await until(pilot, lambda: status_of(table, "flood") == "Running", what="flood Running on screen")
        select(table, "flood")
        await pilot.press("l")
        await until(pilot, lambda: pane.pod == ("default", "flood"), what="the pane on the flood pod")
        await pilot.press("0", "0", "0", "T")  # tail 500 > 2000 > 100 > all; Docker timestamps on
        await until(pilot, lambda: pane.tail is None and pane.timestamps, what="tail all, timestamps")
        await until(pilot, lambda: any(body(line) == "ready" for line in pane.lines), what="ready (following)")
        received_before_go = len(pane.lines) + pane.dropped

        container = next(c for c in engine.containers()
                         if c.labels.get("io.kubernetes.pod.name") == "flood"
                         and c.labels.get("io.kubernetes.container.name") == "main")
        started = time.monotonic()
        assert container.exec_run(["touch", "/tmp/go"]).exit_code == 0
        await until(pilot, lambda: pane.lines and body(pane.lines[-1]) == "done", timeout=120,
                    what="the last line (done) in the pane")
        took = time.monotonic() - started
        await until(pilot, lambda: pane.log_widget.line_count == MAX_LINES
                    and body(pane.log_widget.lines[-1]) == "done", what="the screen caught up")

        lines = list(pane.lines)
        numbers = [int(body(line)) for line in lines[:-1]]
        # the newest MAX_LINES lines, every one, in order
        assert len(lines) == MAX_LINES
        assert numbers == list(range(TOTAL - len(numbers) + 1, TOTAL + 1))
        # everything older is counted, and shown: ready + TOTAL numbers + done were received
        assert received_before_go == 1
        assert pane.dropped + len(lines) == TOTAL + 2
        assert f"dropped:{pane.dropped}" in pane._title()
        assert f"dropped:{pane.dropped}" in str(pane._title_widget.render())
        # what is on screen is the buffer, nothing lost between the two
        assert list(pane.log_widget.lines) == lines

        # the container really printed at >= 10,000 lines/s (Docker's timestamps)
        first, last = stamp(lines[0]), stamp(lines[-2])
        rate = (len(numbers) - 1) / max(last - first, 1e-9)
        assert rate >= 10_000, f"the pod printed only {rate:.0f} lines/s; the test needs >= 10,000"
        print(f"\ncontainer rate over the kept lines: {rate:,.0f} lines/s; "
              f"{TOTAL + 2} lines through the pane in {took:.2f} s ({(TOTAL + 2) / took:,.0f} lines/s)")
