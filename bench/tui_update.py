"""tui_update_ms: with 1,000 pods in the pods view (headless Textual, 120x40, fed by the
in-process fake API from tests/), the p95 time to apply one batch of pod changes and
repaint the screen.

One sample = the app's watch callback (`_on_event`) for every pod of the batch, the
table's per-frame `flush()` that applies them, and the next compositor refresh of the
screen, including turning the update into terminal output (which the headless driver
would otherwise skip). Batches are 100 MODIFIED events (status flips, restart counts),
some on visible rows; plus one sample kind of 10 ADDED + 10 DELETED.
There is no baseline program; the target is absolute (one frame at 20 fps).
"""

from __future__ import annotations

import asyncio
import copy
import io
import random
import sys
import time

from common import ROOT, Result, log, median, percentile

sys.path.insert(0, str(ROOT / "tests"))


FLUSH: list[float] = []


async def measure(quick: bool) -> dict:
    from rich.console import Console
    from textual.screen import Screen

    from tui_fake_api import NOW, TOKEN, FakeApi, dataset, pod, wait_for

    from kubedeck.tui.app import KubedeckApp
    from kubedeck.tui.widgets.resource_table import ResourceTable

    api = FakeApi()
    dataset(api)
    base = [pod(f"bulk-{i:04d}", ns="bulk", phase="Running") for i in range(1000)]
    for p in base:
        api.add("pods", p)
    await api.start()
    import tempfile

    cfg = tempfile.mkdtemp(prefix="kdbench-tui-")
    app = KubedeckApp(api_url=api.url, token=TOKEN, now=lambda: NOW, status_interval=5, retry_delay=0.05,
                      config_dir=__import__("pathlib").Path(cfg))
    samples: list[float] = []
    churn: list[float] = []
    painted = asyncio.Event()
    sink = Console(file=io.StringIO(), width=120, height=40, force_terminal=True, color_system="truecolor")
    orig_refresh = Screen._compositor_refresh

    def timed_refresh(screen) -> None:
        update = screen._compositor.render_update(screen_stack=screen.app._background_screens) \
            if screen is screen.app.screen else None
        if update is not None:
            # what a real terminal driver would do with the update
            sink.file.seek(0)
            sink.file.truncate()
            for seg in update.render_segments(sink) if hasattr(update, "render_segments") else []:
                sink.file.write(seg if isinstance(seg, str) else seg.text)
            screen._dirty_widgets.clear()
            screen.app._update_mouse_over(screen)
        else:
            orig_refresh(screen)
        painted.set()

    Screen._compositor_refresh = timed_refresh
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.query_one("#main", ResourceTable)
            await wait_for(pilot, lambda: table.row_count == 1004, timeout=60)
            kind = app.informers["pods"].kind
            rounds = 40 if quick else 150
            rng = random.Random(7)
            visible = [p for p in base[:30]]
            states = ["CrashLoopBackOff", None, "ContainerCreating", None]
            for r in range(rounds):
                batch = rng.sample(base, 90) + rng.sample(visible, 10)
                events = []
                for p in batch:
                    q = copy.deepcopy(p)
                    w = states[r % len(states)]
                    cs = q["status"]["containerStatuses"][0]
                    cs["restartCount"] = r
                    cs["ready"] = w is None
                    cs["state"] = {"waiting": {"reason": w}} if w else {"running": {"startedAt": NOW.isoformat()}}
                    events.append(("MODIFIED", q))
                kind_churn = r % 5 == 4
                if kind_churn:  # 10 pods come, 10 go
                    for j in range(10):
                        events.append(("ADDED", pod(f"new-{r}-{j}", ns="bulk")))
                    if r >= 9:
                        for j in range(10):
                            events.append(("DELETED", pod(f"new-{r - 5}-{j}", ns="bulk")))
                await pilot.pause()
                painted.clear()
                t0 = time.perf_counter()
                for et, obj in events:
                    app._on_event(kind, et, obj)
                t_f = time.perf_counter()
                table.flush()
                FLUSH.append((time.perf_counter() - t_f) * 1000)
                table.refresh()
                await asyncio.wait_for(painted.wait(), 10)
                dt = (time.perf_counter() - t0) * 1000
                (churn if kind_churn else samples).append(dt)
            rows = table.row_count
    finally:
        Screen._compositor_refresh = orig_refresh
        await api.stop()
        import shutil

        shutil.rmtree(cfg, ignore_errors=True)
    return {"modified": samples, "churn": churn, "rows": rows, "flush": FLUSH}


def run(docker, quick: bool) -> Result:
    data = asyncio.run(measure(quick))
    allv = data["modified"] + data["churn"]
    p95 = percentile(allv, 95)
    log(f"tui: {len(allv)} batches, median {median(allv):.1f} ms, p95 {p95:.1f} ms")
    res = Result("tui_update_ms", p95, "<= 50",
                 "p95: apply a batch of 100 pod changes + repaint, 1,000 pods, headless Textual 120x40",
                 baseline_label="(absolute target, no baseline)", baseline=None, kubedeck=p95, unit="ms",
                 repeats=len(allv), spread=f"median {median(allv):.1f} ms, max {max(allv):.1f} ms")
    res.rows.append({"label": "modify", "detail": "100 MODIFIED: median / p95",
                     "value": f"{median(data['modified']):.1f} / {percentile(data['modified'], 95):.1f} ms"})
    res.rows.append({"label": "flush", "detail": "of which table.flush() (apply to rows): median / p95",
                     "value": f"{median(data['flush']):.1f} / {percentile(data['flush'], 95):.1f} ms"})
    if data["churn"]:
        res.rows.append({"label": "churn", "detail": "100 MODIFIED + 10 ADDED + 10 DELETED: median / p95",
                         "value": f"{median(data['churn']):.1f} / {percentile(data['churn'], 95):.1f} ms"})
    res.notes.append("the fake API's HTTP/JSON path is outside the sample; the informer callbacks are inside")
    return res
