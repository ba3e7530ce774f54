"""Docker goes away under a running engine and comes back (docker_door.DockerDoor), while
the app serves load: the engine reports it in /kubedeck/v1/status, says so once in its
log, reconnects by itself and converges: a container that died during the outage is
restarted and counted, a scale-up saved during the outage is applied, and the audit
holds. The app keeps answering through the outage from its live replicas."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from chaoslib import Load, app, audit, node_port, settle
from conftest import Engine, wait_for
from docker_door import DockerDoor

pytestmark = [pytest.mark.chaos, pytest.mark.docker]


def restarts(eng) -> dict[str, int]:
    return {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["restartCount"] for p in eng.pods("app=web")
            if p.get("status", {}).get("containerStatuses")}


@pytest.mark.timeout(240)
def test_docker_outage_is_reported_and_survived(tmp_path, docker_client, monkeypatch):
    door = DockerDoor(f"/tmp/kdtest-door-{uuid.uuid4().hex[:8]}.sock").open()
    eng = Engine(tmp_path, docker_client)
    try:
        with monkeypatch.context() as env:  # only the engine (and its CLI) go through the door
            env.setenv("DOCKER_HOST", f"unix://{door.path}")
            eng.start()
        eng.write("web.yaml", app(2))
        settle(eng, 2)
        before = restarts(eng)
        victim = sorted(before)[0]
        with Load(node_port(eng)) as load:
            wait_for(lambda: load.ok_streak(10), 30, what="load answered")
            t_out = time.monotonic()
            door.shut()
            status = wait_for(lambda: (lambda s: s if s["docker"] != "ok" else None)(eng.client.status()), 30,
                              what="the outage in the status")
            assert "not reachable" in status["docker"]
            # the NodePort keeps serving with Docker away: the rules and listeners need no Docker
            wait_for(lambda: sum(ok for _, ok, _ in load.since(t_out)) >= 10, 30,
                     what="answers through the NodePort during the outage")
            # meanwhile: a container dies, and the folder asks for one more replica
            [c] = [c for c in eng.containers() if c.labels.get("io.kubernetes.pod.name") == victim
                   and c.labels.get("io.kubernetes.container.name") == "web" and c.status == "running"]
            c.kill()
            eng.write("web.yaml", app(3))
            wait_for(lambda: len(eng.pods("app=web")) == 3, 30, what="the scale-up in the store")
            # the dead replica's endpoint stays in the rules until Docker is back (no kubelet
            # sees it die): requests sent to it fail meanwhile, so none is counted on here
            during = load.since(t_out)
            door.open()
            wait_for(lambda: eng.client.status()["docker"] == "ok", 30, what="Docker back in the status")
            # the victim may still read Running and Ready (nothing saw it die while Docker was
            # away), so three ready pods alone do not mean the agent has caught up with it yet
            wait_for(lambda: restarts(eng).get(victim, 0) > before[victim], 30, what="the victim's restart seen")
            settle(eng, 3)
            after = restarts(eng)
            assert after[victim] == before[victim] + 1, (victim, before, after)
            assert all(after[n] == before[n] for n in before if n != victim), (victim, before, after)
            wait_for(lambda: load.ok_streak(10), 30, what="load answered after the outage")
        ok = sum(ok for _, ok, _ in during)
        print(f"during the outage: {ok}/{len(during)} requests answered")
        audit(eng)
        log = eng.log_path.read_text(errors="replace")
        assert log.count("docker event stream lost") == 1 and "Docker is reachable again" in log
        assert "Traceback" not in log
    finally:
        door.shut()
        door.open()  # the engine's own shutdown and the cleanup need Docker
        eng.cleanup()
        door.shut()
        assert not os.path.exists(door.path)
