"""any_cluster_first_paint_5000_s and any_cluster_update_5000_ms: `kubedeck ui --context`
(the TUI as a plain Kubernetes client, issue 17) on a cluster of 5,000 pods in 50
namespaces.

The cluster is a `kubedeck serve` engine with `KUBEDECK_NO_EXTRAS=1`, so it answers only
the standard Kubernetes endpoints, reached through a copy of its kubeconfig in a temp file
(HTTPS, its CA, its token) and nothing else. The 50 namespaces and 5,000 pods (100 each)
are created through the API, concurrently; the pods carry a nodeSelector no node matches,
so they stay Pending and no container runs (kubedeck has no fake node agent; a stopped
node would evict them). The pods of the first namespace carry a finalizer, so a DELETE
leaves them listed as Terminating until the benchmark removes it.

First paint (same definition as tui_first_paint_1000_s, same target): the median time from
spawning `kubedeck --kubeconfig F --context C ui` (a fresh process on a 150x50 pty) until
its terminal output holds the first screen of the all-namespaces pods list (the 1st and
6th pod of the namespace sorted first). Baseline: the same start on a second engine that
holds only that namespace's 100 pods, the starts of both interleaved (this machine's load
moves a lot); a row gives the ui process's CPU time until then.

Update latency (same path and target as tui_status_ms): in another fresh `ui` process, p95
over >= 20 repeats of the time from sending `DELETE` for a pod on screen until the pty has
received the output after which the terminal (emulated by pyte) shows that pod's row as
Terminating. The TUI's process is separate, so nothing here runs on its event loop.
Baseline: a bare aiohttp watch of all pods in this process sees the same change (the
engine's part); a row gives the TUI's own part, frame minus bare watch, per sample.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

from common import BUSYBOX, Engine, Result, log, median, percentile, spread

NAMESPACES = 50
PER_NAMESPACE = 100
PTY_SIZE = (150, 50)
HOLD = "kdbench.io/hold"  # finalizer: a deleted pod stays, Terminating, until it is removed
FIRST_SCREEN = ("b00-pod-000", "b00-pod-005")  # the table shows ~20 rows at 150x50


def namespace(i: int) -> str:  # sorts before default and kube-system: the first screen is bench-00
    return f"bench-{i:02d}"


def pod(ns_index: int, j: int) -> dict:
    meta = {"name": f"b{ns_index:02d}-pod-{j:03d}", "namespace": namespace(ns_index), "labels": {"bench": "scale"}}
    if ns_index == 0:
        meta["finalizers"] = [HOLD]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeSelector": {"kdbench": "nowhere"},
                     "containers": [{"name": "main", "image": BUSYBOX, "command": ["sleep", "3600"]}]}}


# ---- the API, from this process ------------------------------------------------------------
def session(conn, limit: int = 16):
    import aiohttp

    return aiohttp.ClientSession(conn.url, headers=conn.headers(),
                                 connector=aiohttp.TCPConnector(ssl=conn.ssl(), limit=limit))


async def create_all(conn, bodies: list[tuple[str, dict]]) -> None:
    """POST every (path, body), 16 at a time."""
    async with session(conn) as s:
        sem = asyncio.Semaphore(16)

        async def post(path: str, body: dict) -> None:
            async with sem, s.post(path, json=body) as r:
                if r.status >= 300:
                    raise RuntimeError(f"POST {path}: {r.status} {(await r.text())[:300]}")

        await asyncio.gather(*(post(p, b) for p, b in bodies))


def pod_bodies(ns_indexes) -> list[tuple[str, dict]]:
    return [(f"/api/v1/namespaces/{namespace(i)}/pods", pod(i, j)) for i in ns_indexes for j in range(PER_NAMESPACE)]


async def list_times(conn, n: int) -> tuple[list[float], int, int]:
    """Seconds per `GET /api/v1/pods` (all namespaces), the bytes and items of the last."""
    times, size, items = [], 0, 0
    async with session(conn, 1) as s:
        for _ in range(n):
            t0 = time.perf_counter()
            async with s.get("/api/v1/pods") as r:
                body = await r.read()
            times.append(time.perf_counter() - t0)
            size = len(body)
        items = len(json.loads(body)["items"])
    return times, size, items


# ---- the TUI on a pty ------------------------------------------------------------------------
class PtyTui:
    """`kubedeck ui --context` on a pty, read from the event loop. Every chunk of output is
    stamped when read; with `emulate()`, it also goes through a pyte terminal, and
    `until(predicate)` gives the stamp of the chunk after which the predicate held."""

    def __init__(self, kubeconfig: Path, context: str, config: Path) -> None:
        self.args = [sys.executable, "-m", "kubedeck", "--kubeconfig", str(kubeconfig), "--context", context, "ui"]
        self.env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", XDG_CONFIG_HOME=str(config))
        self.raw = bytearray()
        self.screen = self.stream = None
        self._waiters: list[tuple] = []
        self.exited = False

    def start(self) -> float:
        loop = asyncio.get_running_loop()
        self.master, slave = pty.openpty()
        cols, rows = PTY_SIZE
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.args, stdin=slave, stdout=slave, stderr=slave, env=self.env,
                                     start_new_session=True)
        os.close(slave)
        loop.add_reader(self.master, self._readable)
        return t0

    def emulate(self) -> None:
        import pyte

        self.screen = pyte.Screen(*PTY_SIZE)
        self.stream = pyte.ByteStream(self.screen)
        self.stream.feed(bytes(self.raw))

    def lines(self) -> list[str]:
        return self.screen.display  # what the terminal shows, a string per line
    def _readable(self) -> None:
        try:
            chunk = os.read(self.master, 65536)
        except OSError:
            chunk = b""
        now = time.perf_counter()
        if not chunk:
            self.exited = True
            asyncio.get_running_loop().remove_reader(self.master)
        self.raw += chunk
        if self.stream is not None and chunk:
            self.stream.feed(chunk)
        for waiter in list(self._waiters):
            predicate, fut = waiter
            if self.exited or predicate():
                self._waiters.remove(waiter)
                if not fut.done():
                    fut.set_result(now)

    async def until(self, predicate, timeout: float, what: str) -> float:
        if predicate():
            return time.perf_counter()
        fut = asyncio.get_running_loop().create_future()
        waiter = (predicate, fut)
        self._waiters.append(waiter)
        try:
            stamp = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            shown = "\n".join(self.lines()) if self.screen is not None else bytes(self.raw[-400:]).decode(
                errors="replace")
            raise RuntimeError(f"kubedeck ui: timed out waiting for {what}; the screen:\n{shown}") from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        if self.exited and not predicate():
            raise RuntimeError("kubedeck ui exited: " + bytes(self.raw[-1000:]).decode(errors="replace"))
        return stamp

    async def quiet(self, seconds: float, timeout: float = 10) -> None:
        """Until no output arrived for `seconds` (the start's log and poll requests settle)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            size = len(self.raw)
            await asyncio.sleep(seconds)
            if len(self.raw) == size:
                return

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    async def stop(self) -> None:
        try:
            if self.proc.poll() is None and not self.exited:
                os.write(self.master, b"q")
                deadline = time.perf_counter() + 10
                while self.proc.poll() is None and time.perf_counter() < deadline:
                    await asyncio.sleep(0.05)  # the reader keeps draining the pty meanwhile
        finally:
            if not self.exited:
                asyncio.get_running_loop().remove_reader(self.master)
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            os.close(self.master)


async def first_paint(target: tuple[Path, str], config: Path) -> tuple[float, float]:
    """(seconds, CPU seconds of the ui process) until the first screen of pods shows."""
    tui = PtyTui(*target, config)
    t0 = tui.start()
    try:
        names = [n.encode() for n in FIRST_SCREEN]
        at = await tui.until(lambda: all(n in tui.raw for n in names), 60, "the first screen of pods")
        stat = Path(f"/proc/{tui.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return at - t0, (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    finally:
        await tui.stop()


# ---- update latency ---------------------------------------------------------------------------
class BareWatch(threading.Thread):
    """A watch of all pods on a thread (and event loop) of its own, so that this process
    feeding the TUI's output through pyte does not delay it: `seen` is when each pod's
    deletionTimestamp arrived."""

    def __init__(self, conn, rv: str) -> None:
        super().__init__(daemon=True)
        self.conn, self.rv = conn, rv
        self.seen: dict[str, float] = {}
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()

    def run(self) -> None:
        try:
            self.loop.run_until_complete(self._watch())
        except asyncio.CancelledError:
            pass

    async def _watch(self) -> None:
        import aiohttp

        self.task = asyncio.current_task()
        async with session(self.conn, 1) as s:
            async with s.get("/api/v1/pods", params={"watch": "1", "resourceVersion": self.rv},
                             timeout=aiohttp.ClientTimeout(total=None)) as r:
                self.ready.set()
                async for line in r.content:
                    meta = json.loads(line)["object"]["metadata"]
                    if meta.get("deletionTimestamp") and meta["name"] not in self.seen:
                        self.seen[meta["name"]] = time.perf_counter()

    def stop(self) -> None:
        if self.ready.is_set():
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.join(10)


def row_of(lines: list[str], name: str) -> str | None:
    return next((line for line in lines if f" {name} " in line), None)


async def update_latency(conn, kubeconfig: Path, context: str, config: Path, repeats: int) -> dict:
    out = {"frame": [], "engine": [], "tui": [], "reply": []}
    async with session(conn, 4) as s:
        async with s.get("/api/v1/pods") as r:
            rv = (await r.json())["metadata"]["resourceVersion"]
        watch = BareWatch(conn, rv)
        watch.start()
        seen = watch.seen
        tui = PtyTui(kubeconfig, context, config)
        tui.start()
        try:
            names = [n.encode() for n in FIRST_SCREEN]
            await tui.until(lambda: all(n in tui.raw for n in names), 60, "the first screen of pods")
            tui.emulate()
            if not await asyncio.to_thread(watch.ready.wait, 30):
                raise RuntimeError("the bare watch did not connect")
            await tui.quiet(0.5)
            for i in range(repeats + 1):  # the first is a warm-up
                # a Pending pod of bench-00 on screen, not the first row (the cursor and logs pane follow it)
                shown = [w for line in tui.lines() for w in line.split() if w.startswith("b00-pod-")]
                name = next((n for n in shown[1:] if "Pending" in (row_of(tui.lines(), n) or "")), None)
                if name is None:
                    raise RuntimeError("no Pending pod of bench-00 on screen:\n" + "\n".join(tui.lines()))
                path = f"/api/v1/namespaces/{namespace(0)}/pods/{name}"
                t0 = time.perf_counter()
                async with s.delete(path) as r:
                    if r.status >= 300:
                        raise RuntimeError(f"DELETE {name}: {r.status} {await r.text()}")
                reply = (time.perf_counter() - t0) * 1000
                at = await tui.until(lambda name=name: "Terminating" in (row_of(tui.lines(), name) or ""), 10,
                                     f"{name} shown Terminating")
                deadline = time.perf_counter() + 10
                while name not in seen:
                    if time.perf_counter() > deadline:
                        raise RuntimeError(f"the bare watch never saw {name} deleted")
                    await asyncio.sleep(0.005)
                if i:
                    out["reply"].append(reply)
                    out["frame"].append((at - t0) * 1000)
                    out["engine"].append((seen[name] - t0) * 1000)
                    out["tui"].append((at - seen[name]) * 1000)
                # release it (the pod goes), and start the next sample from a quiet screen without it
                async with s.patch(path, json={"metadata": {"finalizers": None}},
                                   headers={"Content-Type": "application/merge-patch+json"}) as r:
                    if r.status >= 300:
                        raise RuntimeError(f"PATCH {name}: {r.status} {await r.text()}")
                await tui.until(lambda name=name: row_of(tui.lines(), name) is None, 10, f"{name} gone")
                await tui.quiet(0.1, timeout=2)
            out["rss_mb"] = tui.rss_mb()
        finally:
            await tui.stop()
            watch.stop()
    return out


# ---- the benchmark ---------------------------------------------------------------------------
async def measure(small: Engine, big: Engine, config: Path, quick: bool) -> dict:
    from kubedeck.engine.state import context_name

    starts = 3 if quick else 7
    targets = {}
    for label, eng in (("small", small), ("many", big)):
        kubeconfig = config / f"kubeconfig-{label}"  # only what a user of that cluster would have
        shutil.copy(eng.state / "kubeconfig", kubeconfig)
        targets[label] = (kubeconfig, context_name(eng.name))
        await create_all(eng.connection(), [("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                                     "metadata": {"name": namespace(i)}})
                                            for i in range(1 if label == "small" else NAMESPACES)])
    await create_all(small.connection(), pod_bodies([0]))
    conn = big.connection()
    res: dict = {"small": [], "many": [], "small_cpu": [], "many_cpu": []}
    t1 = time.perf_counter()
    await create_all(conn, pod_bodies(range(NAMESPACES)))
    res["create_s"] = time.perf_counter() - t1
    res["create_rate"] = NAMESPACES * PER_NAMESPACE / res["create_s"]
    log(f"{NAMESPACES * PER_NAMESPACE} pods created in {res['create_s']:.1f} s ({res['create_rate']:.0f}/s)")
    res["list_s"], res["list_bytes"], res["list_items"] = await list_times(conn, 5)
    if res["list_items"] != NAMESPACES * PER_NAMESPACE:
        raise RuntimeError(f"the API lists {res['list_items']} pods, not {NAMESPACES * PER_NAMESPACE}")

    for label in ("small", "many"):  # warm-up: page cache, .pyc files
        await first_paint(targets[label], config)
    for _ in range(starts):  # interleaved, so the machine's load weighs on both alike
        for label in ("small", "many"):
            wall, cpu = await first_paint(targets[label], config)
            res[label].append(wall)
            res[label + "_cpu"].append(cpu)
    log(f"first paint: {median(res['many']):.2f} s with {NAMESPACES * PER_NAMESPACE} pods, "
        f"{median(res['small']):.2f} s with {PER_NAMESPACE}")
    res["update"] = await update_latency(conn, *targets["many"], config, 20 if quick else 40)
    log(f"update p95 {percentile(res['update']['frame'], 95):.1f} ms")
    return res


def run(docker, quick: bool) -> list[Result]:
    config = Path(tempfile.mkdtemp(prefix="kdbench-anycluster-"))
    env = {"KUBEDECK_NO_EXTRAS": "1"}
    try:
        with Engine(docker, env=env) as small, Engine(docker, env=env) as big:
            res = asyncio.run(measure(small, big, config, quick))
    finally:
        shutil.rmtree(config, ignore_errors=True)

    total = NAMESPACES * PER_NAMESPACE
    many, small = res["many"], res["small"]
    paint = Result("any_cluster_first_paint_5000_s", median(many), "<= 1.5",
                   f"start `kubedeck ui --context` (fresh process, pty {PTY_SIZE[0]}x{PTY_SIZE[1]}, standard "
                   f"endpoints only) until the terminal shows the first screen of {total:,} pods in "
                   f"{NAMESPACES} namespaces (all-namespaces list)",
                   baseline_label=f"the same start on a cluster of {PER_NAMESPACE} pods in 1 namespace",
                   baseline=median(small), kubedeck=median(many), unit="s", repeats=len(many), spread=spread(many))
    paint.rows.append({"label": "ratio", "detail": f"{total:,} pods / {PER_NAMESPACE} pods",
                       "value": f"{median(many) / median(small):.2f}"})
    paint.rows.append({"label": "max", "detail": f"slowest start with {total:,} pods", "value": f"{max(many):.3f} s"})
    paint.rows.append({"label": "CPU", "detail": f"the ui process's CPU until then: {total:,} / {PER_NAMESPACE} pods "
                       "(medians; less sensitive to the machine's load)",
                       "value": f"{median(res['many_cpu']):.2f} / {median(res['small_cpu']):.2f} s"})
    ls = res["list_s"]
    paint.rows.append({"label": "API list", "detail": f"GET /api/v1/pods ({res['list_items']:,} pods, "
                       f"{res['list_bytes'] / 1e6:.1f} MB) over TLS: median / max of {len(ls)}",
                       "value": f"{median(ls):.3f} / {max(ls):.3f} s"})
    paint.rows.append({"label": "create", "detail": f"POST of {total:,} pods, 16 concurrent connections",
                       "value": f"{res['create_s']:.1f} s ({res['create_rate']:.0f}/s)"})
    paint.notes.append("medians of starts interleaved with the baseline's, after one warm-up each; both engines "
                       "run with KUBEDECK_NO_EXTRAS=1 and are reached only through a copy of their kubeconfig")

    up = res["update"]
    frame, engine, own = up["frame"], up["engine"], up["tui"]
    p95 = percentile(frame, 95)
    update = Result("any_cluster_update_5000_ms", p95, "<= 200",
                    f"p95: DELETE a pod on screen until the pty output shows it Terminating, fresh "
                    f"`kubedeck ui --context`, {total:,} pods in {NAMESPACES} namespaces",
                    baseline_label="bare watch of all pods sees the change (p95)",
                    baseline=percentile(engine, 95), kubedeck=p95, unit="ms", repeats=len(frame),
                    spread=f"median {median(frame):.1f} ms, max {max(frame):.1f} ms")
    update.rows.append({"label": "ratio", "detail": "frame p95 / bare watch p95",
                        "value": f"{p95 / percentile(engine, 95):.2f}"})
    update.rows.append({"label": "median", "detail": "DELETE sent -> frame", "value": f"{median(frame):.1f} ms"})
    update.rows.append({"label": "TUI's part", "detail": "bare watch event -> frame: median / p95 "
                        "(tui_update_5000_ms's target is 100)",
                        "value": f"{median(own):.1f} / {percentile(own, 95):.1f} ms"})
    update.rows.append({"label": "DELETE reply", "detail": "median / p95",
                        "value": f"{median(up['reply']):.1f} / {percentile(up['reply'], 95):.1f} ms"})
    update.rows.append({"label": "TUI RSS", "detail": f"the ui process with {total:,} pods listed",
                        "value": f"{up['rss_mb']:.0f} MB"})
    update.notes.append("the pty's output goes through a pyte terminal; a sample ends at the arrival of the "
                        "chunk after which the pod's row reads Terminating")
    return [paint, update]
