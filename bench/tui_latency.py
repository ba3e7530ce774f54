"""tui_first_paint_s, tui_status_ms and tui_first_paint_1000_s: the TUI against a real
`kubedeck serve` engine.

tui_first_paint_s: the median time from starting `kubedeck ui` (a fresh Python process
in a pseudo-terminal of 150x50, so imports, CSS, the API list and the terminal output are
all inside) until the terminal has received a frame showing every pod of the cluster
(5 Running busybox pods) in the pods table. Rows: the same in-process (a headless app
built in an already warm interpreter: the TUI's own start-up without Python's imports)
and the bare interpreter start (`python -c pass`) as the floor.

tui_first_paint_1000_s: the same fresh-process start with 1,000 more pods listed (Pending:
their nodeSelector matches no node, so no containers), until the first screen shows.

tui_status_ms: p95 over >= 20 repeats of the time from sending `DELETE pod` to the API to
the first frame (headless app, 150x60, output rendered to a sink as a terminal driver
would) whose pods table shows that pod as Terminating. The DELETE is sent from a thread,
so the app's event loop runs as it would with any other client; the sample includes the
HTTP round trip of the DELETE itself. Baseline row: the same delete seen by a bare watch
connection (aiohttp) in the same process: the engine's part of the latency. Sampling
starts once the app's start-up work after its first frame is done and drawn (that start
is what tui_first_paint_s measures).
"""

from __future__ import annotations

import asyncio
import fcntl
import io
import json
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from common import BUSYBOX, Engine, Result, log, median, percentile, spread, wait_for

FIRST_PAINT_PODS = 5
MANY_PODS = 1000
PTY_SIZE = (150, 50)
STATUS_SIZE = (150, 60)


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default",
                                                            "labels": {"bench": "tui"}},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": BUSYBOX, "command": ["sleep", "3600"]}]}}


def pending_pod(i: int) -> dict:
    """A pod no node can take (its nodeSelector matches none): listed and shown, never run."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"aaa-many-{i:04d}", "namespace": "default", "labels": {"bench": "many"}},
            "spec": {"nodeSelector": {"kdbench": "nowhere"},
                     "containers": [{"name": "main", "image": BUSYBOX, "command": ["sleep", "3600"]}]}}


def create_many(eng: Engine, n: int) -> None:
    """n pending pods, created over 8 connections."""
    from concurrent.futures import ThreadPoolExecutor

    from kubedeck.engine.client import Client

    clients = [Client.for_state(eng.state) for _ in range(8)]
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: clients[i % 8].create(pending_pod(i)), range(n)))
    finally:
        for c in clients:
            c.close()


def wait_running(eng: Engine, n: int, timeout: float = 180) -> None:
    wait_for(lambda: eng.running("bench=tui") >= n, timeout, 0.2, what=f"{n} pods Running")


# ---- frames ------------------------------------------------------------------------------
class Frames:
    """Calls `watchers` after every frame the app outputs; a headless app's frames are
    rendered to a string sink, as the terminal driver would write them."""

    def __init__(self) -> None:
        from rich.console import Console

        self.watchers: list = []
        self.count = 0
        self.sink = Console(file=io.StringIO(), width=200, height=80, force_terminal=True,
                            color_system="truecolor")

    def __enter__(self) -> "Frames":
        from textual.app import App

        self._orig = orig = App._display
        frames = self

        def display(app, screen, renderable) -> None:
            orig(app, screen, renderable)
            if renderable is None or app._batch_count:
                return
            if app.is_headless:
                frames.sink.file.seek(0)
                frames.sink.file.truncate()
                frames.sink.file.write(renderable.render_segments(frames.sink))
            frames.count += 1
            now = time.perf_counter()
            for watcher in list(frames.watchers):
                watcher(app, now)

        App._display = display
        return self

    def __exit__(self, *exc) -> None:
        from textual.app import App

        App._display = self._orig


def names_on_screen(app, names: set[str]) -> bool:
    table = app.main_table
    shown = {str(table.get_cell(key, "NAME")) for key in table.rows}
    return names <= shown


# ---- first paint ---------------------------------------------------------------------------
def first_paint_pty(eng: Engine, names: list[str], config: Path, timeout: float = 30) -> float:
    """Seconds from spawning `kubedeck ui` on a pty until its output holds every name."""
    master, slave = pty.openpty()
    cols, rows = PTY_SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", XDG_CONFIG_HOME=str(config),
               PYTHONPYCACHEPREFIX=str(config / "pycache"))
    # compiled modules cached (by the warm-up start) as an installed package has them: with
    # PYTHONDONTWRITEBYTECODE in the environment every start compiled kubedeck's sources
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "kubedeck", "--state", str(eng.state), "ui"],
                            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    out = b""
    painted = None
    try:
        deadline = t0 + timeout
        while painted is None:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise RuntimeError("kubedeck ui did not show the pods in time; last output: "
                                   + out[-500:].decode(errors="replace"))
            ready, _, _ = select.select([master], [], [], min(left, 0.5))
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                raise RuntimeError("kubedeck ui exited: " + out[-1000:].decode(errors="replace")) from None
            out += chunk
            if all(name.encode() in out for name in names):
                painted = time.perf_counter() - t0
        os.write(master, b"q")
        deadline = time.perf_counter() + 10
        while proc.poll() is None and time.perf_counter() < deadline:  # keep draining the pty
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        return painted
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        os.close(master)


async def first_paint_in_process(conn, names: set[str], config: Path, frames: Frames) -> float:
    from kubedeck.tui.app import KubedeckApp

    done = asyncio.Event()
    took: list[float] = []
    t0 = time.perf_counter()

    def watcher(app, now: float) -> None:
        if not took and names_on_screen(app, names):
            took.append(now - t0)
            done.set()

    frames.watchers.append(watcher)
    try:
        app = KubedeckApp(api_url=conn.url, token=conn.token, ca=conn.ca, config_dir=config)
        async with app.run_test(size=PTY_SIZE):
            await asyncio.wait_for(done.wait(), 30)
    finally:
        frames.watchers.remove(watcher)
    return took[0]


def python_start() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t0


# ---- status latency --------------------------------------------------------------------------
async def bare_watch(conn, seen: dict[str, float], stop: asyncio.Event) -> None:
    import aiohttp

    url = conn.url
    headers = {"Authorization": f"Bearer {conn.token}"}
    async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(ssl=conn.ssl())) as s:
        async with s.get(f"{url}/api/v1/namespaces/default/pods") as r:
            rv = (await r.json())["metadata"]["resourceVersion"]
        async with s.get(f"{url}/api/v1/namespaces/default/pods",
                         params={"watch": "1", "resourceVersion": rv},
                         timeout=aiohttp.ClientTimeout(total=None)) as r:
            while not stop.is_set():
                line = await r.content.readline()
                if not line:
                    return
                event = json.loads(line)
                meta = event["object"]["metadata"]
                if meta.get("deletionTimestamp") and meta["name"] not in seen:
                    seen[meta["name"]] = time.perf_counter()


async def status_latency(eng: Engine, conn, names: list[str], config: Path, frames: Frames) -> dict:
    from kubedeck.tui.app import ALWAYS_WATCHED, KubedeckApp

    app = KubedeckApp(api_url=conn.url, token=conn.token, ca=conn.ca, config_dir=config)
    watched: dict[str, float] = {}
    stop = asyncio.Event()
    ui: list[float] = []
    after_reply: list[float] = []
    engine_only: list[float] = []
    to_app: list[float] = []
    to_table: list[float] = []
    target: dict = {}

    def status(name: str) -> str | None:
        table = app.main_table
        for key in table.rows:
            if str(table.get_cell(key, "NAME")) == name:
                return str(table.get_cell(key, "STATUS"))
        return None

    def watcher(app_, now: float) -> None:
        if app_ is app and target.get("name") and "at" not in target and status(target["name"]) == "Terminating":
            target["at"] = now
            target["event"].set()

    async def until(predicate, timeout: float, what: str) -> None:
        deadline = time.perf_counter() + timeout
        while not predicate():
            if time.perf_counter() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            await asyncio.sleep(0.02)

    on_event = app._on_event

    def timed_on_event(kind, event_type, obj) -> None:
        meta = obj.get("metadata", {})
        if meta.get("name") == target.get("name") and meta.get("deletionTimestamp") and "recv" not in target:
            target["recv"] = time.perf_counter()
        on_event(kind, event_type, obj)

    app._on_event = timed_on_event
    from kubedeck.tui.widgets.resource_table import ResourceTable

    orig_flush = ResourceTable.flush

    def timed_flush(table) -> int:
        n = orig_flush(table)
        if n and table is app.main_table and "recv" in target and "applied" not in target:
            target["applied"] = time.perf_counter()
        return n

    ResourceTable.flush = timed_flush
    frames.watchers.append(watcher)
    watch_task = asyncio.create_task(bare_watch(conn, watched, stop))
    try:
        async with app.run_test(size=STATUS_SIZE):
            table = app.main_table
            await until(lambda: names_on_screen(app, set(names)), 60, "all pods on screen")
            # The samples start once the start-up work held back until after the first frame
            # (the side panes' lists, the first status read: tui/app.py _after_first_frame)
            # has run and been drawn: a DELETE sent at once waited behind it, 117-151 ms to the
            # app, the worst sample of every run before. The first frame is tui_first_paint_s.
            await until(lambda: app.status_bar.cluster and all(
                app.informers[p].synced for p in ALWAYS_WATCHED if p in app.informers), 10,
                "the start-up work after the first frame")
            drawn = frames.count
            await until(lambda: frames.count > drawn, 10, "a frame after the start-up work")
            for name in names:
                key = next(k for k in table.rows if str(table.get_cell(k, "NAME")) == name)
                row = table.get_row_index(key)
                if not table.scroll_offset.y <= row < table.scroll_offset.y + table.scrollable_content_region.height - 1:
                    raise RuntimeError(f"{name} is not on screen (row {row})")
                target.clear()
                target.update(name=name, event=asyncio.Event())
                t0 = time.perf_counter()
                await asyncio.to_thread(eng.client.delete, "Pod", "default", name)
                t_reply = time.perf_counter()
                await asyncio.wait_for(target["event"].wait(), 10)
                ui.append((target["at"] - t0) * 1000)
                to_app.append((target.get("recv", target["at"]) - t0) * 1000)
                to_table.append((target.get("applied", target["at"]) - t0) * 1000)
                after_reply.append(max(0.0, target["at"] - t_reply) * 1000)
                await until(lambda name=name: name in watched, 10, "the bare watch event")
                engine_only.append((watched[name] - t0) * 1000)
                # the next sample starts from a quiet screen: this pod gone
                await until(lambda name=name: status(name) is None, 60, f"{name} removed")
    finally:
        ResourceTable.flush = orig_flush
        frames.watchers.remove(watcher)
        stop.set()
        watch_task.cancel()
        try:
            await watch_task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing
            pass
    return {"ui": ui, "after_reply": after_reply, "engine": engine_only, "to_app": to_app, "to_table": to_table}


# ---- the benchmark ---------------------------------------------------------------------------
def run(docker, quick: bool) -> list[Result]:
    starts = 2 if quick else 7
    repeats = 20 if quick else 40
    config = Path(tempfile.mkdtemp(prefix="kdbench-tui-cfg-"))
    try:
        with Engine(docker) as eng:
            conn = eng.connection()
            paint_names = [f"fp-{i}" for i in range(FIRST_PAINT_PODS)]
            for name in paint_names:
                eng.client.create(pod(name))
            wait_running(eng, FIRST_PAINT_PODS)

            first_paint_pty(eng, paint_names, config)  # warm-up: page cache, .pyc files
            cold = [first_paint_pty(eng, paint_names, config) for _ in range(starts)]
            floor = [python_start() for _ in range(starts)]
            with Frames() as frames:
                asyncio.run(first_paint_in_process(conn, set(paint_names), config, frames))  # warm-up
                warm = [asyncio.run(first_paint_in_process(conn, set(paint_names), config, frames))
                        for _ in range(starts)]
                log(f"tui first paint: cold {median(cold):.2f} s, in-process {median(warm):.2f} s")

                lat_names = [f"lat-{i:02d}" for i in range(repeats)]
                for name in lat_names:
                    eng.client.create(pod(name))
                wait_running(eng, FIRST_PAINT_PODS + repeats, timeout=300)
                data = asyncio.run(status_latency(eng, conn, lat_names, config, frames))
            # last, so the status figure above is not measured with 1,000 extra rows; their
            # names sort first (in the namespace the TUI opens on), so they fill the first screen
            many, many_error = [], ""
            try:
                t0 = time.perf_counter()
                create_many(eng, MANY_PODS)
                log(f"{MANY_PODS} pending pods created in {time.perf_counter() - t0:.1f} s")
                many_names = ["aaa-many-0000", "aaa-many-0005"]  # the table shows ~20 rows at 150x50
                first_paint_pty(eng, many_names, config)  # warm-up
                many = [first_paint_pty(eng, many_names, config) for _ in range(starts)]
                log(f"tui first paint with {MANY_PODS} pods: {median(many):.2f} s")
            except Exception as e:  # noqa: BLE001 - report it in its own figure, keep the others
                many_error = f"{type(e).__name__}: {str(e)[:300]}"
    finally:
        shutil.rmtree(config, ignore_errors=True)

    paint = Result("tui_first_paint_s", median(cold), "<= 0.7",
                   f"start `kubedeck ui` (fresh process, pty {PTY_SIZE[0]}x{PTY_SIZE[1]}) until the terminal "
                   f"shows all {FIRST_PAINT_PODS} pods",
                   baseline_label="python -c pass (interpreter start)", baseline=median(floor),
                   kubedeck=median(cold), unit="s", repeats=len(cold), spread=spread(cold))
    paint.rows.append({"label": "in-process", "detail": "headless app in a warm interpreter: median / max",
                       "value": f"{median(warm):.3f} / {max(warm):.3f} s"})
    paint.rows.append({"label": "cold max", "detail": "slowest fresh-process start",
                       "value": f"{max(cold):.3f} s"})
    paint.notes.append("median of the repeats after one warm-up start; the cluster runs in a separate "
                       "`kubedeck serve` process")

    paint_many = Result("tui_first_paint_1000_s", median(many) if many else None, "<= 1.5",
                        f"start `kubedeck ui` (fresh process, pty {PTY_SIZE[0]}x{PTY_SIZE[1]}) until the terminal "
                        f"shows the first screen of {MANY_PODS + FIRST_PAINT_PODS + len(data['ui'])} pods",
                        baseline_label=f"the same with {FIRST_PAINT_PODS} pods (tui_first_paint_s)",
                        baseline=median(cold), kubedeck=median(many) if many else None, unit="s",
                        repeats=len(many), spread=spread(many), error=many_error)
    paint_many.notes.append(f"{MANY_PODS} pods that no node can take (Pending, no "
                            "containers): the engine lists and the TUI shows them all")

    ui = data["ui"]
    p95 = percentile(ui, 95)
    status = Result("tui_status_ms", p95, "<= 200",
                    f"p95: DELETE a Running pod until a frame shows it Terminating, {len(ui)} repeats, "
                    f"{FIRST_PAINT_PODS + repeats} pods",
                    baseline_label="bare watch connection sees the change (p95)",
                    baseline=percentile(data["engine"], 95), kubedeck=p95, unit="ms", repeats=len(ui),
                    spread=f"median {median(ui):.1f} ms, max {max(ui):.1f} ms")
    status.rows.append({"label": "median", "detail": "DELETE sent -> frame", "value": f"{median(ui):.1f} ms"})
    status.rows.append({"label": "after reply", "detail": "DELETE answered -> frame: median / p95",
                        "value": f"{median(data['after_reply']):.1f} / {percentile(data['after_reply'], 95):.1f} ms"})
    status.rows.append({"label": "engine", "detail": "DELETE sent -> bare watch event: median / p95",
                        "value": f"{median(data['engine']):.1f} / {percentile(data['engine'], 95):.1f} ms"})
    status.rows.append({"label": "to the app", "detail": "DELETE sent -> the TUI's informer has the event: median / p95",
                        "value": f"{median(data['to_app']):.1f} / {percentile(data['to_app'], 95):.1f} ms"})
    status.rows.append({"label": "to the table", "detail": "DELETE sent -> the table applied it: median / p95",
                        "value": f"{median(data['to_table']):.1f} / {percentile(data['to_table'], 95):.1f} ms"})
    worst = sorted(zip(ui, data["to_app"], data["to_table"]), reverse=True)[:3]
    status.rows.append({"label": "worst 3", "detail": "frame (event in app, applied to table) ms",
                        "value": ", ".join(f"{f:.0f} ({a:.0f}, {t:.0f})" for f, a, t in worst)})
    status.notes.append("headless Textual; frames rendered to a string sink as the terminal driver would")
    return [paint, status, paint_many]
