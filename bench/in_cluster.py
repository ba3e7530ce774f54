"""service_rps_ratio: requests/s from inside a pod through a Service name against the
same pod straight by its IP. wrk runs in a client pod (kubedeck-bench/wrk:1, keep-alive,
32 connections) against the nginx backend pod of network.py; the Service (`web`, port 80
-> 8080) goes through the Service's proxy container. The default proxy forwards in the
kernel (nftables DNAT in its own network namespace); a second engine with
KUBEDECK_SERVICE_PROXY=nc measures the busybox nc fallback as an extra row.
"""

from __future__ import annotations

import os

from common import NGINX_IMAGE, Engine, Result, free_port, log, median, pod_yaml, spread, wait_for
from network import APP, HOST, parse_wrk

WRK_IMAGE = "kubedeck-bench/wrk:1"


def measure(docker, mode: str, seconds: float, repeats: int) -> tuple[list[float], list[float], set[str]]:
    """(direct req/s, via-Service req/s, problems) for one proxy mode, interleaved runs."""
    old = os.environ.get("KUBEDECK_SERVICE_PROXY")
    os.environ["KUBEDECK_SERVICE_PROXY"] = mode  # the engine subprocess inherits it
    try:
        eng = Engine(docker)
        eng.start()
    finally:
        if old is None:
            os.environ.pop("KUBEDECK_SERVICE_PROXY")
        else:
            os.environ["KUBEDECK_SERVICE_PROXY"] = old
    try:
        eng.write("web.yaml", APP.format(image=NGINX_IMAGE, nodeport=free_port(), host=HOST))
        eng.write("client.yaml", pod_yaml("client", "client", ["sleep", "3600"], image=WRK_IMAGE))
        ip = wait_for(lambda: [p["status"]["podIP"] for p in eng.pods("app=web") if any(
            c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])],
            90, 0.1, what="backend pod ready")[0]
        client = wait_for(lambda: eng.app_containers("client"), 60, 0.1, what="client pod running")[0]

        def wrk(url: str, secs: float) -> tuple[float, str]:
            code, out = client.exec_run(["wrk", "-t2", "-c32", f"-d{secs:g}s", "--timeout", "5s", url])
            return parse_wrk(out.decode(errors="replace"))
        urls = {"direct": f"http://{ip}:8080/", "service": "http://web:80/"}  # explicit port: no /etc/services in the image
        wait_for(lambda: wrk(urls["service"], 1)[0] > 0, 30, 0.2, what=f"the Service answering ({mode})")
        rps: dict[str, list[float]] = {k: [] for k in urls}
        problems = set()
        for i in range(repeats):
            for key, url in urls.items():
                v, prob = wrk(url, seconds)
                rps[key].append(v)
                if prob:
                    problems.add(f"{mode} {key}: {prob}")
            log(f"in_cluster {mode} #{i + 1}: " + "  ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rps.items()))
    finally:
        eng.cleanup()
    return rps["direct"], rps["service"], problems


def run(docker, quick: bool) -> list[Result]:
    seconds, repeats = (3, 2) if quick else (8, 3)
    direct, service, problems = measure(docker, "kernel", seconds, repeats)
    ratio = [s / d for s, d in zip(service, direct)]
    res = Result("service_rps_ratio", median(ratio), ">= 0.8",
                 f"wrk -c32 keep-alive in a pod, {seconds}s: Service name (kernel proxy) vs the pod IP directly",
                 baseline_label="wrk in a pod straight to the pod IP (nginx backend)", baseline=median(direct),
                 kubedeck=median(service), unit="req/s", repeats=repeats, spread=spread(ratio))
    nc_direct, nc_service, nc_problems = measure(docker, "nc", seconds, repeats)
    nc_ratio = [s / d for s, d in zip(nc_service, nc_direct)]
    res.rows.append({"label": "nc fallback", "detail": "busybox nc relays (KUBEDECK_SERVICE_PROXY=nc)",
                     "value": f"{median(nc_service):,.0f} req/s, ratio {median(nc_ratio):.2f}"})
    res.notes += sorted(problems | nc_problems)
    res.notes.append("2 cores shared by wrk, the backend and the forwarding: the kernel proxy's NAT "
                     "costs softirq CPU taken from the others")
    return [res]
