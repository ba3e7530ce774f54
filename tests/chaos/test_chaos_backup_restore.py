"""Disaster and recovery on a real engine: `kubedeck backup` of a live cluster, then the
cluster is destroyed (`kubedeck down`: containers, network and store gone; PVC volumes
kept, as down keeps them), `kubedeck restore` into the stopped state dir and `serve`
again: every object is back with its uid and resourceVersion (an object made only
through the API too, which the folder could not bring back), the app converges, the PVC
data is there, and the audit holds."""

from __future__ import annotations

import signal

import pytest

from chaoslib import DATA, app, audit, settle
from conftest import wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.docker]


def keeper_read(engine) -> str:
    [c] = [c for c in engine.containers() if c.labels.get("io.kubernetes.pod.name") == "keeper"
           and c.labels.get("io.kubernetes.container.name") == "keeper" and c.status == "running"]
    return c.exec_run(["cat", "/data/marker"]).output.decode().strip()


@pytest.mark.timeout(240)
def test_backup_down_restore_serve(engine, tmp_path):
    engine.write("data.yaml", DATA)
    engine.write("web.yaml", app(2))
    settle(engine, 2)
    wait_for(lambda: engine.running_ready("app=keeper", 1), 60, what="keeper running")
    [c] = [c for c in engine.containers() if c.labels.get("io.kubernetes.pod.name") == "keeper"]
    assert c.exec_run(["sh", "-c", "echo precious > /data/marker && sync"]).exit_code == 0
    api_only = engine.client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api-only"},
                                     "data": {"made": "through the API"}})
    snapshot = tmp_path / "cluster.backup"
    r = engine.cli("backup", str(snapshot))  # live: the engine keeps writing meanwhile
    assert "backed up" in r.stdout
    before = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o["metadata"]["uid"]
              for kind in ("Deployment", "ConfigMap", "PersistentVolumeClaim", "Service", "Namespace")
              for o in engine.client.list(kind, "")}

    engine.kill(signal.SIGTERM)
    engine.cli("down")  # the disaster: containers, network and store gone (volumes kept)
    assert engine.containers() == [] and not (engine.state / "store.sqlite").exists()
    r = engine.cli("restore", str(snapshot))
    assert "restored" in r.stdout and "Traceback" not in r.stderr
    engine.start()

    got = engine.client.get("ConfigMap", "default", "api-only")
    assert got["metadata"]["uid"] == api_only["metadata"]["uid"] and got["data"] == api_only["data"]
    assert int(got["metadata"]["resourceVersion"]) >= int(api_only["metadata"]["resourceVersion"])
    after = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o["metadata"]["uid"]
             for kind in ("Deployment", "ConfigMap", "PersistentVolumeClaim", "Service", "Namespace")
             for o in engine.client.list(kind, "")}
    assert after == before
    settle(engine, 2)
    wait_for(lambda: engine.running_ready("app=keeper", 1), 60, what="keeper back")
    assert keeper_read(engine) == "precious"
    audit(engine)
