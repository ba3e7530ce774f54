"""Soak (issue 19): 200 real pods and 50 folder saves a minute, for minutes, while a client
measures the API; the engine's memory and file descriptors are sampled throughout.

    python bench/soak.py --minutes 5      the CI-sized soak (about 9 minutes with set-up)
    python bench/soak.py --minutes 60     the long soak, a separate command
    python bench/run.py --only soak       the same 5 minutes through run.py (never in a default run)

The folder holds APPS files, each a ConfigMap and a Deployment of REPLICAS busybox pods
(200 in all). Every 1.2 s one file, chosen by a seeded random.Random, is saved as editors
do (written aside, renamed over): its replicas (19..21), its Deployment's labels and its
ConfigMap's data change, and both objects carry the save's number in the label
`soak-rev`. A checker thread lists both kinds every CHECK_EVERY s and marks each save
`seen` (its number was observed), `superseded` (a later save of the same file was
observed first: the folder sync may coalesce) or missing. A latency thread GETs a pod and
LISTs all pods in turn, over one keep-alive TLS connection, with no pause beyond
PACE. Every SAMPLE_EVERY s the engine's and its proxy worker's VmRSS and open fds are
read from /proc.

Guarantees checked (exit status 1 when one fails):
- API p99 of both GET and LIST under 1 s;
- memory flat: the least-squares slope of engine + worker RSS over the samples taken
  after the first minute under 1 MiB/min;
- fds do not grow: the last sample within FD_SLACK of the one at the first minute;
- every save reflected: none missing, and after the last save the store converges to
  the folder (replicas, labels, data) with every Deployment's pods Ready;
- no supervised task failed (`taskFailures` in /kubedeck/v1/status), Docker `ok`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (BUSYBOX, Engine, Result, docker_client, ensure_images, log, median, percentile,  # noqa: E402
                    print_table, wait_for)

APPS = 10
REPLICAS = int(os.environ.get("KDBENCH_SOAK_REPLICAS", "20"))  # per app; smaller for a smoke test
SAVES_PER_MIN = 50
SAMPLE_EVERY = 10.0
CHECK_EVERY = 0.25
PACE = 0.05
FD_SLACK = 20
SEED = int(os.environ.get("KDBENCH_SOAK_SEED", "19"))
COMMAND = 'trap "exit 0" TERM; sleep 2147483647 & wait'


def manifest(app: int, rev: int, replicas: int, tier: str, payload: str) -> str:
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: app-{app}-config, labels: {{soak-rev: "{rev}"}}}}
data: {{rev: "{rev}", payload: "{payload}"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{app}, labels: {{soak-rev: "{rev}", tier: {tier}}}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: app-{app}}}}}
  template:
    metadata: {{labels: {{app: app-{app}}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - {{name: main, image: "{BUSYBOX}", command: [sh, -c, '{COMMAND}']}}
"""


class Folder:
    """The manifest folder as the soak last saved it: per app (rev, replicas, tier, payload)."""

    def __init__(self, eng: Engine, rng: random.Random):
        self.eng, self.rng = eng, rng
        self.want: dict[int, tuple[int, int, str, str]] = {}
        self.saves: list[tuple[int, int, float]] = []   # (rev, app, time saved)
        self.rev = 0

    def save(self, app: int, replicas: int | None = None) -> None:
        self.rev += 1
        replicas = replicas if replicas is not None else self.rng.choice((REPLICAS - 1, REPLICAS, REPLICAS + 1))
        tier = self.rng.choice(("web", "api", "batch", "cache"))
        payload = "%x" % self.rng.getrandbits(4096)
        self.want[app] = (self.rev, replicas, tier, payload)
        self.eng.write(f"app-{app}.yaml", manifest(app, self.rev, replicas, tier, payload))
        self.saves.append((self.rev, app, time.monotonic()))


class Checker(threading.Thread):
    """Marks each save seen (with its save -> visible latency) or superseded."""

    def __init__(self, eng: Engine, folder: Folder):
        super().__init__(daemon=True)
        self.eng, self.folder = eng, folder
        self.stop = threading.Event()
        self.seen: dict[int, float] = {}    # rev -> seconds from save to visible in the API
        self.latest: dict[int, int] = {}    # app -> highest rev visible on both objects
        self.errors = 0

    def run(self) -> None:
        while not self.stop.wait(CHECK_EVERY):
            try:
                revs: dict[int, list[int]] = {}
                for kind in ("ConfigMap", "Deployment"):
                    for o in self.eng.client.list(kind, "default"):
                        name = o["metadata"]["name"]
                        if name.startswith("app-"):
                            app = int(name.split("-")[1])
                            revs.setdefault(app, []).append(int(o["metadata"]["labels"]["soak-rev"]))
            except Exception:  # noqa: BLE001 - counted; the latency thread measures the API
                self.errors += 1
                continue
            now = time.monotonic()
            for app, rs in revs.items():
                if len(rs) == 2 and rs[0] == rs[1]:
                    self.latest[app] = max(self.latest.get(app, 0), rs[0])
            for rev, app, t in list(self.folder.saves):
                if rev not in self.seen and self.latest.get(app) == rev:
                    self.seen[rev] = now - t

    def tally(self, first: int) -> tuple[int, int, list[int]]:
        """(seen, superseded, missing revs) of the saves from rev `first` on."""
        seen, superseded, missing = 0, 0, []
        for rev, app, _ in self.folder.saves:
            if rev < first:
                continue
            if rev in self.seen:
                seen += 1
                continue
            later = [r for r, a, _ in self.folder.saves if a == app and r > rev and r in self.seen]
            if later:
                superseded += 1
            else:
                missing.append(rev)
        return seen, superseded, missing


class Latency(threading.Thread):
    """GET one pod, LIST all pods, in turn, over one keep-alive TLS connection."""

    def __init__(self, eng: Engine):
        super().__init__(daemon=True)
        self.eng = eng
        self.stop = threading.Event()
        self.ms: dict[str, list[float]] = {"get": [], "list": []}
        self.failed = 0

    def run(self) -> None:
        import json

        import httpx

        conn = self.eng.connection()
        base = f"{conn.url}/api/v1/namespaces/default/pods"
        names = ["none"]
        with httpx.Client(verify=conn.ssl(), headers={"Authorization": f"Bearer {conn.token}"},
                          timeout=30) as http:
            while not self.stop.is_set():
                for op in ("list", "get"):
                    url = base if op == "list" else f"{base}/{random.choice(names)}"
                    t0 = time.perf_counter()
                    try:
                        r = http.get(url)
                        body = r.content
                    except httpx.HTTPError:
                        self.failed += 1
                        continue
                    self.ms[op].append((time.perf_counter() - t0) * 1000)
                    if r.status_code >= 500 or (op == "list" and r.status_code != 200):
                        self.failed += 1
                    elif op == "list":  # a pod deleted by a scale-down is a fine 404 for the next GET
                        names = [p["metadata"]["name"] for p in json.loads(body)["items"]] or names
                    time.sleep(PACE)


def tree(pid: int) -> list[int]:
    """The process and its descendants (the engine and its proxy worker)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            todo += [int(k) for k in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            pass
    return out


def sample(pid: int) -> tuple[float, float, int]:
    """(engine RSS MiB, whole tree RSS MiB, open fds of the tree)."""
    engine_kb = total_kb = fds = 0
    for p in tree(pid):
        try:
            rss = next(int(line.split()[1]) for line in Path(f"/proc/{p}/status").read_text().splitlines()
                       if line.startswith("VmRSS:"))
            fds += len(os.listdir(f"/proc/{p}/fd"))
        except (OSError, StopIteration):
            continue
        total_kb += rss
        engine_kb += rss if p == pid else 0
    return engine_kb / 1024, total_kb / 1024, fds


def slope(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (minutes, value) pairs, per minute."""
    if len(samples) < 3:
        return float("nan")
    xs, ys = zip(*samples)
    return statistics.linear_regression(xs, ys).slope


def converged(eng: Engine, folder: Folder) -> bool:
    """The store equals the folder and every Deployment has exactly its replicas Ready."""
    cms = {c["metadata"]["name"]: c for c in eng.client.list("ConfigMap", "default")}
    deps = {d["metadata"]["name"]: d for d in eng.client.list("Deployment", "default")}
    ready: dict[str, int] = {}
    total: dict[str, int] = {}
    for p in eng.pods():
        app = (p["metadata"].get("labels") or {}).get("app", "")
        total[app] = total.get(app, 0) + 1
        st = p.get("status") or {}
        if st.get("phase") == "Running" and not p["metadata"].get("deletionTimestamp") and any(
                c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions") or []):
            ready[app] = ready.get(app, 0) + 1
    for app, (rev, replicas, tier, payload) in folder.want.items():
        cm, dep = cms.get(f"app-{app}-config"), deps.get(f"app-{app}")
        if not cm or not dep or cm["data"] != {"rev": str(rev), "payload": payload}:
            return False
        if dep["metadata"]["labels"] != {"soak-rev": str(rev), "tier": tier} or dep["spec"]["replicas"] != replicas:
            return False
        if ready.get(f"app-{app}") != replicas or total.get(f"app-{app}") != replicas:
            return False
    return True


def soak(docker, minutes: float) -> list[Result]:
    rng = random.Random(SEED)
    with Engine(docker) as eng:
        folder = Folder(eng, rng)
        log(f"soak: {APPS * REPLICAS} pods coming up (load {loadavg()})")
        t0 = time.monotonic()
        for app in range(APPS):
            folder.save(app, REPLICAS)
        wait_for(lambda: converged(eng, folder), 900, 1.0, what=f"{APPS * REPLICAS} pods Ready")
        log(f"soak: {APPS * REPLICAS} pods Ready in {time.monotonic() - t0:.0f} s; "
            f"{SAVES_PER_MIN} saves/min for {minutes:g} min (load {loadavg()})")
        load_start = loadavg()
        checker, latency = Checker(eng, folder), Latency(eng)
        checker.start()
        latency.start()
        samples: list[tuple[float, float, float, int]] = []  # (minutes, engine MiB, tree MiB, fds)
        start, n_initial = time.monotonic(), len(folder.saves)
        next_sample = start
        i = 0
        while (now := time.monotonic()) < start + minutes * 60:
            if now >= next_sample:
                samples.append(((now - start) / 60, *sample(eng.pid)))
                next_sample += SAMPLE_EVERY
            if now >= start + i * 60 / SAVES_PER_MIN:
                folder.save(rng.randrange(APPS))
                i += 1
            time.sleep(max(0.0, min(next_sample, start + i * 60 / SAVES_PER_MIN) - time.monotonic()))
        samples.append(((time.monotonic() - start) / 60, *sample(eng.pid)))
        t_last = time.monotonic()
        try:
            wait_for(lambda: converged(eng, folder), 180, 0.5, what="the store to match the folder, pods Ready")
            settle = time.monotonic() - t_last
        except TimeoutError as e:
            log(f"soak: {e}")
            settle = None
        time.sleep(2 * CHECK_EVERY)
        latency.stop.set()
        checker.stop.set()
        latency.join(30)
        checker.join(30)
        status = eng.client.status()
        load_end = loadavg()
    made = len(folder.saves) - n_initial
    seen, superseded, missing = checker.tally(n_initial + 1)
    lat_s = sorted(v for rev, v in checker.seen.items() if rev > n_initial)
    return report(minutes, samples, latency, lat_s, made, seen, superseded, missing, settle, status,
                  load_start, load_end)


def report(minutes, samples, latency, lat_s, made, seen, superseded, missing, settle, status,
           load_start, load_end) -> list[Result]:
    after = [s for s in samples if s[0] >= 1.0] or samples
    rss_slope = slope([(t, tree_mib) for t, _, tree_mib, _ in after])
    eng_slope = slope([(t, eng_mib) for t, eng_mib, _, _ in after])
    fd_growth = after[-1][3] - after[0][3]
    get, lst = latency.ms["get"], latency.ms["list"]
    p99 = max(percentile(get, 99), percentile(lst, 99))
    note = (f"load average {load_start} at the start, {load_end} at the end, on {os.cpu_count()} cpus "
            f"(a shared machine: latency figures are indicative)")
    api = Result("soak_api_p99_ms", p99, "<= 1000",
                 f"p99 of GET pod / LIST pods ({APPS * REPLICAS} pods) during {minutes:g} min of "
                 f"{SAVES_PER_MIN} saves/min, one keep-alive client", baseline_label="(absolute)", kubedeck=p99,
                 unit="ms", repeats=len(get) + len(lst), spread=f"median {median(get + lst):.1f} ms")
    api.rows += [{"label": "GET", "detail": f"{len(get)} requests, p50 / p99",
                  "value": f"{median(get):.1f} / {percentile(get, 99):.1f} ms"},
                 {"label": "LIST", "detail": f"{len(lst)} requests, p50 / p99",
                  "value": f"{median(lst):.1f} / {percentile(lst, 99):.1f} ms"},
                 {"label": "failed", "detail": "5xx or transport errors", "value": str(latency.failed)}]
    api.notes.append(note)
    mem = Result("soak_rss_slope_mib_min", rss_slope, "<= 1",
                 "engine + proxy worker VmRSS slope (least squares over the samples after the first minute)",
                 baseline_label="(absolute)", kubedeck=rss_slope, unit="MiB/min", repeats=len(after))
    mem.rows += [{"label": "engine", "detail": "engine alone, slope", "value": f"{eng_slope:+.2f} MiB/min"},
                 {"label": "rss", "detail": "engine + worker: first, at 1 min, last, max",
                  "value": f"{samples[0][2]:.0f}, {after[0][2]:.0f}, {samples[-1][2]:.0f}, "
                           f"{max(s[2] for s in samples):.0f} MiB"}]
    fds = Result("soak_fd_growth", float(fd_growth), f"<= {FD_SLACK}",
                 "open fds of engine + proxy worker, last sample minus the one at the first minute",
                 baseline_label="(absolute)", kubedeck=float(fd_growth), unit="fds", repeats=len(after),
                 spread=f"{min(s[3] for s in samples)}..{max(s[3] for s in samples)} fds")
    saves = Result("soak_saves_missing", float(len(missing) + (settle is None)), "<= 0",
                   "folder saves never reflected in the API (plus 1 if the end state did not match the folder "
                   "with all pods Ready)", baseline_label="(absolute)", kubedeck=float(len(missing)), unit="saves",
                   repeats=made)
    saves.rows += [{"label": "made", "detail": "atomic-rename saves", "value": str(made)},
                   {"label": "seen", "detail": "each save's number observed in the API", "value": str(seen)},
                   {"label": "superseded", "detail": "a later save of the file observed first", "value": str(superseded)},
                   {"label": "save -> API", "detail": f"p50 / p99 (checked every {CHECK_EVERY} s)",
                    "value": f"{median(lat_s):.2f} / {percentile(lat_s, 99):.2f} s"},
                   {"label": "end state", "detail": "after the last save: folder matched, pods Ready",
                    "value": "never" if settle is None else f"in {settle:.1f} s"}]
    if missing:
        saves.notes.append(f"missing saves: {missing[:20]}")
    failures = status.get("taskFailures") or []
    tasks = Result("soak_task_failures", float(len(failures)), "<= 0",
                   "supervised tasks that failed (taskFailures in /kubedeck/v1/status) at the end",
                   baseline_label="(absolute)", kubedeck=float(len(failures)), repeats=1)
    tasks.rows.append({"label": "docker", "detail": "status at the end", "value": str(status.get("docker"))})
    tasks.notes += [f"{f.get('task')}: {f.get('error')}" for f in failures]
    if status.get("docker") != "ok":
        tasks.value = float(len(failures) + 1)
    return [api, mem, fds, saves, tasks]


def loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def run(docker, quick: bool) -> list[Result]:
    """bench/run.py's entry (`--only soak`): the 5-minute soak, quick or not."""
    return soak(docker, float(os.environ.get("KDBENCH_SOAK_MINUTES", "5")))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0, help="how long the saves go on (default 5)")
    args = ap.parse_args(argv)
    docker = docker_client()
    ensure_images(docker)
    results = soak(docker, args.minutes)
    for r in results:
        print_table(r)
    failed = [r.name for r in results if not r.met()]
    print()
    print("soak: " + ("all guarantees held" if not failed else "FAILED: " + ", ".join(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
