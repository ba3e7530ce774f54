"""logs_follow_ratio: how fast `kubedeck logs -f` delivers a chatty pod's output, against
`docker logs -f` on the same container in the same run.

A busybox pod prints `ready`, waits for a go file, then prints N numbered lines (`seq`, as
fast as the container can) and sleeps. The follower (a subprocess reading its stdout line
by line) is attached first (it has seen `ready`); after the go it reports the time from
its line `1` to its line `N`. docker and kubedeck take turns, each on a fresh pod, so
neither competes with the other for the 2 cores. Ratio = kubedeck lines/s / docker
lines/s. Target (ours; the issue asks the TUI to keep up with 10,000 lines/s, and Docker's
own follower does ~100,000 here): at least half of Docker's rate. The TUI logs pane reads
the same API stream.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from common import Engine, Result, log, median, pod_yaml, spread, wait_for

SCRIPT = "echo ready; while [ ! -e /tmp/go ]; do sleep 0.02; done; seq 1 {n}; sleep 3600"


class Follower:
    """A follow command in a subprocess; `seconds` from its line 1 to its line `last`."""

    def __init__(self, cmd: list[str], last: int) -> None:
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.last, self.seconds, self.started = str(last), None, False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        t0 = None
        for line in self.proc.stdout:
            line = line.strip()
            if line == "1":
                t0 = time.perf_counter()
            elif line == self.last and t0 is not None:
                self.seconds = time.perf_counter() - t0
                return
            self.started = True

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def run(docker, quick: bool) -> Result:
    n = 50_000 if quick else 200_000
    repeats = 2 if quick else 3
    rates: dict[str, list[float]] = {"docker": [], "kubedeck": []}
    with Engine(docker) as eng:
        for i in range(repeats):
            for who in ("docker", "kubedeck"):  # one at a time, each on a fresh pod
                name = f"logs-{who}-{i}"
                eng.write(f"{name}.yaml", pod_yaml(name, "logs", ["sh", "-c", SCRIPT.format(n=n)]))
                cid = wait_for(lambda name=name: next((c.id for c in eng.app_containers(name)), None), 60, 0.1,
                               what=f"{name} running")
                cmd = ["docker", "logs", "-f", cid] if who == "docker" else \
                    [sys.executable, "-m", "kubedeck", "--state", str(eng.state), "logs", "-f", name]
                follower = Follower(cmd, n)
                try:
                    wait_for(lambda f=follower: f.started, 30, 0.02, what=f"{who} follower attached (saw `ready`)")
                    docker.containers.get(cid).exec_run(["touch", "/tmp/go"])
                    wait_for(lambda f=follower: f.seconds is not None, 120, 0.05, what=f"{who} saw the last line")
                finally:
                    follower.stop()
                rates[who].append(n / follower.seconds)
                eng.client.delete("Pod", "default", name, grace=0)
            log(f"logs #{i + 1}: " + "  ".join(f"{k} {v[-1]:,.0f} lines/s" for k, v in rates.items()))
    ratio = [k / d for k, d in zip(rates["kubedeck"], rates["docker"])]
    return Result("logs_follow_ratio", median(ratio), ">= 0.5",
                  f"`kubedeck logs -f` vs `docker logs -f` on a pod printing {n:,} lines as fast as it can",
                  baseline_label="docker logs -f, same container", baseline=median(rates["docker"]),
                  kubedeck=median(rates["kubedeck"]), unit="lines/s", repeats=repeats, spread=spread(ratio))
