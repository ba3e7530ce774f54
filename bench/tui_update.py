"""tui_update_ms and tui_update_5000_ms: with 1,000 (5,000) pods in the pods view
(headless Textual, 120x40, fed by the in-process fake API from tests/), the p95 time to
apply one batch of pod changes and repaint the screen.

One sample = the app's watch callback (`_on_event`) for every pod of the batch, the
table's per-frame `flush()` that applies them, and the next compositor refresh of the
screen, including turning the update into terminal output (which the headless driver
would otherwise skip). Batches are 100 MODIFIED events (status flips, restart counts),
some on visible rows; every fifth batch is a churn batch: the same 100 MODIFIED plus 10
ADDED and 10 DELETED pods (its own row, and its own target). After the samples, in no
figure: how many rows changed off screen wait to be drawn (the table draws them when
scrolled to or read), and five page downs + repaint, which draw them.

Baseline row: a bare Textual `DataTable` with the same columns and rows applying the same
batches (the changed cells' new text, computed before the clock starts, set with
`update_cell`; rows added with `add_row` and removed with `remove_row`) and repainting the
same way: what Textual alone costs, so the figure also reads as a ratio.
"""

from __future__ import annotations

import asyncio
import copy
import io
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, Result, log, median, percentile

sys.path.insert(0, str(ROOT / "tests"))

SIZE = (120, 40)


class Painted:
    """Patches Screen._compositor_refresh so each refresh also renders the update to a
    string sink (what a terminal driver would do) and sets an event."""

    def __init__(self) -> None:
        from rich.console import Console

        self.event = asyncio.Event()
        self.sink = Console(file=io.StringIO(), width=SIZE[0], height=SIZE[1], force_terminal=True,
                            color_system="truecolor")

    def __enter__(self) -> "Painted":
        from textual.screen import Screen

        self._orig = orig = Screen._compositor_refresh
        sink, event = self.sink, self.event

        def timed_refresh(screen) -> None:
            update = screen._compositor.render_update(screen_stack=screen.app._background_screens) \
                if screen is screen.app.screen else None
            if update is not None:
                # one string of terminal output, written at once as the driver does (this
                # harness wrote it a character at a time before: ~15k calls a frame)
                out = sink.file
                out.seek(0)
                out.truncate()
                out.write(update.render_segments(sink))
                screen._dirty_widgets.clear()
                screen.app._update_mouse_over(screen)
            else:
                orig(screen)
            event.set()

        Screen._compositor_refresh = timed_refresh
        return self

    def __exit__(self, *exc) -> None:
        from textual.screen import Screen

        Screen._compositor_refresh = self._orig


def batches(base: list[dict], rounds: int, now_iso: str, make_pod) -> list[tuple[bool, list[tuple[str, dict]]]]:
    """The same event batches for kubedeck and the baseline: (churn?, [(type, pod)])."""
    rng = random.Random(7)
    visible = base[:30]
    states = ["CrashLoopBackOff", None, "ContainerCreating", None]
    out = []
    for r in range(rounds):
        events = []
        for p in rng.sample(base, 90) + rng.sample(visible, 10):
            q = copy.deepcopy(p)
            w = states[r % len(states)]
            cs = q["status"]["containerStatuses"][0]
            cs["restartCount"] = r
            cs["ready"] = w is None
            cs["state"] = {"waiting": {"reason": w}} if w else {"running": {"startedAt": now_iso}}
            events.append(("MODIFIED", q))
        churn = r % 5 == 4
        if churn:  # 10 pods come, 10 go
            events += [("ADDED", make_pod(f"new-{r}-{j}", ns="bulk")) for j in range(10)]
            if r >= 9:
                events += [("DELETED", make_pod(f"new-{r - 5}-{j}", ns="bulk")) for j in range(10)]
        out.append((churn, events))
    return out


async def measure(n: int, rounds: int) -> dict:
    from tui_fake_api import NOW, TOKEN, FakeApi, dataset, pod, wait_for

    from kubedeck.tui.app import KubedeckApp
    from kubedeck.tui.widgets.resource_table import ResourceTable

    api = FakeApi()
    dataset(api)
    base = [pod(f"bulk-{i:04d}", ns="bulk", phase="Running") for i in range(n)]
    for p in base:
        api.add("pods", p)
    work = batches(base, rounds, NOW.isoformat(), pod)
    await api.start()
    cfg = tempfile.mkdtemp(prefix="kdbench-tui-")
    app = KubedeckApp(api_url=api.url, token=TOKEN, now=lambda: NOW, status_interval=5, retry_delay=0.05,
                      config_dir=Path(cfg))
    out: dict[str, list[float]] = {"modified": [], "churn": [], "flush": []}
    try:
        with Painted() as painted:
            async with app.run_test(size=SIZE) as pilot:
                table = app.query_one("#main", ResourceTable)
                await wait_for(pilot, lambda: table.row_count == n + 4, timeout=120)
                kind = app.informers["pods"].kind
                for churn, events in work:
                    await pilot.pause()
                    painted.event.clear()
                    t0 = time.perf_counter()
                    for et, obj in events:
                        app._on_event(kind, et, obj)
                    t_f = time.perf_counter()
                    table.flush()
                    out["flush"].append((time.perf_counter() - t_f) * 1000)
                    table.refresh()
                    await asyncio.wait_for(painted.event.wait(), 10)
                    out["churn" if churn else "modified"].append((time.perf_counter() - t0) * 1000)
                # diagnostics, after the samples: rows changed off screen are drawn when
                # scrolled to, so a page down pays for them
                out["deferred"] = [len(getattr(table, "_deferred", ()))]
                out["page"] = []
                for _ in range(5):
                    await pilot.pause()
                    painted.event.clear()
                    t0 = time.perf_counter()
                    table.action_page_down()
                    await asyncio.wait_for(painted.event.wait(), 10)
                    out["page"].append((time.perf_counter() - t0) * 1000)
    finally:
        await api.stop()
        shutil.rmtree(cfg, ignore_errors=True)
    return out


async def measure_bare(n: int, rounds: int) -> dict:
    """The same batches applied to a plain DataTable: cell text computed beforehand."""
    from textual.app import App
    from textual.widgets import DataTable
    from tui_fake_api import NOW, FakeApi, dataset, pod

    from kubedeck.engine.present.resources import resolve

    kind = resolve("pods")
    headers = kind.headers

    def cells(obj: dict) -> list[str]:
        return list(kind.row(obj, NOW)[0])

    class Bare(App):
        def compose(self):
            yield DataTable(cursor_type="row")

    seed = FakeApi()  # never started: only its dataset
    dataset(seed)
    seed_pods = list(seed.objects["pods"].values())
    base = [pod(f"bulk-{i:04d}", ns="bulk", phase="Running") for i in range(n)]
    rows = {p["metadata"]["uid"]: cells(p) for p in seed_pods + base}
    # what each batch changes, computed outside the clock
    plans = []
    for churn, events in batches(base, rounds, NOW.isoformat(), pod):
        updates, adds, removes = [], [], []
        for et, obj in events:
            uid = obj["metadata"]["uid"]
            if et == "DELETED":
                removes.append(uid)
                rows.pop(uid, None)
            elif uid in rows:
                new = cells(obj)
                updates += [(uid, h, v) for h, v, old in zip(headers, new, rows[uid]) if v != old]
                rows[uid] = new
            else:
                rows[uid] = cells(obj)
                adds.append((uid, rows[uid]))
        plans.append((churn, updates, adds, removes))
    out: dict[str, list[float]] = {"modified": [], "churn": []}
    app = Bare()
    with Painted() as painted:
        async with app.run_test(size=SIZE) as pilot:
            table = app.query_one(DataTable)
            for h in headers:
                table.add_column(h, key=h)
            first = {p["metadata"]["uid"]: cells(p) for p in seed_pods + base}
            for uid, row in sorted(first.items(), key=lambda kv: kv[1][:2]):
                table.add_row(*row, key=uid)
            await pilot.pause()
            for churn, updates, adds, removes in plans:
                await pilot.pause()
                painted.event.clear()
                t0 = time.perf_counter()
                for uid, h, v in updates:
                    table.update_cell(uid, h, v)
                for uid, row in adds:
                    table.add_row(*row, key=uid)
                for uid in removes:
                    table.remove_row(uid)
                table.refresh()
                await asyncio.wait_for(painted.event.wait(), 10)
                out["churn" if churn else "modified"].append((time.perf_counter() - t0) * 1000)
    return out


def _pct(xs: list[float]) -> str:
    return f"{median(xs):.1f} / {percentile(xs, 95):.1f} ms"


def one(n: int, rounds: int, name: str, target: str) -> list[Result]:
    data = asyncio.run(measure(n, rounds))
    bare = asyncio.run(measure_bare(n, rounds))
    allv = data["modified"] + data["churn"]
    ball = bare["modified"] + bare["churn"]
    p95 = percentile(allv, 95)
    log(f"tui {n} pods: {len(allv)} batches, median {median(allv):.1f} ms, p95 {p95:.1f} ms "
        f"(bare DataTable p95 {percentile(ball, 95):.1f} ms)")
    res = Result(name, p95, target,
                 f"p95: apply a batch of 100 pod changes + repaint, {n:,} pods, headless Textual {SIZE[0]}x{SIZE[1]}",
                 baseline_label="bare Textual DataTable, same batches (p95)", baseline=percentile(ball, 95),
                 kubedeck=p95, unit="ms", repeats=len(allv),
                 spread=f"median {median(allv):.1f} ms, max {max(allv):.1f} ms")
    res.rows.append({"label": "ratio", "detail": "p95 kubedeck / bare DataTable",
                     "value": f"{p95 / percentile(ball, 95):.2f}"})
    res.rows.append({"label": "modify", "detail": "100 MODIFIED: median / p95", "value": _pct(data["modified"])})
    res.rows.append({"label": "flush", "detail": "of which table.flush() (apply to rows): median / p95",
                     "value": _pct(data["flush"])})
    res.rows.append({"label": "churn", "detail": "100 MODIFIED + 10 ADDED + 10 DELETED: median / p95",
                     "value": _pct(data["churn"])})
    res.rows.append({"label": "off screen", "detail": "rows changed off screen, drawn when scrolled to or read "
                     "(after the batches)", "value": str(data["deferred"][0])})
    res.rows.append({"label": "page down", "detail": "then page down + repaint, 5 times (draws those rows): "
                     "median / max", "value": f"{median(data['page']):.1f} / {max(data['page']):.1f} ms"})
    res.rows.append({"label": "bare modify", "detail": "bare DataTable, 100 MODIFIED: median / p95",
                     "value": _pct(bare["modified"])})
    res.rows.append({"label": "bare churn", "detail": "bare DataTable, churn batch: median / p95",
                     "value": _pct(bare["churn"])})
    res.notes.append("the fake API's HTTP/JSON path is outside the sample; the informer callbacks are inside")
    churn = Result(f"{name.removesuffix('_ms')}_churn_ms", percentile(data["churn"], 95), target,
                   f"p95 of the churn batches alone (100 MODIFIED + 10 ADDED + 10 DELETED), {n:,} pods",
                   baseline_label="bare Textual DataTable, same batches (p95)",
                   baseline=percentile(bare["churn"], 95), kubedeck=percentile(data["churn"], 95), unit="ms",
                   repeats=len(data["churn"]), spread=f"median {median(data['churn']):.1f} ms")
    return [res, churn]


def run(docker, quick: bool) -> list[Result]:
    main, churn = one(1000, 40 if quick else 150, "tui_update_ms", "<= 50")
    big, _ = one(5000, 20 if quick else 60, "tui_update_5000_ms", "<= 100")
    return [main, churn, big]
