"""Graceful behaviour on a real engine and Docker: Ctrl-C (SIGINT) stops `serve` cleanly;
`kubedeck down` is idempotent and never prints a traceback, also when a container
kubedeck did not create sits on its network; and a container that is not ours but is
named like ours survives both the engine and `down`."""

from __future__ import annotations

import signal

import docker
import pytest

from conftest import wait_for
from e2e_kit import APP_POD


@pytest.mark.timeout(240)
def test_sigint_stops_serve_cleanly_and_down_is_idempotent(engine, docker_client):
    engine.write("app.yaml", APP_POD)
    wait_for(lambda: engine.running_ready("app=app", 1), 60, what="app running")
    network = f"kubedeck-{engine.name}"
    # a user's container, named like one of ours, on our network: kubedeck must not remove it
    intruder = docker_client.containers.run("busybox:1.36", ["sleep", "3600"], detach=True,
                                            name=f"k8s_POD_app_default_{engine.name}_x", network=network)
    try:
        engine.proc.send_signal(signal.SIGINT)
        assert engine.proc.wait(20) == 0
        log = engine.log_path.read_text(errors="replace")
        assert "engine stopped" in log and "Traceback" not in log, log[-3000:]
        assert [c.status for c in engine.containers()] == ["running"] * len(engine.containers())  # pods keep running

        first = engine.cli("down", check=False)
        assert "Traceback" not in first.stderr + first.stdout, first.stderr
        assert first.returncode == 1, first.stdout + first.stderr
        [problem] = first.stderr.strip().splitlines()
        assert f"network {network} not removed" in problem and intruder.name in problem
        assert engine.containers() == []  # ours are gone
        intruder.reload()
        assert intruder.status == "running"  # theirs is not

        docker_client.networks.get(network).disconnect(intruder)
        second = engine.cli("down")
        assert "removed 0 container(s)" in second.stdout and not second.stderr
        with pytest.raises(docker.errors.NotFound):
            docker_client.networks.get(network)
        third = engine.cli("down")
        assert "removed 0 container(s)" in third.stdout and not third.stderr
        intruder.reload()
        assert intruder.status == "running"
    finally:
        intruder.remove(force=True)


SVC = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: app}
  ports: [{port: 80, targetPort: 8080}]
"""


@pytest.mark.timeout(180)
def test_a_stranger_named_like_our_service_proxy_is_never_removed(engine, docker_client):
    """A user's container that happens to carry the name kubedeck gives a Service's proxy:
    the engine does not remove it (it says whose name it is), and neither does `down`."""
    name = f"k8s_svc_web_default_{engine.name}"
    stranger = docker_client.containers.run("busybox:1.36", ["sleep", "3600"], detach=True, name=name)
    try:
        engine.write("app.yaml", APP_POD)
        engine.write("svc.yaml", SVC)
        wait_for(lambda: engine.running_ready("app=app", 1), 60, what="app running")
        wait_for(lambda: "was not created by kubedeck" in engine.log_path.read_text(errors="replace"), 60,
                 what="the engine saying the name is taken by a stranger")
        stranger.reload()
        assert stranger.status == "running" and stranger.id == docker_client.containers.get(name).id
        r = engine.cli("down")
        assert "Traceback" not in r.stdout + r.stderr
        stranger.reload()
        assert stranger.status == "running"
    finally:
        stranger.remove(force=True)


def test_a_second_delete_with_grace_0_cuts_the_first_ones_grace_short(engine):
    """sleep as PID 1 ignores SIGTERM, so a delete waits out the pod's 30 s grace period;
    a second delete with --grace-period=0 --force kills it at once, as the kubelet does."""
    engine.write("app.yaml", APP_POD.replace("terminationGracePeriodSeconds: 1", "terminationGracePeriodSeconds: 30"))
    wait_for(lambda: engine.running_ready("app=app", 1), 60, what="app running")
    engine.client.delete("Pod", "default", "app")
    wait_for(lambda: any(e["reason"] == "Killing" for e in engine.client.list("Event", "default")), 10,
             what="the first delete's stop under way")
    assert [c.status for c in engine.containers() if c.labels.get("io.kubedeck.role") == "app"] == ["running"]
    engine.cli("delete", "pod", "app", "--grace-period=0", "--force", check=False)
    wait_for(lambda: not [c for c in engine.containers() if c.labels.get("io.kubedeck.role") == "app"], 10,
             what="the container killed well before the 30 s grace ran out")
