"""SIGKILL of the engine at a random moment during apply, scale-up, rollout and delete
(twice in a row for scale-up and rollout: the second lands while the restarted engine
adopts its containers and catches up), then a restart: the cluster converges to the folder with no duplicate pods, no leaked
containers, networks, volumes or NodePort tables (the audit), the pods of other
workloads untouched and the PVC's data intact. `kubedeck down --volumes` then leaves
nothing of the cluster in Docker or in the host's netfilter."""

from __future__ import annotations

import signal
import time

import pytest

from chaoslib import DATA, app, audit, nft_tables, rng, settle
from conftest import wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.docker]


def keeper(engine):
    [c] = [c for c in engine.containers() if c.labels.get("io.kubernetes.pod.name") == "keeper"
           and c.labels.get("io.kubernetes.container.name") == "keeper" and c.status == "running"]
    return c


def crash_and_restart(engine, r, what: str) -> None:
    delay = r.uniform(0.0, 3.0)  # the random point of the fault, not a wait
    time.sleep(delay)
    print(f"{what}: SIGKILL after {delay:.2f} s")
    engine.kill(signal.SIGKILL)
    engine.start()


@pytest.mark.timeout(300)
def test_engine_killed_mid_change_converges(engine):
    r = rng()
    engine.write("data.yaml", DATA)
    engine.write("web.yaml", app(2))
    settle(engine, 2)
    wait_for(lambda: engine.running_ready("app=keeper", 1), 60, what="keeper running")
    token = f"kept-{r.getrandbits(32):08x}"
    assert keeper(engine).exec_run(["sh", "-c", f"echo {token} > /data/marker && sync"]).exit_code == 0
    keeper_uid = engine.client.get("Pod", "default", "keeper")["metadata"]["uid"]

    def data_kept():
        c = keeper(engine)
        assert c.exec_run(["cat", "/data/marker"]).output.decode().strip() == token
        assert engine.client.get("Pod", "default", "keeper")["metadata"]["uid"] == keeper_uid
        return True

    steps = [("scale-up", lambda: engine.write("web.yaml", app(5)), 5, "v1"),
             ("rollout", lambda: engine.write("web.yaml", app(5, "v2")), 5, "v2"),
             ("scale-down", lambda: engine.write("web.yaml", app(3, "v2")), 3, "v2"),
             ("apply", lambda: engine.write("web2.yaml", app(2, "w").replace("name: web", "name: web2")
                                            .replace("app: web", "app: web2")), 3, "v2")]
    for what, change, replicas, version in steps:
        change()
        crash_and_restart(engine, r, what)
        if what in ("scale-up", "rollout"):  # and again while it adopts and catches up
            crash_and_restart(engine, r, what + " (restarted)")
        settle(engine, replicas, version)
        data_kept()
    wait_for(lambda: engine.running_ready("app=web2", 2), 90, what="web2 applied")

    (engine.folder / "web.yaml").unlink()
    crash_and_restart(engine, r, "delete")
    wait_for(lambda: not engine.pods("app=web") and not [
        c for c in engine.containers() if c.labels.get("io.kubernetes.pod.name", "").startswith("web-")], 90,
        what="web's pods and containers gone")
    assert engine.running_ready("app=web2", 2) and data_kept()
    wait_for(lambda: audit(engine), 30, what="the audit after delete")
    assert nft_tables(engine) == 1

    r_down = engine.cli("down", "--volumes")
    assert "Traceback" not in r_down.stdout + r_down.stderr
    label = {"label": f"io.kubedeck.cluster={engine.name}"}
    assert engine.containers() == []
    assert engine.docker.networks.list(filters=label) == []
    assert engine.docker.volumes.list(filters=label) == []
    assert nft_tables(engine) == 0
