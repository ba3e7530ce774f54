"""Docker unreachable: one clear message, a visible status, and the engine connects by
itself once Docker is there. Simulated with DOCKER_HOST on a socket that only later
starts forwarding to the real daemon."""

from __future__ import annotations

import uuid

from conftest import Engine, wait_for
from docker_door import DockerDoor


def test_engine_waits_for_docker_and_connects(tmp_path, docker_client, monkeypatch):
    door = DockerDoor(f"/tmp/kd-{uuid.uuid4().hex[:8]}.sock")  # not open yet: no Docker there
    eng = Engine(tmp_path, docker_client)
    try:
        with monkeypatch.context() as env:  # only the engine goes through the door
            env.setenv("DOCKER_HOST", f"unix://{door.path}")
            eng.start()
        status = wait_for(lambda: (lambda s: s if "not reachable" in s["docker"] else None)(eng.client.status()),
                          20, what="docker status shown")
        assert "Docker daemon running" in status["docker"]
        eng.write("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: p}}\nspec:\n"
                              "  containers: [{name: c, image: 'busybox:1.36', command: [sleep, '3600']}]\n")
        wait_for(lambda: eng.client.get("Pod", "default", "p"), 10)
        log = eng.log_path.read_text()
        assert log.count("Docker is not reachable") == 1  # said once, not on every retry
        door.open()
        wait_for(lambda: eng.client.status()["docker"] == "ok", 30, what="engine connected")
        wait_for(lambda: eng.running_ready("app=p", 1), 60, what="pod running once Docker is there")
        # Docker goes away while the cluster runs: visible in the status, then back
        door.shut()
        wait_for(lambda: "not reachable" in eng.client.status()["docker"], 20, what="docker down shown")
        door.open()
        wait_for(lambda: eng.client.status()["docker"] == "ok", 30, what="docker back")
        assert eng.running_ready("app=p", 1)
    finally:
        door.shut()
        eng.cleanup()
