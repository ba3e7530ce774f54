"""The engine API over real HTTP: auth, Kubernetes Status errors, CRUD, watches, the CLI.

The tests share one engine (`shared_engine`: reset after each), but the one that restarts
it and the one with two engines."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from conftest import wait_for
from e2e_kit import deployment

pytestmark = pytest.mark.shared_engine

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api-cm", "labels": {"app": "x"}},
      "data": {"a": "1"}}


def test_auth_and_status_errors(engine):
    url, tls = engine.client.url, engine.client.conn.ssl()
    assert url.startswith("https://127.0.0.1:")
    r = httpx.get(url + "/api/v1/namespaces/default/pods", verify=tls)
    assert r.status_code == 401 and r.json()["kind"] == "Status" and r.json()["reason"] == "Unauthorized"
    r = httpx.get(url + "/api/v1/namespaces/default/pods", headers={"Authorization": "Bearer wrong"}, verify=tls)
    assert r.status_code == 401
    http = engine.client.http
    r = http.get("/api/v1/namespaces/default/configmaps/nope")
    assert r.status_code == 404 and r.json()["reason"] == "NotFound"
    assert http.get("/api/v1/namespaces/default/widgets").status_code == 404
    # 422 with the field path for an invalid object
    bad = {**CM, "metadata": {"name": "Bad_Name"}}
    r = http.post("/api/v1/namespaces/default/configmaps", json=bad)
    assert r.status_code == 422 and r.json()["reason"] == "Invalid" and "metadata.name" in r.json()["message"]
    # create, then a stale resourceVersion is a 409 Conflict
    r = http.post("/api/v1/namespaces/default/configmaps", json=CM)
    assert r.status_code == 201
    created = r.json()
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    assert http.post("/api/v1/namespaces/default/configmaps", json=CM).status_code == 409
    upd = json.loads(json.dumps(created))
    upd["data"]["a"] = "2"
    assert http.put("/api/v1/namespaces/default/configmaps/api-cm", json=upd).status_code == 200
    upd["data"]["a"] = "3"  # still the old resourceVersion
    r = http.put("/api/v1/namespaces/default/configmaps/api-cm", json=upd)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    # merge patch, label selector, delete
    r = http.patch("/api/v1/namespaces/default/configmaps/api-cm", content=json.dumps({"data": {"b": "x", "a": None}}),
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.json()["data"] == {"b": "x"}
    assert [o["metadata"]["name"] for o in engine.client.list("ConfigMap", "default", "app=x")] == ["api-cm"]
    assert engine.client.list("ConfigMap", "default", "app=y") == []
    assert http.delete("/api/v1/namespaces/default/configmaps/api-cm").status_code == 200
    assert http.get("/api/v1/namespaces/default/configmaps/api-cm").status_code == 404


def test_watch_streams_changes_in_order(engine):
    rv = engine.client.request("GET", "/api/v1/namespaces/default/configmaps")["metadata"]["resourceVersion"]
    events: list = []

    def watch():
        for etype, obj in engine.client.watch("ConfigMap", "default", resource_version=rv, timeout=20):
            events.append((etype, obj["metadata"]["name"], obj.get("data")))
            if etype == "DELETED":
                return
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    engine.client.create(CM)
    engine.client.patch("ConfigMap", "default", "api-cm", {"data": {"a": "2"}})
    engine.client.delete("ConfigMap", "default", "api-cm")
    t.join(20)
    assert [e[0] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[1][2] == {"a": "2"}


@pytest.mark.own_engine
def test_state_survives_engine_restart(engine):
    engine.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\ndata: {k: v}\n")
    first = wait_for(lambda: engine.client.get("ConfigMap", "default", "keep"), 10)
    engine.kill()
    engine.start()
    again = engine.client.get("ConfigMap", "default", "keep")
    assert again["metadata"]["uid"] == first["metadata"]["uid"]
    assert int(again["metadata"]["resourceVersion"]) >= int(first["metadata"]["resourceVersion"])
    # the file removed while the engine was down is noticed on start
    engine.kill()
    (engine.folder / "cm.yaml").unlink()
    engine.start()
    wait_for(lambda: "keep" not in {c["metadata"]["name"] for c in engine.client.list("ConfigMap", "default")}, 10,
             what="object of removed file deleted")


def test_cli_get_describe_scale_and_rollout(engine):
    engine.write("web.yaml", deployment("web", """
containers:
- {name: web, image: "busybox:1.36", command: [sleep, "3600"]}
"""))
    wait_for(lambda: engine.running_ready("app=web", 1), 60, what="pod")
    out = engine.cli("get", "pods").stdout
    assert out.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert "Running" in out
    assert "deployment.apps/web scaled" in engine.cli("scale", "deployment/web", "--replicas=2").stdout
    wait_for(lambda: engine.running_ready("app=web", 2), 60, what="scaled to 2")
    assert "successfully rolled out" in engine.cli("rollout", "status", "deployment/web", "--timeout", "60").stdout
    desc = engine.cli("describe", "deployment", "web").stdout
    assert "ScalingReplicaSet" in desc
    yaml_out = engine.cli("get", "deploy", "web", "-o", "yaml").stdout
    assert "kind: Deployment" in yaml_out
    r = engine.cli("get", "widgets", check=False)
    assert r.returncode == 1 and "doesn't have a resource type" in r.stderr and "Traceback" not in r.stderr
    engine.cli("rollout", "restart", "deployment/web")
    wait_for(lambda: len(engine.client.list("ReplicaSet", "default")) == 2, 30, what="a new ReplicaSet")
    assert "REVISION" in engine.cli("rollout", "history", "deployment/web").stdout


def test_validate_command_reports_every_error(tmp_path, engine):
    (tmp_path / "bad.yaml").write_text("""apiVersion: v1
kind: Deployment
metadata: {name: x}
---
apiVersion: v1
kind: Service
metadata: {name: s}
spec:
  type: NodePort
  ports: [{port: 80, nodePort: 80}]
""")
    r = engine.cli("validate", str(tmp_path), check=False)
    assert r.returncode == 1
    assert 'apps/v1' in r.stderr and "nodePort" in r.stderr and "bad.yaml:" in r.stderr
    assert "Traceback" not in r.stderr


def test_two_clusters_side_by_side(make_engine):
    a, b = make_engine(), make_engine()
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: same, labels: {app: same}}\nspec:\n" \
          "  containers: [{name: c, image: 'busybox:1.36', command: [sleep, '3600']}]\n"
    a.write("p.yaml", pod)
    b.write("p.yaml", pod)
    wait_for(lambda: a.running_ready("app=same", 1) and b.running_ready("app=same", 1), 60, what="both pods")
    assert a.client.url != b.client.url

    def pods_containers(eng) -> set[str]:  # beside them, each cluster's NodePort helper (engine/in_cluster.py)
        return {c.id for c in eng.containers() if c.labels.get("io.kubedeck.role") != "nodeport-kernel"}
    ids_a, ids_b = pods_containers(a), pods_containers(b)
    assert len(ids_a) == 1 and len(ids_b) == 1 and not ids_a & ids_b
    # deleting in one cluster leaves the other alone
    a.client.delete("Pod", "default", "same", grace=0)
    wait_for(lambda: not a.pods("app=same") and not pods_containers(a), 30, what="a's pod gone")
    assert pods_containers(b) == ids_b
    assert (a.state / "kubeconfig").stat().st_mode & 0o777 == 0o600


def test_discovery_documents(engine):
    http = engine.client.http
    assert http.get("/api").json()["versions"] == ["v1"]
    groups = {g["name"] for g in http.get("/apis").json()["groups"]}
    assert {"apps", "batch", "networking.k8s.io"} <= groups
    core = {r["name"]: r for r in http.get("/api/v1").json()["resources"]}
    assert core["pods"]["namespaced"] and "watch" in core["pods"]["verbs"] and "pods/log" in core
    assert not core["nodes"]["namespaced"]
    apps = {r["name"] for r in http.get("/apis/apps/v1").json()["resources"]}
    assert {"deployments", "deployments/scale", "statefulsets"} <= apps
    assert http.get("/apis/nope/v9").status_code == 404
    # the resource paths still route
    assert http.get("/api/v1/namespaces/default/pods").status_code == 200
