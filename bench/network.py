"""nodeport_rps_ratio and ingress_rps_ratio: requests/s with Debian's wrk (keep-alive,
32 connections) against one fast backend pod (kubedeck-bench/nginx:1, a 64-byte static
file), through:

- the pod IP directly (baseline for the NodePort),
- kubedeck's NodePort listener on 127.0.0.1,
- kubedeck's Ingress HTTP listener (Host: bench.local), by its default data path (the
  host's nginx when there is one), and a second engine's with `--ingress-proxy python`,
- Debian's nginx started here as the equivalent reverse proxy (baseline for the Ingress):
  one process like the engine (master_process off, worker_processes 1), upstream
  keep-alive to the same pod IP, HTTP/1.1, on a free 127.0.0.1 port with a temp config;
  stopped afterwards.

Targets are measured interleaved in short rounds, each round's order the reverse of the
last (A B C, C B A, ...), so drift hits both sides of a ratio alike. A ratio is the rounds'
total of one side over the other's: on this 2-core VM one 2 s wrk run of the same URL
varies by 5-10 %, adjacent runs less, so many short paired rounds pin a ratio down
better than a few long ones (measured: a 2 s pair's ratio has a standard deviation of
about 5.5 %; the figure's standard error is reported with it).
"""

from __future__ import annotations

import http.client
import math
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from statistics import mean, stdev
from urllib.parse import urlsplit

from common import (L_CLUSTER, NGINX_IMAGE, Engine, Result, any_free_port, free_port, log, median, percentile,
                    remove_labelled, spread, tree_cpu_seconds, wait_for)

SEGMENT_S = 2  # one wrk run of a round
ORDER = ("direct", "nodeport", "userspace", "docker-proxy", "ingress", "nginx", "ingress-python")
LAT_RATE, LAT_CONNS = 1000, 8  # "moderate load": a paced 1,000 req/s over 8 keep-alive connections

HOST = "bench.local"
# the Ingress of both engines' manifests (a format string, like them)
INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: web}}
spec:
  rules:
  - host: {host}
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}
"""
APP = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: nginx
        image: {image}
        ports: [{{containerPort: 8080, name: http}}]
        readinessProbe:
          httpGet: {{path: /healthz, port: http}}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http, nodePort: {nodeport}}}]
---
""" + INGRESS

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    upstream backend {{
        server {ip}:8080;
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        server_name {host};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering on;
        }}
    }}
}}
"""


def paired(num: list[float], den: list[float]) -> tuple[float, list[float], float]:
    """The ratio of two sides measured in the same rounds: (their totals' ratio, each
    round's ratio, the standard error of the mean of the rounds' ratios, relative)."""
    rounds = [n / d for n, d in zip(num, den) if d]
    ratio = sum(num) / sum(den) if sum(den) else float("nan")
    se = stdev(rounds) / math.sqrt(len(rounds)) / ratio if len(rounds) > 1 and ratio else float("nan")
    return ratio, rounds, se


def wrk(url: str, seconds: float, host: str | None = None) -> tuple[float, str]:
    cmd = ["wrk", "-t2", "-c32", f"-d{seconds:g}s", "--timeout", "5s"]
    if host:
        cmd += ["-H", f"Host: {host}"]
    return parse_wrk(subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 60).stdout)


def parse_wrk(out: str) -> tuple[float, str]:
    """(requests/s, problems such as errors or non-2xx answers) from wrk's report."""
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    problems = []
    for pat in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: (.*)"):
        mm = re.search(pat, out)
        if mm:
            problems.append(mm.group(0))
    return (float(m.group(1)) if m else 0.0), "; ".join(problems)


def paced_latencies(url: str, seconds: float, rate: int = LAT_RATE, conns: int = LAT_CONNS) -> list[float]:
    """Per-request latencies (ms) of GETs sent at a fixed total rate, each connection on
    its own schedule (open loop within a connection: a late answer does not delay the
    next slot's start time). Not saturating, unlike wrk: this is the latency a user sees."""
    u = urlsplit(url)
    out: list[float] = []
    lock = threading.Lock()
    interval = conns / rate

    def one(offset: float) -> None:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        mine, start = [], time.perf_counter() + offset
        n = 0
        while True:
            slot = start + n * interval
            if slot - start > seconds:
                break
            delay = slot - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # pacing the load generator, not waiting for a condition
            t0 = time.perf_counter()
            conn.request("GET", u.path or "/")
            conn.getresponse().read()
            mine.append((time.perf_counter() - t0) * 1000)
            n += 1
        conn.close()
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=one, args=(i * interval / conns,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def published_port(docker) -> tuple[str, int] | None:
    """(label, port) of a raw container of the backend image published on 127.0.0.1."""
    tag, port = f"kdbench-raw-{uuid.uuid4().hex[:6]}", free_port()
    try:
        docker.containers.run(NGINX_IMAGE, detach=True, name=tag, labels={L_CLUSTER: tag},
                              ports={"8080/tcp": ("127.0.0.1", port)})
        wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), 20, 0.1, what="docker-proxy answering")
        return tag, port
    except Exception as e:  # noqa: BLE001 - a comparison row only
        log(f"no docker-proxy comparison: {e}")
        remove_labelled(docker, tag)
        return None


def http_ok(url: str, host: str | None = None) -> bool:
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    with urllib.request.urlopen(req, timeout=2) as r:
        return r.status == 200


class Nginx:
    def __init__(self, ip: str):
        self.dir = Path(tempfile.mkdtemp(prefix="kdbench-nginx-"))
        self.port = any_free_port()
        (self.dir / "nginx.conf").write_text(NGINX_CONF.format(dir=self.dir, ip=ip, port=self.port, host=HOST))
        self.proc = subprocess.Popen(["nginx", "-e", "stderr", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")],
                                     stdout=subprocess.DEVNULL, stderr=open(self.dir / "stderr.log", "wb"))
        wait_for(lambda: http_ok(self.url, HOST), 10, 0.05, what="nginx reverse proxy")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# the same backend pod behind a NodePort of a second engine whose NodePorts stay in the
# proxy worker (the fallback, and what serves UDP NodePorts): a Service without selector
USERSPACE = """\
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  type: NodePort
  ports: [{{port: 80, targetPort: 8080, nodePort: {nodeport}}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: web}}
subsets: [{{addresses: [{{ip: "{ip}"}}], ports: [{{port: 8080}}]}}]
---
""" + INGRESS


def run(docker, quick: bool) -> list[Result]:
    seconds = SEGMENT_S
    rounds = 10 if quick else 20
    repeats = 2 if quick else 3  # of the latency figure
    nodeport = free_port()
    forwarding = "?"
    # the second engine also serves its Ingress from the Python worker (`--ingress-proxy
    # python`, what hosts without nginx get), beside the first one's default data path
    with Engine(docker) as eng, Engine(docker, ["--ingress-proxy", "python"],
                                       env={"KUBEDECK_NODEPORT_PROXY": "userspace"}) as eng2:
        eng.write("web.yaml", APP.format(image=NGINX_IMAGE, nodeport=nodeport, host=HOST))
        pods = wait_for(lambda: [p for p in eng.pods("app=web") if p.get("status", {}).get("podIP") and any(
            c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])], 90, 0.1,
            what="backend pod ready")
        ip = pods[0]["status"]["podIP"]
        direct = f"http://{ip}:8080/"
        np_url = f"http://127.0.0.1:{nodeport}/"
        wait_for(lambda: http_ok(np_url), 20, 0.1, what="NodePort answering")
        forwarding = wait_for(lambda: (f := eng.client.status().get("nodePortForwarding")) and
                              "not loaded yet" not in f and f, 20, 0.1, what="NodePort rules")
        urls = {"direct": (direct, None), "nodeport": (np_url, None)}
        userspace = free_port(nodeport + 1)
        eng2.write("web.yaml", USERSPACE.format(nodeport=userspace, ip=ip, host=HOST))
        us_url = f"http://127.0.0.1:{userspace}/"
        try:
            wait_for(lambda: http_ok(us_url), 20, 0.1, what="user-space NodePort answering")
            urls["userspace"] = (us_url, None)
        except Exception as e:  # noqa: BLE001 - report, don't block the other figures
            log(f"user-space NodePort not answering: {e}")
        ingress_error = ""
        data_path = {}
        for key, e in (("ingress", eng), ("ingress-python", eng2)):
            try:
                addr = wait_for(lambda e=e: (e.client.status().get("ingress") or {}).get("http"), 10, 0.1,
                                what="ingress http listener")
                ing_url = f"http://{addr}/"
                wait_for(lambda u=ing_url, e=e: http_ok(u, HOST) and not e.client.status()["ingress"].get("reloading"),
                         20, 0.1, what="Ingress answering")
                urls[key] = (ing_url, HOST)
                data_path[key] = e.client.status()["ingress"].get("dataPath", "?")
            except Exception as e:  # noqa: BLE001 - report, don't block the other figures
                if key == "ingress":
                    ingress_error = f"kubedeck Ingress not answering: {e}"
                log(f"{key} not answering: {e}")
        # what the usual local tools give on 127.0.0.1 (Docker's published ports, as used by
        # kind, minikube's docker driver and podman): docker-proxy in user space
        published = published_port(docker)
        if published:
            urls["docker-proxy"] = (f"http://127.0.0.1:{published[1]}/", None)
        nginx = None
        if "ingress" in urls:
            try:
                nginx = Nginx(ip)
                urls["nginx"] = (nginx.url, HOST)
            except Exception as e:  # noqa: BLE001
                ingress_error = f"nginx baseline could not start: {e}"
        try:
            rps: dict[str, list[float]] = {k: [] for k in urls}
            problems: dict[str, set] = {k: set() for k in urls}
            # CPU seconds per request of the proxying processes (engine + its proxy worker;
            # nginx + its worker): on 2 cores wrk, proxy and backend share the CPU, so the
            # rps ratio mixes the proxy's cost with wrk's; this row is the proxy's alone
            cpu_of = {"ingress": eng.pid, "ingress-python": eng2.pid, "nginx": nginx.proc.pid if nginx else None}
            cpu_us: dict[str, list[float]] = {k: [] for k in cpu_of}
            for url, host in urls.values():
                wrk(url, 1, host)  # warm up connections, pools, caches
            # each ratio's two sides side by side, so a round's reversal keeps them paired
            order = [k for k in ORDER if k in urls]
            for i in range(rounds):
                for key in (order if i % 2 == 0 else order[::-1]):
                    url, host = urls[key]
                    pid = cpu_of.get(key)
                    c0 = tree_cpu_seconds(pid) if pid else 0.0
                    v, prob = wrk(url, seconds, host)
                    if pid and v:
                        cpu_us[key].append((tree_cpu_seconds(pid) - c0) / (v * seconds) * 1e6)
                    rps[key].append(v)
                    if prob:
                        problems[key].add(prob)
                if i % 5 == 4 or i == rounds - 1:
                    log("network rounds 1-%d: " % (i + 1) + "  ".join(f"{k} {mean(v):,.0f}/s" for k, v in rps.items()))
            # latency added at moderate load: p99 through the NodePort minus p99 direct
            p99: dict[str, list[float]] = {"direct": [], "nodeport": []}
            p50: dict[str, list[float]] = {"direct": [], "nodeport": []}
            lat_seconds = 1.5 if quick else 5
            for key in ("direct", "nodeport"):
                paced_latencies(urls[key][0], 0.5)  # warm up
            for _ in range(repeats):
                for key in ("direct", "nodeport"):
                    lat = paced_latencies(urls[key][0], lat_seconds)
                    p99[key].append(percentile(lat, 99))
                    p50[key].append(percentile(lat, 50))
            log("network latency p99: " + "  ".join(f"{k} {median(v):.3f} ms" for k, v in p99.items()))
        finally:
            if nginx:
                nginx.stop()
            if published:
                remove_labelled(docker, published[0])
    added = [n - d for n, d in zip(p99["nodeport"], p99["direct"])]
    lat_res = Result("nodeport_p99_added_ms", median(added), "<= 1",
                     f"p99 latency through the NodePort minus straight to the pod, paced {LAT_RATE} req/s over "
                     f"{LAT_CONNS} keep-alive connections, {1.5 if quick else 5:g}s each",
                     baseline_label="p99 straight to the pod IP", baseline=median(p99["direct"]),
                     kubedeck=median(p99["nodeport"]), unit="ms", repeats=repeats, spread=spread(added))
    lat_res.rows.append({"label": "p50", "detail": "direct / NodePort",
                         "value": f"{median(p50['direct']):.3f} / {median(p50['nodeport']):.3f} ms"})
    np_ratio, np_rounds, np_se = paired(rps["nodeport"], rps["direct"])
    np_res = Result("nodeport_rps_ratio", np_ratio, ">= 0.95",
                    f"wrk -c32 keep-alive, {rounds} rounds of {seconds}s: NodePort 127.0.0.1:{nodeport} vs the "
                    "pod IP directly", baseline_label="wrk straight to the pod IP (nginx backend)",
                    baseline=mean(rps["direct"]), kubedeck=mean(rps["nodeport"]), unit="req/s", repeats=rounds,
                    spread=spread(np_rounds))
    np_res.notes.append(f"standard error of the ratio: {np_se * 100:.1f} % (the spread is one round's)")
    for k in ("direct", "nodeport"):
        if problems[k]:
            np_res.notes.append(f"{k}: " + "; ".join(sorted(problems[k])))
    if "docker-proxy" in rps:
        dp = paired(rps["docker-proxy"], rps["direct"])[0]
        np_res.rows.append({"label": "docker-proxy", "detail": "a Docker published port on 127.0.0.1 (same image, "
                            "its own container) vs direct, for comparison",
                            "value": f"{mean(rps['docker-proxy']):,.0f} req/s, ratio {dp:.2f}"})
    if "userspace" in rps:
        us = paired(rps["userspace"], rps["direct"])[0]
        np_res.rows.append({"label": "user space", "detail": "a NodePort of the proxy worker (the fallback when the "
                            "kernel path is off), same pod, vs direct",
                            "value": f"{mean(rps['userspace']):,.0f} req/s, ratio {us:.2f}"})
    np_res.notes.append(f"local TCP NodePort connections forwarded in: {forwarding}")
    np_res.notes.append("2 cores shared by wrk, the proxy and the backend: the proxy's CPU is taken from the others")
    if "nginx" in rps:
        ratio, ing_rounds, ing_se = paired(rps["ingress"], rps["nginx"])
        ing_res = Result("ingress_rps_ratio", ratio, ">= 0.9",
                         f"wrk -c32 keep-alive, {rounds} rounds of {seconds}s, Host: {HOST}: kubedeck Ingress "
                         f"(default data path: {data_path.get('ingress', '?')}) vs Debian nginx reverse proxy "
                         "(1 process, upstream keep-alive) to the same pod",
                         baseline_label="Debian nginx as reverse proxy", baseline=mean(rps["nginx"]),
                         kubedeck=mean(rps["ingress"]), unit="req/s", repeats=rounds, spread=spread(ing_rounds))
        ing_res.notes.append(f"standard error of the ratio: {ing_se * 100:.1f} % (the spread is one round's)")
        ing_res.rows.append({"label": "direct", "detail": "the backend alone (upper bound)",
                             "value": f"{mean(rps['direct']):,.0f} req/s"})
        if "ingress-python" in rps:
            py = paired(rps["ingress-python"], rps["nginx"])[0]
            ing_res.rows.append({"label": "Python data path", "detail": "a second engine with `--ingress-proxy "
                                 "python` (hosts without nginx), same pod, vs the nginx baseline",
                                 "value": f"{mean(rps['ingress-python']):,.0f} req/s, ratio {py:.2f}"})
        for key, label in (("ingress", "default data path"), ("ingress-python", "Python data path")):
            if cpu_us[key] and cpu_us["nginx"]:
                ing_res.rows.append({"label": f"CPU/request, {label}", "detail": "proxy CPU per request "
                                     "(utime+stime) of the engine's process tree / the nginx baseline's, and "
                                     "their ratio", "value": f"{median(cpu_us[key]):.1f} / "
                                     f"{median(cpu_us['nginx']):.1f} us, "
                                     f"{median(cpu_us['nginx']) / median(cpu_us[key]):.2f}"})
        for k in ("ingress", "ingress-python", "nginx"):
            if problems.get(k):
                ing_res.notes.append(f"{k}: " + "; ".join(sorted(problems[k])))
    else:
        ing_res = Result("ingress_rps_ratio", None, ">= 0.9", "kubedeck Ingress vs Debian nginx reverse proxy",
                         error=ingress_error or "not available")
    return [np_res, ing_res, lat_res]
