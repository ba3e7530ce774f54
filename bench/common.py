"""Shared pieces of the benchmarks: a throw-away engine, Docker helpers, statistics,
the result record and the table printer.

Every engine the benchmarks start lives in a state dir named `kdbench-xxxxxxxx`, which is
also its cluster name, so cleanup removes exactly what a benchmark made (containers,
networks and volumes labelled `io.kubedeck.cluster=<that name>`). Containers made
directly (the raw-Docker baselines) carry `io.kubedeck.cluster=kdbench-raw-xxxx`.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kubedeck.engine.labels import L_CLUSTER, L_POD, L_ROLE

ROOT = Path(__file__).resolve().parents[1]
BUSYBOX = "busybox:1.36"


def pod_yaml(name: str, app: str, command: list[str], image: str = BUSYBOX) -> str:
    """A one-container Pod manifest for a benchmark: labelled app=APP, no grace period."""
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, labels: {{app: {app}}}}}\nspec:\n"
            f"  terminationGracePeriodSeconds: 0\n  containers:\n"
            f"  - {{name: main, image: {json.dumps(image)}, command: {json.dumps(command)}}}\n")
NGINX_IMAGE = "kubedeck-bench/nginx:1"
# every `kubedeck serve` a benchmark starts: free ingress ports, and the user's kubeconfig left alone
SERVE_ARGS = ("--ingress-http-port", "0", "--ingress-https-port", "0", "--no-kubeconfig")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.02, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - not checkable yet
            last = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last!r})" if last else ""))


# ---- statistics --------------------------------------------------------------------------
def median(xs) -> float:
    return statistics.median(xs) if xs else float("nan")


def percentile(xs, p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def spread(xs) -> str:
    """min..max of the repeats, as a percentage around the median."""
    if len(xs) < 2:
        return "-"
    m = median(xs)
    if not m:
        return "-"
    return f"{(min(xs) - m) / m * 100:+.0f}%/{(max(xs) - m) / m * 100:+.0f}%"


# ---- results -----------------------------------------------------------------------------
@dataclass
class Result:
    name: str                 # headline figure name, e.g. pod_start_ratio
    value: float | None       # headline value (None = not available)
    target: str               # e.g. "<= 1.15"
    what: str                 # what was measured
    baseline_label: str = ""
    baseline: float | None = None
    kubedeck: float | None = None
    unit: str = ""
    repeats: int = 0
    spread: str = "-"
    rows: list[dict] = field(default_factory=list)   # extra detail rows for the table
    notes: list[str] = field(default_factory=list)
    error: str = ""

    def met(self) -> bool | None:
        if self.value is None:
            return None
        op, num = self.target.split()
        return self.value <= float(num) if op == "<=" else self.value >= float(num)

    def to_json(self) -> dict:
        d = asdict(self)
        d["met"] = self.met()
        return d


def fmt(v, unit: str = "") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        s = f"{v:.3g}" if abs(v) < 10 else f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.1f}"
    else:
        s = str(v)
    return f"{s} {unit}".strip()


def print_table(r: Result) -> None:
    print()
    print(f"== {r.name}: {r.what}")
    if r.error:
        print(f"   NOT AVAILABLE: {r.error}")
    rows = [("baseline", r.baseline_label or "-", fmt(r.baseline, r.unit)),
            ("kubedeck", "", fmt(r.kubedeck, r.unit))]
    for extra in r.rows:
        rows.append((extra.get("label", ""), extra.get("detail", ""), extra.get("value", "")))
    w0 = max(len(a) for a, _, _ in rows)
    w2 = max(len(c) for _, _, c in rows)
    for a, b, c in rows:
        print(f"   {a:<{w0}}  {c:>{w2}}  {b}")
    met = r.met()
    verdict = "n/a" if met is None else ("met" if met else "MISSED")
    print(f"   {r.name} = {fmt(r.value)}  (target {r.target}: {verdict})  repeats {r.repeats}, spread {r.spread}")
    for n in r.notes:
        print(f"   note: {n}")


# ---- docker ------------------------------------------------------------------------------
def docker_client():
    import docker

    client = docker.from_env(timeout=120)
    client.ping()
    return client


def ensure_images(client) -> None:
    import docker

    need = False
    for image in (BUSYBOX, NGINX_IMAGE, "kubedeck-bench/wrk:1"):
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            need = True
    if need:
        log("building the offline test images (tests/images/build.sh bench)")
        subprocess.run(["bash", str(ROOT / "tests/images/build.sh"), "bench"], check=True)


def remove_labelled(client, label_value: str) -> None:
    label = f"{L_CLUSTER}={label_value}"
    # the low-level list: the high-level one inspects each and fails on one just removed
    for c in client.api.containers(all=True, filters={"label": label}):
        try:
            client.api.remove_container(c["Id"], force=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
    # a container whose removal was already under way (409) still holds the network
    try:
        wait_for(lambda: not client.api.containers(all=True, filters={"label": label}), 30, 0.2,
                 what="labelled containers removed")
    except Exception as e:  # noqa: BLE001 - report, and try the networks anyway
        log(f"cleanup of {label_value}: {e}")
    for n in client.networks.list(filters={"label": label}):
        try:
            n.remove()
        except Exception as e:  # noqa: BLE001
            log(f"cleanup of {label_value}: network {n.name} not removed: {e}")
    for v in client.volumes.list(filters={"label": label}):
        try:
            v.remove(force=True)
        except Exception:  # noqa: BLE001
            pass


def free_port(lo: int = 31000, hi: int = 32700) -> int:
    for port in range(lo, hi):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


def any_free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the engine --------------------------------------------------------------------------
class Engine:
    """A `kubedeck serve` subprocess in a kdbench-xxxx state dir with its manifest folder."""

    def __init__(self, docker, extra_args=(), env=None):
        self.env = {**os.environ, **(env or {})}
        self.base = Path(tempfile.mkdtemp(prefix="kubedeck-bench-"))
        self.name = f"kdbench-{uuid.uuid4().hex[:8]}"
        self.state = self.base / self.name
        self.folder = self.base / "manifests"
        self.folder.mkdir()
        self.docker = docker
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen | None = None
        self.client = None
        self.log_path = self.base / "engine.log"

    def __enter__(self) -> "Engine":
        try:
            return self.start()
        except BaseException:  # an engine that failed to start still leaves its temp dir
            self.cleanup()
            raise

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def start(self) -> "Engine":
        from kubedeck.engine.client import Client
        from kubedeck.engine.state import read_connection

        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "kubedeck", "--state", str(self.state), "serve",
                                      str(self.folder), *SERVE_ARGS, *self.extra_args],
                                     stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("engine exited:\n" + self.log_path.read_text(errors="replace")[-3000:])
            conn = read_connection(self.state)
            return conn and conn.get("pid") == self.proc.pid
        wait_for(ready, 60, 0.05, what="engine API")
        self.client = Client.for_state(self.state)
        self.profiler = None
        prof_dir = os.environ.get("KDBENCH_PYSPY")
        if prof_dir:  # sample the engine with py-spy while the benchmark runs; --nonblocking:
            # pausing the engine at each sample stalls its loop (467 probe timeouts in one
            # 500-pod scale-up), so the profile would change what it measures
            Path(prof_dir).mkdir(parents=True, exist_ok=True)
            out = Path(prof_dir) / f"{os.environ.get('KDBENCH_NAME', 'engine')}-{self.name}.txt"
            self.profiler = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--nonblocking", "-r", "100",
                                              "-f", "raw", "-o", str(out), "-p", str(self.proc.pid)],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def connection(self):
        """The engine's `Connection` (url, token, CA file; `.ssl()` is the TLS context)."""
        from kubedeck.engine.state import Connection

        return Connection.from_state(self.state)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def write(self, rel: str, text: str) -> Path:
        p = self.folder / rel
        tmp = p.with_name("." + p.name + ".tmp")
        tmp.write_text(textwrap.dedent(text))
        os.replace(tmp, p)
        return p

    def app_containers(self, pod: str) -> list:
        """The running app containers of a pod of this engine."""
        return self.docker.containers.list(filters={"label": [
            f"{L_CLUSTER}={self.name}", f"{L_POD}={pod}", f"{L_ROLE}=app"]})

    def pods(self, selector: str | None = None) -> list[dict]:
        return self.client.list("Pod", "default", selector)


    def running(self, selector: str) -> int:
        return sum(map(running, self.pods(selector)))

    def rss_kb(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) in kB of the engine plus its child processes (the proxy
        worker), from /proc/<pid>/status."""
        rss = hwm = 0
        pids, seen = [self.pid], set()
        while pids:
            pid = pids.pop()
            if pid in seen:
                continue
            seen.add(pid)
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            pids += [int(k) for k in kids]
            for line in status.splitlines():
                k, _, v = line.partition(":")
                if k == "VmRSS":
                    rss += int(v.split()[0])
                elif k == "VmHWM":
                    hwm += int(v.split()[0])
        return rss, hwm

    def cleanup(self) -> None:
        if getattr(self, "profiler", None) and self.profiler.poll() is None:
            self.profiler.send_signal(signal.SIGINT)
            try:
                self.profiler.wait(30)
            except subprocess.TimeoutExpired:
                self.profiler.kill()
        # stop and reap the engine first: `down` refuses while the state dir's lock is held,
        # and an unreaped engine's last threads can hold it a moment after it shows as a zombie
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        try:
            if self.client:
                self.client.close()
            r = subprocess.run([sys.executable, "-m", "kubedeck", "--state", str(self.state), "down", "--volumes"],
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                log(f"kubedeck down failed ({r.returncode}): {r.stderr.strip()[-500:]}")
        except Exception as e:  # noqa: BLE001 - fall through to the hard cleanup
            log(f"kubedeck down: {e}")
        remove_labelled(self.docker, self.name)
        shutil.rmtree(self.base, ignore_errors=True)


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores so far, from /proc/stat: busy is all but idle
    and iowait (steal counts as busy); guest time is already inside user and nice."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    return sum(fields) - fields[3] - fields[4], sum(fields)


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine so far: the containers' runtime (dockerd,
    containerd, its shims, runc) is many short-lived processes, so its share is what the
    machine spent minus the engine's."""
    return cpu_jiffies()[0] / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit_pct: float = 20, window: float = 1.0, timeout: float = 60) -> tuple[float, float]:
    """Waits until the whole machine is under `limit_pct` % busy over `window` seconds, so
    that one benchmark's teardown (dockerd and containerd finishing a removal after the
    API answered) does not run into the next one's measurement. Returns (seconds waited,
    the last window's busy %); gives up after `timeout`."""
    t0 = time.monotonic()
    while True:
        b0, n0 = cpu_jiffies()
        time.sleep(window)  # the measuring window itself
        b1, n1 = cpu_jiffies()
        busy = (b1 - b0) / max(n1 - n0, 1) * 100
        if busy < limit_pct or time.monotonic() - t0 > timeout:
            return time.monotonic() - t0, busy


def tree_cpu_seconds(pid: int) -> float:
    """utime+stime of a process and its descendants (e.g. the engine and its proxy
    worker, nginx and its worker), in seconds, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total, pids, seen = 0, [pid], set()
    while pids:
        p = pids.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            stat = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        total += int(stat[11]) + int(stat[12])
        pids += [int(k) for k in kids]
    return total / tick


# ---- machine -----------------------------------------------------------------------------
def machine_info(docker) -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_mb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    try:
        dver = docker.version().get("Version", "")
    except Exception:  # noqa: BLE001
        dver = ""
    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except Exception:  # noqa: BLE001
        wrk = ""
    try:
        nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    except Exception:  # noqa: BLE001
        nginx = ""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
    except Exception:  # noqa: BLE001
        commit = ""
    return {"cpu_count": os.cpu_count(), "cpu_model": model, "memory_mb": mem_mb, "docker_version": dver,
            "python_version": platform.python_version(), "platform": platform.platform(),
            "kernel": platform.release(), "wrk": wrk, "nginx": nginx, "commit": commit}


def running(p: dict) -> bool:
    """A pod in phase Running, not being deleted."""
    return (p.get("status") or {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")


def follow_pods(eng: "Engine", selector: str, until, timeout: float, match=None) -> None:
    """Follow the pods of `selector` ("app=NAME") in the default namespace (a LIST, then
    its watch) until `until(matching, total)` holds: `total` pods listed, `matching` of
    them with `match(pod)` true (kept per event: each event costs O(1) here, where a
    recount over 500 pods per event cost this process seconds of CPU at scale).
    A watch, as `kubectl rollout status` waits: polling a LIST of 500 pods every half
    second costs the engine and this process ~40 ms of CPU each time, on the cores that
    dockerd needs, and the raw baseline it is compared with pays nothing of the kind."""
    deadline = time.monotonic() + timeout
    body = eng.client.request("GET", "/api/v1/namespaces/default/pods", params={"labelSelector": selector})
    names = {p["metadata"]["name"] for p in body["items"]}
    ok = {p["metadata"]["name"] for p in body["items"] if match and match(p)}
    rv = body["metadata"]["resourceVersion"]
    while not until(len(ok), len(names)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"pods not there after {timeout:.0f} s: {len(names)} listed, {len(ok)} matching")
        # a watch the server ends (its timeout) is resumed from the last revision seen
        for typ, obj in eng.client.watch("Pod", "default", resource_version=rv, timeout=deadline - time.monotonic()):
            rv = obj["metadata"].get("resourceVersion") or rv
            if not _selected(obj, selector) or typ not in ("ADDED", "MODIFIED", "DELETED"):
                continue
            name = obj["metadata"]["name"]
            if typ == "DELETED":
                names.discard(name)
                ok.discard(name)
            else:
                names.add(name)
                (ok.add if match and match(obj) else ok.discard)(name)
            if until(len(ok), len(names)):
                return


def _selected(obj: dict, selector: str) -> bool:
    key, _, value = selector.partition("=")
    return (obj["metadata"].get("labels") or {}).get(key) == value
