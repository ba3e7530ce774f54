"""What the activity stream (engine/activity.py) costs the engine at 500 pods (issue 20).

The ring is fed by one call per action on the engine's own paths, so its cost is the
number of actions times the cost of one. Both are measured:
- the cost of one action, in this process: `store_write` of a pod (one tuple),
  `store_write` of an Event (two: the write and the reported action) and `record`;
- the actions the engine records, from `/kubedeck/v1/activity` (`last` is the count),
  and the engine's CPU (utime+stime of its process, /proc), while a Deployment scales
  0 -> N (N = 500; 100 with --quick) with a readiness probe, then N pods sit idle.

activity_cost_pct = actions x (mean cost of one) / engine CPU, for the scale-up and for
the idle window (rows). The headline is the larger; the target is under 2 %. Heavy (N
containers): run.py runs it only when named, `python bench/run.py --only activity_cost`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from common import BUSYBOX, Engine, Result, log, wait_for

SERVE = ["sh", "-c", "mkdir -p /w && echo ok > /w/index.html && exec httpd -f -p 8080 -h /w"]
PROBE = {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 10, "timeoutSeconds": 1}


def per_action_seconds(n: int = 200_000) -> dict[str, float]:
    from kubedeck.engine.activity import Activity

    ring = Activity()
    pod = {"kind": "Pod", "metadata": {"name": "p", "namespace": "default"}}
    event = {"kind": "Event", "metadata": {"name": "p.1", "namespace": "default"}, "reason": "Started",
             "message": "Started container main", "source": {"component": "kubelet"},
             "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}}
    out = {}
    for name, call in (("store_write", lambda: ring.store_write("MODIFIED", pod, 4, 0.0)),
                       ("store_write_event", lambda: ring.store_write("ADDED", event, 4, 0.0)),
                       ("record", lambda: ring.record("kubelet", "status", "Pod", "default", "p", detail="Ready"))):
        t0 = time.process_time()
        for _ in range(n):
            call()
        out[name] = (time.process_time() - t0) / n
    out["store_write_event"] /= 2  # two entries per call
    return out


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def deployment(replicas: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "act"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "act"}},
                     "template": {"metadata": {"labels": {"app": "act"}},
                                  "spec": {"terminationGracePeriodSeconds": 0,
                                           "containers": [{"name": "main", "image": BUSYBOX, "command": SERVE,
                                                           "readinessProbe": PROBE}]}}}}


def ready_count(eng: Engine) -> int:
    return sum(1 for p in eng.pods("app=act") if any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in (p.get("status") or {}).get("conditions") or []))


def actions(eng: Engine) -> int:
    return eng.client.request("GET", "/kubedeck/v1/activity", params={"since": "0", "limit": "0"})["last"]


def run(docker, quick: bool) -> list[Result]:
    n = 100 if quick else 500
    idle = 20 if quick else 60
    cost = per_action_seconds()
    mean = sum(cost.values()) / len(cost)
    log("activity_cost: one action " + ", ".join(f"{k} {v * 1e9:.0f} ns" for k, v in cost.items()))
    rows = [{"what": f"one action: {k}", "value": round(v * 1e9), "unit": "ns"} for k, v in cost.items()]
    with Engine(docker) as eng:
        try:
            a0 = actions(eng)
        except Exception as e:  # noqa: BLE001 - an engine without the endpoint
            return [Result("activity_cost_pct", None, "< 2", f"/kubedeck/v1/activity not served: {e}")]
        eng.client.create(deployment(0))
        c0, a0 = cpu_seconds(eng.pid), actions(eng)
        t0 = time.perf_counter()
        eng.client.patch("Deployment", "default", "act", {"spec": {"replicas": n}})
        wait_for(lambda: ready_count(eng) >= n, 1800, 0.5, what=f"{n} pods Ready")
        up_s, up_cpu, up_actions = time.perf_counter() - t0, cpu_seconds(eng.pid) - c0, actions(eng) - a0
        time.sleep(5)
        c0, a0, t0 = cpu_seconds(eng.pid), actions(eng), time.perf_counter()
        time.sleep(idle)
        idle_s, idle_cpu, idle_actions = time.perf_counter() - t0, cpu_seconds(eng.pid) - c0, actions(eng) - a0
        eng.client.patch("Deployment", "default", "act", {"spec": {"replicas": 0}})
        wait_for(lambda: not eng.pods("app=act"), 900, 0.5, what="pods gone")
    up_pct = up_actions * mean / up_cpu * 100
    idle_pct = idle_actions * mean / idle_cpu * 100 if idle_cpu else 0.0
    log(f"activity_cost: scale-up {up_actions} actions, engine CPU {up_cpu:.1f} s in {up_s:.0f} s -> {up_pct:.3f} %; "
        f"idle {idle_actions} actions, CPU {idle_cpu:.2f} s in {idle_s:.0f} s -> {idle_pct:.3f} %")
    rows += [{"what": f"scale-up 0->{n}: actions", "value": up_actions},
             {"what": f"scale-up 0->{n}: engine CPU", "value": round(up_cpu, 2), "unit": "s"},
             {"what": "scale-up: ring cost", "value": round(up_pct, 4), "unit": "% of engine CPU"},
             {"what": f"idle {n} pods: actions/s", "value": round(idle_actions / idle_s, 1)},
             {"what": "idle: ring cost", "value": round(idle_pct, 4), "unit": "% of engine CPU"}]
    return [Result("activity_cost_pct", round(max(up_pct, idle_pct), 4), "< 2",
                   f"activity stream CPU / engine CPU at {n} pods (scale-up and idle)", unit="%", rows=rows)]


if __name__ == "__main__":  # python bench/activity_cost.py [--quick]
    import sys

    from common import docker_client, ensure_images

    client = docker_client()
    ensure_images(client)
    for r in run(client, "--quick" in sys.argv):
        print(r.name, r.value, r.unit, r.target, r.what)
        for row in r.rows:
            print("  ", row)
