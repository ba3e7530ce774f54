"""The real Docker daemon restarted under a running cluster (issue 19): dockerd gets
SIGTERM, exits (without live-restore it stops every container on the machine), and is
started again with the command line, environment and working directory it had (read
from /proc/<pid>), logging to /tmp/kubedeck-chaos-dockerd.log, detached (`setsid -f`) so it
outlives the test.

While the daemon is away the engine keeps serving the API (reads, and writes to its own
store) and says Docker is not reachable in /kubedeck/v1/status. Once it is back: the
engine reconnects by itself, the web pods (the same pods: their containers were stopped
by the daemon and are restarted by kubedeck) are Running and Ready again, the NodePort
answers again, every object in the store is intact (same uids, the Service keeps its
nodePort), and the audit finds no duplicate or orphan container.

A container of ours with Docker's `restart: always` policy (not kubedeck's) shows what
Docker itself brings back; it is printed, not asserted: kubedeck's recovery is what is
checked.

This disturbs everything else on the daemon, so it has the daemon to itself: tests/conftest.py
hands every `dockerd_restart` test out first, while the other workers run Docker-free
tests, and the other Docker tests wait for it (_DaemonShare). The daemon is started again
in `finally`, whatever failed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import docker
import pytest

from chaoslib import Load, app, audit, node_port, settle
from conftest import Engine, wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.docker, pytest.mark.dockerd_restart]

DOCKERD_LOG = "/tmp/kubedeck-chaos-dockerd.log"
SOCKET = "unix:///var/run/docker.sock"


class Dockerd:
    """The running daemon as found in /proc, stopped for real and started again alike."""

    def __init__(self):
        pids = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout.split()
        assert len(pids) == 1, f"this test restarts the one running dockerd; pgrep -x dockerd found {pids}"
        self.pid = int(pids[0])
        proc = Path(f"/proc/{self.pid}")
        self.argv = [a.decode() for a in (proc / "cmdline").read_bytes().split(b"\0") if a]
        self.env = dict(kv.decode().split("=", 1) for kv in (proc / "environ").read_bytes().split(b"\0") if b"=" in kv)
        self.cwd = os.readlink(proc / "cwd")

    @staticmethod
    def answers() -> bool:
        try:
            client = docker.DockerClient(base_url=SOCKET, timeout=2)
            try:
                return client.ping()
            finally:
                client.close()
        except Exception:  # noqa: BLE001 - any failure: not answering
            return False

    def alive(self) -> bool:
        return alive(self.pid)

    def stop(self) -> None:
        os.kill(self.pid, signal.SIGTERM)
        wait_for(lambda: not self.answers(), 60, 0.2, what="dockerd to stop answering")
        wait_for(lambda: not self.alive(), 90, 0.2, what=f"dockerd (pid {self.pid}) to exit")

    def start(self) -> None:
        """Start it as it was; wait until it answers. A daemon answering already is left
        alone, and so is one still starting (it reloads every container on the machine
        before it answers: over a minute with a few hundred)."""
        if self.answers():
            return
        # the stopped daemon may linger as a zombie (init reaps it when it gets to it)
        pids = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout.split()
        if not [p for p in pids if alive(int(p))]:
            with open(DOCKERD_LOG, "ab") as logf:
                subprocess.run(["setsid", "-f", *self.argv], env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                               stdout=logf, stderr=subprocess.STDOUT, check=True)
        wait_for(self.answers, 300, 0.5, what=f"dockerd to answer again (log: {DOCKERD_LOG})")


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def snapshot(eng: Engine) -> dict[tuple[str, str], dict]:
    """Every object of the kinds this test made, by (kind, name): uid and what must not change.

    A Service's clusterIP is its proxy container's IP (engine/kubeproxy/services.py), and
    Docker gives a restarted container whatever address is free: that field may move
    (README lists it among the differences from Kubernetes); the rest of the spec may not."""
    out = {}
    for kind in ("Deployment", "ReplicaSet", "Service", "ConfigMap", "Secret", "Pod"):
        for o in eng.client.list(kind, "default"):
            spec = dict(o.get("spec") or {})
            if kind == "Service":
                spec.pop("clusterIP", None)
                spec.pop("clusterIPs", None)
            out[(kind, o["metadata"]["name"])] = {"uid": o["metadata"]["uid"], "spec": spec, "data": o.get("data")}
    return out


def proxy_ip(docker_client, eng: Engine, name: str) -> str:
    """The address of the Service's proxy container on the cluster network."""
    [c] = docker_client.api.containers(filters={"label": [f"io.kubedeck.cluster={eng.name}",
                                                          f"io.kubedeck.service=default/{name}"]})
    return next(iter(c["NetworkSettings"]["Networks"].values()))["IPAddress"]


@pytest.mark.timeout(900)
def test_dockerd_restart_under_a_running_cluster(tmp_path, docker_client):
    daemon = Dockerd()
    print(f"containers on the daemon: {len(docker_client.api.containers(all=True))}")
    eng = Engine(tmp_path, docker_client)
    canary_label = f"kdtest-canary-{uuid.uuid4().hex[:8]}"
    try:
        eng.start()
        eng.write("web.yaml", app(2))
        eng.client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "before"},
                           "data": {"k": "v"}})
        eng.client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
                           "data": {"password": "aHVudGVyMg=="}})
        settle(eng, 2)
        canary = docker_client.containers.run("busybox:1.36", ["sleep", "3600"], detach=True,
                                              labels={"io.kubedeck.cluster": canary_label},
                                              restart_policy={"Name": "always"})
        before = snapshot(eng)
        restarts = {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["restartCount"]
                    for p in eng.pods("app=web")}
        port = node_port(eng)
        with Load(port) as load:
            wait_for(lambda: load.ok_streak(10), 30, what="load answered")
            t_stop = time.monotonic()
            daemon.stop()
            print(f"dockerd stopped in {time.monotonic() - t_stop:.1f} s")
            # the engine keeps serving: it reports Docker, reads work, its own store takes writes
            status = wait_for(lambda: (lambda s: s if s["docker"] != "ok" else None)(eng.client.status()), 30,
                              what="the outage in the status")
            assert "not reachable" in status["docker"], status["docker"]
            assert {n for k, n in snapshot(eng)} == {n for k, n in before}
            eng.client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "during"},
                               "data": {"k": "v"}})
            t_start = time.monotonic()
            daemon.start()
            print(f"dockerd answering {time.monotonic() - t_start:.1f} s after its start")
            wait_for(lambda: eng.client.status()["docker"] == "ok", 60, what="Docker back in the status")
            settle(eng, 2, timeout=120)
            wait_for(lambda: load.ok_streak(10), 60, what="the NodePort answering again")
            print(f"NodePort answering {time.monotonic() - t_start:.1f} s after dockerd's start")
        after = snapshot(eng)
        assert after.pop(("ConfigMap", "during"))["data"] == {"k": "v"}
        lost = {k for k in before if k not in after}
        assert not lost, f"objects lost over the daemon restart: {lost}"
        changed = {k for k in before if after[k]["uid"] != before[k]["uid"] or
                   (k[0] != "Pod" and (after[k]["spec"], after[k]["data"]) != (before[k]["spec"], before[k]["data"]))}
        assert not changed, f"objects replaced or changed over the daemon restart: {changed}"
        assert node_port(eng) == port
        svc = eng.client.get("Service", "default", "web")
        assert svc["spec"]["clusterIP"] == proxy_ip(docker_client, eng, "web")  # followed, if it moved
        now = {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["restartCount"] for p in eng.pods("app=web")}
        assert set(now) == set(restarts)  # the same pods, their containers restarted in place
        assert all(now[n] >= restarts[n] + 1 for n in now), (restarts, now)
        audit(eng)  # one live container per pod container, no orphans, one network, one nft table
        canary.reload()
        print(f"Docker's own restart policy: a restart=always container is {canary.status} after the restart; "
              f"restart counts {restarts} -> {now}")
        log = eng.log_path.read_text(errors="replace")
        assert "Docker is reachable again" in log
        assert "Traceback" not in log, log[-4000:]
    finally:
        daemon.start()
        for c in docker_client.api.containers(all=True, filters={"label": f"io.kubedeck.cluster={canary_label}"}):
            docker_client.api.remove_container(c["Id"], force=True)
        eng.cleanup()
