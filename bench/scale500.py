"""500 real pods on one machine (issue 18): a Deployment of 500 busybox pods with an
HTTP readiness probe, against raw Docker doing the same container work. Heavy (minutes,
~500 containers): run.py runs it only when named, `python bench/run.py --only scale500`.

- scale500_ready_ratio: Deployment scaled 0 -> 500 until every pod is Running and Ready,
  over raw Docker creating and starting the same 500 containers (SDK, the agent's 16
  threads, its own bridge network).
- scale500_rss_mb: VmRSS of the engine and its children (proxy worker, nginx) with the 500 pods Ready.
- scale500_idle_cpu_pct: engine + proxy worker CPU (utime+stime from /proc) while the 500
  pods sit idle and are probed every 10 s, in percent of one core; rows give the CPU per
  probe and per pod (all idle work divided by the probes, so an upper bound).
- scale500_list_p99_ms: `GET /api/v1/namespaces/default/pods` (500 pods) p99 with 20
  concurrent clients (aiohttp, one keep-alive TLS connection each).
- scale500_down_ratio: scale 500 -> 0 until every pod object and container is gone, over
  raw Docker force-removing the 500 raw containers (16 threads). Before their removal the
  raw containers are probed as the pods are (one HTTP GET each per 10 s from the host),
  for as long as the pods sit Ready before their scale-down (`probed_for`): a container
  that has served connections costs the machine more to remove (bench/README.md, "What
  probing adds to a removal").

The probe is exec-free (httpGet to busybox httpd in each pod): one HTTP request from the
engine per probe, no `docker exec`.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from common import (BUSYBOX, L_CLUSTER, Engine, Result, follow_pods, log, machine_cpu, median, percentile,
                    tree_cpu_seconds, wait_for)

N = int(os.environ.get("KDBENCH_SCALE_N", "500"))  # smaller for a smoke test of the benchmark itself
THREADS = 16  # the agent's Docker pool, as pod_start's baseline
CLIENTS = 20
CPU: dict[str, float] = {}  # machine CPU seconds per phase ("raw up", "kubedeck up", ...), for the rows
# busybox httpd serving one file: the readiness probe's target
SERVE = ["sh", "-c", "mkdir -p /w && echo ok > /w/index.html && exec httpd -f -p 8080 -h /w"]
PROBE = {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 10, "timeoutSeconds": 1}


def deployment(replicas: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "s500"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "s500"}},
                     "template": {"metadata": {"labels": {"app": "s500"}},
                                  "spec": {"terminationGracePeriodSeconds": 0,
                                           "containers": [{"name": "main", "image": BUSYBOX, "command": SERVE,
                                                           "readinessProbe": PROBE}]}}}}


def raw(docker, n: int, probed_for: float) -> tuple[float, float]:
    """(seconds to create+start n containers, seconds to force-remove them once they
    have been probed as kubedeck probes its pods for `probed_for` seconds)."""
    api = docker.api
    tag = f"kdbench-raw-{uuid.uuid4().hex[:6]}"
    net = docker.networks.create(tag, driver="bridge", labels={L_CLUSTER: tag})

    def one(i: int) -> str:
        c = api.create_container(BUSYBOX, name=f"{tag}-{i}", command=SERVE, labels={L_CLUSTER: tag},
                                 host_config=api.create_host_config(network_mode=tag))
        api.start(c["Id"])
        return c["Id"]

    try:
        t0, m0 = time.perf_counter(), machine_cpu()
        with ThreadPoolExecutor(THREADS) as pool:
            ids = list(pool.map(one, range(n)))
        up, CPU["raw up"] = time.perf_counter() - t0, machine_cpu() - m0
        probe(api, tag, probed_for)
        t0, m0 = time.perf_counter(), machine_cpu()
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(lambda cid: api.remove_container(cid, force=True), ids))
        down, CPU["raw down"] = time.perf_counter() - t0, machine_cpu() - m0
        return up, down
    finally:
        for c in api.containers(all=True, filters={"label": f"{L_CLUSTER}={tag}"}):
            api.remove_container(c["Id"], force=True)
        for _ in range(50):
            try:
                net.remove()
                break
            except Exception:  # noqa: BLE001 - the endpoints go a moment after the containers
                time.sleep(0.1)


def probe(api, network: str, seconds: float) -> None:
    """GET / of every container on `network`, each once per probe period, for `seconds`:
    the readiness probes kubedeck sends its pods, sent to the raw containers."""
    ips = [c["NetworkSettings"]["Networks"][network]["IPAddress"]
           for c in api.containers(filters={"network": network})]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.monotonic()
        for ip in ips:
            conn = http.client.HTTPConnection(ip, PROBE["httpGet"]["port"], timeout=PROBE["timeoutSeconds"])
            try:
                conn.request("GET", PROBE["httpGet"]["path"])
                conn.getresponse().read()
            except OSError:
                pass  # a busy container: kubedeck's probe would fail too, and go on
            finally:
                conn.close()
        time.sleep(max(0.0, min(end, began + PROBE["periodSeconds"]) - time.monotonic()))


def is_ready(p: dict) -> bool:
    st = p.get("status") or {}
    return st.get("phase") == "Running" and not p["metadata"].get("deletionTimestamp") and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])


async def list_load(conn, rounds: int) -> list[float]:
    import aiohttp

    lat: list[float] = []
    url = f"{conn.url}/api/v1/namespaces/default/pods"

    async def client() -> None:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {conn.token}"},
                                         connector=aiohttp.TCPConnector(limit=1, ssl=conn.ssl())) as s:
            for _ in range(rounds):
                t0 = time.perf_counter()
                async with s.get(url) as r:
                    body = await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"list -> {r.status}")
                lat.append((time.perf_counter() - t0) * 1000)
        assert body

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return lat


def loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def run(docker, quick: bool) -> list[Result]:
    idle_window = 20 if quick else 60
    rounds = 5 if quick else 15
    # how long the pods sit Ready and probed before the scale-down: the settle, the idle
    # window and the list load (a few seconds)
    probed_for = 10 + idle_window + 5
    log(f"scale500: raw Docker, {N} containers, probed for {probed_for} s before removal (load {loadavg()})")
    raw_up, raw_down = raw(docker, N, probed_for)
    log(f"scale500: raw up {raw_up:.1f} s, raw down {raw_down:.1f} s")
    with Engine(docker) as eng:
        eng.client.create(deployment(0))
        rss_idle = eng.rss_kb()[0] / 1024
        log(f"scale500: scaling to {N} (load {loadavg()})")
        t0, m0, e0 = time.perf_counter(), machine_cpu(), tree_cpu_seconds(eng.pid)
        eng.client.patch("Deployment", "default", "s500", {"spec": {"replicas": N}})
        follow_pods(eng, "app=s500", lambda ready, _: ready >= N, 1200, match=is_ready)
        up = time.perf_counter() - t0
        CPU["kubedeck up"], CPU["engine up"] = machine_cpu() - m0, tree_cpu_seconds(eng.pid) - e0
        log(f"scale500: {N} Ready in {up:.1f} s (load {loadavg()})")
        rss, hwm = (v / 1024 for v in eng.rss_kb())
        time.sleep(10)  # the first probes of the last pods settle
        c0, t0 = tree_cpu_seconds(eng.pid), time.perf_counter()
        time.sleep(idle_window)
        cpu = tree_cpu_seconds(eng.pid) - c0
        window = time.perf_counter() - t0
        idle_pct = cpu / window * 100
        probes = N * window / PROBE["periodSeconds"]
        log(f"scale500: idle {idle_pct:.1f} % of a core over {window:.0f} s (load {loadavg()})")
        conn = eng.connection()
        asyncio.run(list_load(conn, 1))  # warm-up: connections, caches
        lat = asyncio.run(list_load(conn, rounds))
        log(f"scale500: list p99 {percentile(lat, 99):.1f} ms over {len(lat)} requests")
        t0, m0, e0 = time.perf_counter(), machine_cpu(), tree_cpu_seconds(eng.pid)
        eng.client.patch("Deployment", "default", "s500", {"spec": {"replicas": 0}})
        follow_pods(eng, "app=s500", lambda _, listed: not listed, 600)
        # the agent deletes a pod once its containers are removed: these are gone already
        wait_for(lambda: not docker.api.containers(
            all=True, filters={"label": [f"{L_CLUSTER}={eng.name}", "io.kubedeck.role=app"]}),
            600, 0.05, what="containers gone")
        down = time.perf_counter() - t0
        CPU["kubedeck down"], CPU["engine down"] = machine_cpu() - m0, tree_cpu_seconds(eng.pid) - e0
        log(f"scale500: down in {down:.1f} s (raw {raw_down:.1f} s)")

    note = f"load average at the end {loadavg()} on {os.cpu_count()} cpus: figures are indicative on a shared machine"
    ready = Result("scale500_ready_ratio", up / raw_up, "<= 1.1",
                   f"Deployment 0->{N} pods Running and Ready (httpGet readiness probe) vs raw Docker "
                   f"create+start of {N} containers ({THREADS} threads)",
                   baseline_label=f"raw Docker SDK, {N} containers", baseline=raw_up, kubedeck=up, unit="s",
                   repeats=1)
    ready.rows.append({"label": "per pod", "detail": "kubedeck / raw, ms per pod",
                       "value": f"{up / N * 1000:.0f} / {raw_up / N * 1000:.0f} ms"})
    ready.rows.append(cpu_row("up"))
    ready.notes.append(note)
    mem = Result("scale500_rss_mb", rss, "<= 250", f"VmRSS of the engine and its children (proxy worker, nginx) with {N} pods Ready",
                 baseline_label="same engine before the scale-up", baseline=rss_idle, kubedeck=rss, unit="MB",
                 repeats=1)
    mem.rows.append({"label": "peak", "detail": "VmHWM", "value": f"{hwm:.1f} MB"})
    mem.rows.append({"label": "per pod", "detail": "(rss - idle) / pods", "value": f"{(rss - rss_idle) / N * 1024:.0f} kB"})
    idle = Result("scale500_idle_cpu_pct", idle_pct, "<= 5",
                  f"engine + proxy worker CPU over {window:.0f} s with {N} idle pods probed every "
                  f"{PROBE['periodSeconds']} s (percent of one core)",
                  baseline_label="(absolute)", kubedeck=idle_pct, unit="%", repeats=1)
    idle.rows.append({"label": "per probe", "detail": "all idle CPU / probes sent (upper bound)",
                      "value": f"{cpu / probes * 1000:.2f} ms"})
    idle.rows.append({"label": "per pod", "detail": "idle CPU per pod, percent of a core",
                      "value": f"{idle_pct / N:.4f} %"})
    idle.notes.append(note)
    lst = Result("scale500_list_p99_ms", percentile(lat, 99), "<= 100",
                 f"p99 of GET pods ({N} pods), {CLIENTS} concurrent clients, {len(lat)} requests",
                 baseline_label="(absolute)", kubedeck=percentile(lat, 99), unit="ms", repeats=len(lat),
                 spread=f"median {median(lat):.1f} ms")
    down_r = Result("scale500_down_ratio", down / raw_down, "<= 1.1",
                    f"scale {N} -> 0 until pods and containers are gone vs raw force-removal of {N} containers "
                    f"probed alike for {probed_for} s before",
                    baseline_label=f"raw Docker SDK remove, {THREADS} threads", baseline=raw_down, kubedeck=down,
                    unit="s", repeats=1)
    down_r.rows.append(cpu_row("down"))
    down_r.notes.append(note)
    return [ready, mem, idle, lst, down_r]


def cpu_row(phase: str) -> dict:
    """Where the phase's CPU went: the whole machine's busy seconds under raw Docker and
    under kubedeck, and the engine's (its process tree, nginx included) share."""
    raw, kd, eng = CPU.get(f"raw {phase}"), CPU.get(f"kubedeck {phase}"), CPU.get(f"engine {phase}")
    value = "n/a" if None in (raw, kd, eng) else f"{raw:.1f} / {kd:.1f} s, engine {eng:.1f} s"
    return {"label": "machine CPU", "detail": "busy CPU seconds of the whole machine in the phase, raw / "
            "kubedeck, and the engine's own share (the rest is Docker, the kernel and this process)",
            "value": value}
