"""reconcile_ms: a manifest file is saved (atomic rename, as editors do) -> the new pod's
app container is started (Docker's `start` event), minus the time raw Docker takes to
create+start one container (call -> `start` event) measured in the same run.

Both clocks are this host's: the save time is time.time() just before os.replace, and the
start time is the daemon's event timeNano.
"""

from __future__ import annotations

import threading
import time
import uuid

from common import BUSYBOX, L_CLUSTER, Engine, Result, log, median, spread, wait_for

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: reconcile}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: busybox:1.36
    command: ["sleep", "3600"]
"""


class StartEvents:
    """Docker `start` events (container name -> (time, labels)) from a background thread."""

    def __init__(self, docker):
        self.docker = docker
        self.seen: dict[str, tuple[float, dict]] = {}
        self.cond = threading.Condition()
        self.stream = docker.api.events(decode=True, filters={"type": "container", "event": "start"})
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for ev in self.stream:
                attrs = (ev.get("Actor") or {}).get("Attributes") or {}
                with self.cond:
                    self.seen[attrs.get("name", "")] = (ev["timeNano"] / 1e9, attrs)
                    self.cond.notify_all()
        except Exception:  # noqa: BLE001 - closed
            pass

    def wait(self, match, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for _, (t, attrs) in self.seen.items():
                    if match(attrs):
                        return t
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no start event")
                self.cond.wait(left)

    def close(self) -> None:
        try:
            self.stream.close()
        except Exception:  # noqa: BLE001
            pass


def run(docker, quick: bool) -> Result:
    repeats = 5 if quick else 10
    raw_ms, kd_ms = [], []
    events = StartEvents(docker)
    tag = f"kdbench-raw-{uuid.uuid4().hex[:6]}"
    try:
        with Engine(docker) as eng:
            time.sleep(1.0)  # let the engine finish its start-up work
            for i in range(repeats):
                # raw: create+start one container directly
                name = f"{tag}-{i}"
                t0 = time.time()
                c = docker.api.create_container(BUSYBOX, name=name, command=["sleep", "3600"],
                                                labels={L_CLUSTER: tag})
                docker.api.start(c["Id"])
                t1 = events.wait(lambda a, n=name: a.get("name") == n)
                raw_ms.append((t1 - t0) * 1000)
                # kubedeck: save a file with a new pod
                pod = f"rec-{i}"
                t0 = time.time()
                eng.write(f"{pod}.yaml", POD.format(name=pod))
                t1 = events.wait(lambda a, p=pod, cl=eng.name: a.get(L_CLUSTER) == cl
                                 and a.get("io.kubernetes.pod.name") == p and a.get("io.kubedeck.role") == "app")
                kd_ms.append((t1 - t0) * 1000)
                log(f"reconcile #{i + 1}: raw {raw_ms[-1]:.0f} ms  save->started {kd_ms[-1]:.0f} ms")
                time.sleep(0.3)
            for i in range(repeats):
                (eng.folder / f"rec-{i}.yaml").unlink()
            wait_for(lambda: not eng.pods("app=reconcile"), 60, 0.2, what="pods deleted")
    finally:
        events.close()
        for c in docker.containers.list(all=True, filters={"label": f"{L_CLUSTER}={tag}"}):
            c.remove(force=True)
    over = [k - r for k, r in zip(kd_ms, raw_ms)]
    res = Result("reconcile_ms", median(over), "<= 500",
                 "manifest file saved -> new pod's container started, minus raw container create+start",
                 baseline_label="raw Docker create+start of one container", baseline=median(raw_ms),
                 kubedeck=median(kd_ms), unit="ms", repeats=repeats, spread=spread(kd_ms))
    res.rows.append({"label": "overhead", "detail": "kubedeck - raw (median of pairs)", "value": f"{median(over):.0f} ms"})
    res.rows.append({"label": "worst", "detail": "slowest save -> started", "value": f"{max(kd_ms):.0f} ms"})
    res.notes.append("a single-container pod is one Docker container (no pause sandbox)")
    return res
