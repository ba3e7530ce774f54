"""Service names from inside pods, on the Service port (80 -> 8080). The tests share one
engine (`shared_engine`: reset after each)."""

from __future__ import annotations

import pytest
from conftest import wait_for
from e2e_kit import CLIENT, SVC, WEB, exec_in

pytestmark = pytest.mark.shared_engine

STS = """
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: busybox:1.36
        command: ["sh", "-c", "mkdir -p /www && echo $(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
"""


def test_service_names_resolve_on_the_service_port(engine):
    # the client starts before the Service exists: the name must still resolve later
    engine.write("client.yaml", CLIENT)
    engine.write("web.yaml", WEB)
    wait_for(lambda: engine.running_ready("app=web", 2), 60, what="web pods")
    wait_for(lambda: engine.client.get("Pod", "default", "client")["status"]["phase"] == "Running", 60)
    engine.write("svc.yaml", SVC)
    names = {p["metadata"]["name"] for p in engine.pods("app=web")}
    for host in ("web", "web.default", "web.default.svc", "web.default.svc.cluster.local"):
        seen = wait_for(lambda host=host: exec_in(engine, "client", f"wget -qO- http://{host}/"), 30,
                        what=f"{host} answering on port 80")
        assert seen in names
    # balanced over both replicas
    got = wait_for(lambda: {exec_in(engine, "client", "wget -qO- http://web/") for _ in range(20)} >= names
                   and True, 30, what="both replicas reached by name")
    assert got
    ip = engine.client.get("Service", "default", "web")["spec"]["clusterIP"]
    assert exec_in(engine, "client", f"wget -qO- http://{ip}/") in names
    # the same endpoints as an EndpointSlice, through the API as kubectl would list them
    [sl] = engine.client.list("EndpointSlice", "default", "kubernetes.io/service-name=web")
    assert sl["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert {e["targetRef"]["name"] for e in sl["endpoints"] if e["conditions"]["ready"]} == names


def test_headless_and_statefulset_pod_names(engine):
    engine.write("client.yaml", CLIENT)
    engine.write("db.yaml", STS)
    wait_for(lambda: engine.running_ready("app=db", 2), 90, what="db-0 and db-1 ready")
    assert exec_in(engine, "client", "wget -qO- http://db-0.db:8080/") == "db-0"
    assert exec_in(engine, "client", "wget -qO- http://db-1.db.default.svc.cluster.local:8080/") == "db-1"
    assert exec_in(engine, "client", "wget -qO- http://db:8080/") in ("db-0", "db-1")


def test_service_env_vars_for_existing_services(engine):
    # one file with the Service and its client, as `kubedeck up` of a folder would see it:
    # the client must start with the Service's real clusterIP (the proxy's address), not
    # the placeholder from the service range, and find the name on its first try
    engine.write("all.yaml", WEB + "---\n" + SVC + "---\n" + CLIENT.replace(
        'command: ["sleep", "3600"]',
        'command: ["sh", "-c", "wget -qO- http://web/ > /tmp/first 2>&1; sleep 3600"]'))
    wait_for(lambda: engine.client.get("Pod", "default", "client")["status"]["phase"] == "Running", 60)
    ip = engine.client.get("Service", "default", "web")["spec"]["clusterIP"]
    assert not ip.startswith("10.96."), ip
    env = exec_in(engine, "client", "env")
    assert f"WEB_SERVICE_HOST={ip}" in env and "WEB_SERVICE_PORT=80" in env
    assert "bad address" not in exec_in(engine, "client", "cat /tmp/first")


def test_port_forward_to_a_service_survives_pod_replacement(engine):
    import socket
    import subprocess
    import sys
    import urllib.request

    engine.write("web.yaml", WEB.replace("replicas: 2", "replicas: 1") + "---\n" + SVC)
    first = wait_for(lambda: engine.running_ready("app=web", 1), 60, what="web pod")[0]["metadata"]["name"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "kubedeck", "--state", str(engine.state), "port-forward",
                             "svc/web", f"{port}:80"], stdout=subprocess.PIPE, text=True)
    try:
        assert f"127.0.0.1:{port}" in proc.stdout.readline()

        def fetch():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                return r.read().decode().strip()
        assert fetch() == first
        engine.client.delete("Pod", "default", first)
        second = wait_for(lambda: (lambda r: r and r[0]["metadata"]["name"] != first and r)(
            engine.running_ready("app=web", 1)), 60, what="replacement pod")[0]["metadata"]["name"]
        assert wait_for(lambda: fetch() == second, 20, what="the forward reaching the new pod")
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_bare_service_name_resolves_in_the_pods_own_namespace(engine):
    """`web` from a pod in `dev` is dev's Service, as with Kubernetes' DNS search path;
    `web.default` still reaches the other one."""
    def in_dev(text: str, name: str) -> str:
        return text.replace(f"metadata: {{name: {name}}}", f"metadata: {{name: {name}, namespace: dev}}")

    def ready_names(ns: str) -> set[str]:
        return {p["metadata"]["name"] for p in engine.pods("app=web", ns=ns)
                if any(c["type"] == "Ready" and c["status"] == "True"
                       for c in (p.get("status") or {}).get("conditions") or [])}

    engine.write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: dev}\n")
    engine.write("default.yaml", WEB + "---\n" + SVC + "---\n" + CLIENT)
    engine.write("dev.yaml", in_dev(WEB, "web") + "---\n" + in_dev(SVC, "web") + "---\n"
                 + in_dev(CLIENT.replace("{name: client}", "{name: client-dev}"), "client-dev"))
    default_names = wait_for(lambda: len(ready_names("default")) == 2 and ready_names("default"), 90,
                             what="2 web pods in default")
    dev_names = wait_for(lambda: len(ready_names("dev")) == 2 and ready_names("dev"), 90, what="2 web pods in dev")
    for pod, host, want in (("client-dev", "web", dev_names), ("client-dev", "web.default", default_names),
                            ("client", "web", default_names), ("client", "web.dev.svc.cluster.local", dev_names)):
        got = wait_for(lambda pod=pod, host=host: (exec_in(engine, pod, f"wget -qO- http://{host}/") or None), 30,
                       what=f"{host} from {pod}")
        assert got in want, f"{host} from {pod} answered {got!r}, want one of {want}"
