"""portforward_mbps_ratio: throughput through a real `kubectl port-forward` to a pod,
against a direct TCP connection from the host to the same pod, in the same run.

A busybox pod serves N bytes of /dev/zero per connection (`nc -ll -e`). The client
reads until EOF and counts. Direct and forwarded reads take turns, so neither competes
with the other for the 2 cores. The kubectl on PATH (>= 1.31: SPDY tunnelled in a
WebSocket) gives the headline; kubectl.1.27 beside it (SPDY/3.1 upgrade), when present,
adds a row. Ratio = forwarded MB/s / direct MB/s. Target (the issue's): at least 0.5.
The forward passes kubectl's TLS and SPDY framing and the engine's (Python) relay, on
the same 2 cores as the pod and the reader.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from common import Engine, Result, log, median, pod_yaml, spread, wait_for

SERVER = ("printf '#!/bin/sh\\nexec head -c {n} /dev/zero\\n' > /serve && chmod +x /serve && "
          "exec nc -ll -p 9000 -e /serve")


def read_all(port: int, host: str = "127.0.0.1") -> tuple[int, float]:
    """(bytes, MB/s) of one connection read to its end."""
    with socket.create_connection((host, port), timeout=60) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        buf, n = bytearray(1 << 20), 0
        t0 = time.perf_counter()
        while got := s.recv_into(buf):
            n += got
        return n, n / 1e6 / (time.perf_counter() - t0)


class Forward:
    """`kubectl port-forward pod/NAME :9000` and the local port it bound."""

    def __init__(self, kubectl: str, kubeconfig: Path, pod: str) -> None:
        self.proc = subprocess.Popen([kubectl, "--kubeconfig", str(kubeconfig), "port-forward", "--address",
                                      "127.0.0.1", f"pod/{pod}", ":9000"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r":(\d+) -> 9000", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"{kubectl} port-forward did not start: {line}{self.proc.stderr.read()}")
        self.port = int(m.group(1))
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)


def run(docker, quick: bool) -> Result:
    size = (100 if quick else 300) * 1024 * 1024
    repeats = 2 if quick else 3
    path = shutil.which("kubectl")
    if path is None:
        raise RuntimeError("kubectl is not on PATH")
    kubectls = {"kubectl": path}
    old = Path(os.path.realpath(path)).parent / "kubectl.1.27"
    if os.access(old, os.X_OK):
        kubectls["kubectl.1.27"] = str(old)
    rates: dict[str, list[float]] = {"direct": [], **{k: [] for k in kubectls}}
    with Engine(docker) as eng:
        eng.write("pf.yaml", pod_yaml("pf", "pf", ["sh", "-c", SERVER.format(n=size)]))
        pod = wait_for(lambda: next((p for p in eng.pods("app=pf") if p["status"].get("podIP")
                                     and p["status"].get("phase") == "Running"), None), 90, 0.1, what="pod running")
        ip = pod["status"]["podIP"]
        wait_for(lambda: read_all(9000, ip)[0] == size, 30, 0.2, what="the pod serving")
        forwards = {k: Forward(b, eng.state / "kubeconfig", "pf") for k, b in kubectls.items()}
        try:
            for i in range(repeats):
                n, mbps = read_all(9000, ip)
                assert n == size, f"direct read {n} of {size} bytes"
                rates["direct"].append(mbps)
                for k, fw in forwards.items():
                    n, mbps = read_all(fw.port)
                    assert n == size, f"{k} read {n} of {size} bytes"
                    rates[k].append(mbps)
                log(f"portforward #{i + 1}: " + "  ".join(f"{k} {v[-1]:,.0f} MB/s" for k, v in rates.items()))
        finally:
            for fw in forwards.values():
                fw.close()
    ratios = {k: [f / d for f, d in zip(rates[k], rates["direct"])] for k in kubectls}
    rows = [{"label": k, "value": f"{median(rates[k]):,.0f} MB/s", "detail": f"ratio {median(r):.3f}"}
            for k, r in ratios.items()]
    return Result("portforward_mbps_ratio", median(ratios["kubectl"]), ">= 0.5",
                  f"`kubectl port-forward` (kubectl on PATH) vs a direct connection to the pod, "
                  f"{size // 2**20} MiB per read",
                  baseline_label="direct TCP to the pod IP", baseline=median(rates["direct"]),
                  kubedeck=median(rates["kubectl"]), unit="MB/s", repeats=repeats, spread=spread(ratios["kubectl"]),
                  rows=rows)
