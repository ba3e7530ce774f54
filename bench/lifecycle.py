"""Two start-up figures from issues 3 and 4:

- serve_to_api_s: `kubedeck serve` started on an existing state dir -> its API answers
  /healthz over TLS (median), against `python -c pass` started the same way (the
  interpreter's own start cost); a row gives the first start of a new state dir, which
  also makes the cluster's CA and serving certificate.
- restart_ms: a pod's container killed with `docker kill` -> its replacement container's
  Docker `start` event (first restart, before back-off grows; median), against raw Docker
  `start` of a stopped container.
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from common import BUSYBOX, L_CLUSTER, SERVE_ARGS, Engine, Result, log, median, pod_yaml, spread, wait_for
from reconcile import StartEvents



def time_to_api(eng: Engine) -> float:
    """Start `kubedeck serve` on eng's state dir; seconds until /healthz answers over TLS."""
    from kubedeck.engine.state import Connection, read_connection

    t0 = time.perf_counter()
    eng.proc = subprocess.Popen([sys.executable, "-m", "kubedeck", "--state", str(eng.state), "serve",
                                 str(eng.folder), *SERVE_ARGS],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    clients: dict[str, httpx.Client] = {}

    def answering():
        conn = read_connection(eng.state)
        if not conn or conn.get("pid") != eng.proc.pid:
            return False
        if conn["url"] not in clients:  # api.json is written once the CA exists: trust it from then on
            c = Connection.from_dict(conn)
            clients[c.url] = httpx.Client(base_url=c.url, verify=c.ssl(), timeout=1)
        try:
            return clients[conn["url"]].get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False
    try:
        wait_for(answering, 30, 0.005, what="API answering")
        return time.perf_counter() - t0
    finally:
        for c in clients.values():
            c.close()


def serve_start(docker, repeats: int) -> Result:
    """Headline: a start on an existing state dir (what every `kubedeck up` after the
    first is); row: the first start, which also makes the state dir's CA and serving
    certificate (engine/pki.py)."""
    base, first, again = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        base.append(time.perf_counter() - t0)
        eng = Engine(docker)
        try:
            first.append(time_to_api(eng))
            eng.proc.terminate()
            eng.proc.wait(30)
            again.append(time_to_api(eng))
        finally:
            eng.cleanup()
        log(f"serve -> API: {again[-1] * 1000:.0f} ms, first start {first[-1] * 1000:.0f} ms "
            f"(python start {base[-1] * 1000:.0f} ms)")
    res = Result("serve_to_api_s", median(again), "<= 0.5",
                 "`kubedeck serve` start on an existing state dir -> API answering /healthz over TLS",
                 baseline_label="python -c pass (interpreter start)", baseline=median(base),
                 kubedeck=median(again), unit="s", repeats=repeats, spread=spread(again))
    res.rows.append({"label": "first start", "detail": "a new state dir: also makes its CA and certificate",
                     "value": f"{median(first):.3f} s"})
    return res


def restart(docker, repeats: int) -> Result:
    raw, kd = [], []
    events = StartEvents(docker)
    try:
        with Engine(docker) as eng:
            for i in range(repeats):
                name = f"r{i}"
                eng.write(f"{name}.yaml", pod_yaml(name, "restart", ["sleep", "3600"]))
                first = wait_for(lambda n=name: eng.app_containers(n), 60, what="pod container running")[0]
                t0 = time.time()
                first.kill()
                t1 = events.wait(lambda a, n=name, cl=eng.name, old=first.name: a.get(L_CLUSTER) == cl and
                                 a.get("io.kubernetes.pod.name") == n and a.get("name") != old, 30)
                kd.append((t1 - t0) * 1000)
                # raw: start a stopped container again
                c = docker.containers.create(BUSYBOX, ["sleep", "3600"], labels={L_CLUSTER: eng.name + "-raw"})
                t0 = time.time()
                c.start()
                t1 = events.wait(lambda a, cid=c.name: a.get("name") == cid, 30)
                raw.append((t1 - t0) * 1000)
                c.remove(force=True)
                log(f"restart #{i + 1}: killed -> running again {kd[-1]:.0f} ms (raw start {raw[-1]:.0f} ms)")
    finally:
        events.close()
    return Result("restart_ms", median(kd), "<= 1000", "container killed -> replacement started (first restart)",
                  baseline_label="raw Docker start of a created container", baseline=median(raw),
                  kubedeck=median(kd), unit="ms", repeats=repeats, spread=spread(kd))


def run(docker, quick: bool) -> list[Result]:
    n = 2 if quick else 7
    return [serve_start(docker, n), restart(docker, n)]
