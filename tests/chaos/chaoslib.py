"""Chaos suite helpers: a demo app under steady HTTP load through a NodePort, and the
audit run after every fault (what must hold, whatever was done to the cluster).

Every test module here sets `pytestmark = [chaos, docker]` (`pytest -m chaos` runs just
these; they are part of a plain `python -m pytest`). Faults are chosen by a seeded
random.Random (CHAOS_SEED, default 19), so a failure replays exactly; every wait is for
a condition, with a bound.
"""

from __future__ import annotations

import http.client
import os
import random
import subprocess
import threading
import time

from conftest import Engine, wait_for

SEED = int(os.environ.get("CHAOS_SEED", "19"))

APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: %(replicas)d
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: busybox:1.36
        env: [{name: VERSION, value: "%(version)s"}]
        command: [sh, -c, 'mkdir -p /www && echo "$VERSION $(hostname)" > /www/index.html && httpd -f -p 8080 -h /www & trap "exit 0" TERM; wait']
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1, failureThreshold: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""
DATA = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 10Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: keeper, labels: {app: keeper}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: keeper
    image: busybox:1.36
    command: [sh, -c, 'trap "exit 0" TERM; while true; do sleep 1; done']
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
"""


def rng() -> random.Random:
    return random.Random(SEED)


def app(replicas: int = 3, version: str = "v1") -> str:
    return APP % {"replicas": replicas, "version": version}


def node_port(engine) -> int:
    return engine.client.get("Service", "default", "web")["spec"]["ports"][0]["nodePort"]


class Load:
    """Steady HTTP GETs through the NodePort from a thread: (time, ok, body) per request."""

    def __init__(self, port: int):
        self.port = port
        self.results: list[tuple[float, bool, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Load":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/")
                r = conn.getresponse()
                body = r.read().decode(errors="replace")
                conn.close()
                self.results.append((t, r.status == 200, body))
            except OSError:
                self.results.append((t, False, ""))
            time.sleep(0.02)

    def ok_streak(self, n: int) -> bool:
        """The last n requests all succeeded."""
        last = self.results[-n:]
        return len(last) == n and all(ok for _, ok, _ in last)

    def since(self, t: float) -> list[tuple[float, bool, str]]:
        return [r for r in self.results if r[0] >= t]


def web_ready(engine, n: int, version: str | None = None):
    pods = engine.running_ready("app=web", n)
    if pods and version:
        env = {p["metadata"]["name"]: p["spec"]["containers"][0]["env"][0]["value"] for p in pods}
        return pods if set(env.values()) == {version} else None
    return pods


def audit(engine) -> dict:
    """What must hold after any fault, once the cluster has settled: every container of
    this cluster belongs to a pod that exists (or is a Service / NodePort helper), each
    pod has one live container per spec container and at most one sandbox (a one-container
    pod has none), one
    network, volumes only for existing claims, one NodePort table in the host.
    Returns the pods by name."""
    pods = {p["metadata"]["uid"]: p for p in engine.client.list("Pod", "")}
    live: dict[tuple[str, str], int] = {}
    for c in engine.containers():
        labels = c.labels
        uid = labels.get("io.kubernetes.pod.uid")
        if uid is None:
            assert labels.get("io.kubedeck.role") in ("service-proxy", "nodeport-kernel"), (c.name, labels)
            continue
        assert uid in pods, f"orphan container {c.name} of a pod that no longer exists"
        if c.status in ("running", "created", "restarting"):
            key = (uid, labels["io.kubernetes.container.name"])
            live[key] = live.get(key, 0) + 1
    for uid, pod in pods.items():
        if pod["metadata"].get("deletionTimestamp") or (pod.get("status") or {}).get("phase") != "Running":
            continue
        for name in [c["name"] for c in pod["spec"]["containers"]]:
            assert live.get((uid, name)) == 1, f"pod {pod['metadata']['name']} has {live.get((uid, name))} live {name!r}"
        assert live.get((uid, "POD"), 0) <= 1, f"pod {pod['metadata']['name']} has two sandboxes"
    nets = [n.name for n in engine.docker.networks.list(filters={"label": f"io.kubedeck.cluster={engine.name}"})]
    assert nets == [f"kubedeck-{engine.name}"], nets
    claims = {f"kubedeck-{engine.name}-{c['metadata']['namespace']}-{c['metadata']['name']}"
              for c in engine.client.list("PersistentVolumeClaim", "")}
    vols = {v.name for v in engine.docker.volumes.list(filters={"label": f"io.kubedeck.cluster={engine.name}"})}
    assert vols <= claims, f"leaked volumes {vols - claims}"
    assert nft_tables(engine) <= 1
    return {p["metadata"]["name"]: p for p in pods.values()}


def nft_tables(engine) -> int:
    """This cluster's NodePort tables in the host's netfilter."""
    from kubedeck.engine.kubeproxy.nodeport_kernel import table_name

    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
    return out.split().count(table_name(engine.name))


def engine_on(disk, tmp_path, docker_client) -> Engine:
    """An engine whose state dir lives on `disk` (a file system the test breaks), with its
    folder and log elsewhere, so only the state dir's file system fails."""
    eng = Engine(disk, docker_client)
    eng.folder = tmp_path / "manifests"
    eng.folder.mkdir()
    eng.log_path = tmp_path / "engine.log"
    return eng


def settle(engine, replicas: int, version: str | None = None, timeout: float = 90) -> dict:
    """Wait until the web app has `replicas` ready pods (of `version`) and the audit holds."""
    wait_for(lambda: web_ready(engine, replicas, version), timeout, what=f"{replicas} web pods ready")
    return wait_for(lambda: _audited(engine), 30, what="the audit to hold")


def _audited(engine):
    try:
        return audit(engine)
    except AssertionError as e:  # not settled yet: a container may still be on its way out
        raise RuntimeError(str(e)) from None
