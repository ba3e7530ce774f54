"""engine_rss_mb_100pods: the engine's resident memory, its proxy worker process included
(VmRSS from /proc/<pid>/status), with 100 single-container pods Running, measured after
a short settle. The baseline row is the same engine idle (no pods) just before."""

from __future__ import annotations

import time

from common import BUSYBOX, Engine, Result, log, wait_for

N = 100


def run(docker, quick: bool) -> Result:
    with Engine(docker) as eng:
        time.sleep(2)
        idle, _ = eng.rss_kb()
        eng.client.create({"apiVersion": "apps/v1", "kind": "Deployment",
                           "metadata": {"name": "rss", "namespace": "default"},
                           "spec": {"replicas": N, "selector": {"matchLabels": {"app": "rss"}},
                                    "template": {"metadata": {"labels": {"app": "rss"}},
                                                 "spec": {"terminationGracePeriodSeconds": 0,
                                                          "containers": [{"name": "main", "image": BUSYBOX,
                                                                          "command": ["sleep", "3600"]}]}}}})
        t0 = time.perf_counter()
        wait_for(lambda: eng.running("app=rss") >= N, 600, 0.5, what=f"{N} pods Running")
        up = time.perf_counter() - t0
        samples = []
        for _ in range(3 if quick else 10):
            time.sleep(1)
            samples.append(eng.rss_kb())
        rss = samples[-1][0] / 1024
        hwm = max(h for _, h in samples) / 1024
        log(f"rss: idle {idle / 1024:.1f} MB, {N} pods {rss:.1f} MB (peak {hwm:.1f} MB), pods up in {up:.1f}s")
        eng.client.patch("Deployment", "default", "rss", {"spec": {"replicas": 0}})
    res = Result("engine_rss_mb_100pods", rss, "<= 150", f"VmRSS of the engine and its children (proxy worker, nginx) with {N} pods Running",
                 baseline_label="same engine idle, no pods", baseline=idle / 1024, kubedeck=rss, unit="MB",
                 repeats=len(samples), spread=f"{min(s for s, _ in samples) / 1024:.1f}..{max(s for s, _ in samples) / 1024:.1f} MB")
    res.rows.append({"label": "peak", "detail": "VmHWM while bringing them up", "value": f"{hwm:.1f} MB"})
    res.rows.append({"label": "per pod", "detail": "(rss - idle) / pods", "value": f"{(rss - idle / 1024) / N * 1024:.0f} kB"})
    res.rows.append({"label": "startup", "detail": f"{N} pods Running after", "value": f"{up:.1f} s"})
    return res
