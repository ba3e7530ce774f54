"""The thin slice end to end: a file becomes pods on Docker, a NodePort answers,
balancing across replicas, and the folder stays the truth as files change.

The tests share one engine (`shared_engine`: reset after each), but the one that kills
its proxy worker (others count the worker's restarts) and the ClientIP affinity one."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from conftest import free_nodeport, trickle, wait_for

pytestmark = pytest.mark.shared_engine

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        command: ["sh", "-c", "mkdir -p /www && echo $(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"]
        ports:
        - {{containerPort: 8080, name: http}}
        readinessProbe:
          httpGet: {{path: /, port: http}}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {{app: web}}
  ports:
  - {{port: 80, targetPort: http, nodePort: {port}}}
"""


def quick_stop(manifest: str) -> str:
    """The pod template with a 1 s grace period. busybox httpd runs as PID 1, which ignores
    SIGTERM, so each deleted pod would otherwise wait out Kubernetes' default 30 s."""
    out = manifest.replace("    spec:\n      containers:", "    spec:\n      terminationGracePeriodSeconds: 1\n      containers:")
    assert out != manifest, "no pod template found"
    return out


def get(url: str, timeout: float = 3) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode().strip()


def test_file_becomes_pods_behind_a_nodeport(engine):
    port = free_nodeport()
    engine.write("web.yaml", WEB.format(replicas=3, port=port))
    pods = wait_for(lambda: engine.running_ready("app=web", 3), 60, what="3 ready web pods")
    names = {p["metadata"]["name"] for p in pods}
    assert all(n.startswith("web-") and len(n.split("-")) == 3 for n in names)
    # each pod is a real container (plus its sandbox) labelled with the Kubernetes names
    labels = [c.labels for c in engine.containers() if c.labels.get("io.kubernetes.container.name") == "web"]
    assert {lab["io.kubernetes.pod.name"] for lab in labels} == names
    # the NodePort listens on 127.0.0.1 only, and balances across all replicas
    seen = wait_for(lambda: {get(f"http://127.0.0.1:{port}/") for _ in range(30)} == names and names,
                    20, what="all replicas answering through the NodePort")
    assert seen
    listeners = [line for line in open("/proc/net/tcp").read().splitlines()[1:]
                 if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"]
    assert listeners and all(line.split()[1].startswith("0100007F") for line in listeners)


def test_save_scales_and_removing_the_file_deletes(engine):
    port = free_nodeport()
    path = engine.write("web.yaml", quick_stop(WEB.format(replicas=1, port=port)))
    wait_for(lambda: engine.running_ready("app=web", 1), 60, what="1 ready pod")
    engine.write("web.yaml", quick_stop(WEB.format(replicas=2, port=port)))
    wait_for(lambda: engine.running_ready("app=web", 2), 60, what="scaled to 2 by saving the file")
    path.unlink()
    wait_for(lambda: not engine.client.list("Deployment", "default") and not engine.pods("app=web"),
             60, what="deployment and pods deleted with the file")
    # all but the host's NodePort helper, which stays once a pod has run (it routes pods to
    # the API, engine/in_cluster.py)
    wait_for(lambda: [c.labels.get("io.kubedeck.role") for c in engine.containers()] == ["nodeport-kernel"], 30,
             what="containers removed")


def test_broken_file_leaves_running_app_untouched(engine):
    port = free_nodeport()
    engine.write("web.yaml", WEB.format(replicas=1, port=port))
    before = wait_for(lambda: engine.running_ready("app=web", 1), 60, what="1 ready pod")
    engine.write("web.yaml", WEB.format(replicas=1, port=port).replace("containerPort", "containerPorts"))
    errors = wait_for(lambda: engine.client.status()["manifestErrors"], 10, what="the error reported")
    assert any(e["file"] == "web.yaml" and "containerPorts" in e["message"] and e["line"] > 0 for e in errors)
    engine.write("garbage.yaml", "\x00\x01\x02 not yaml: [")
    wait_for(lambda: any(e["file"] == "garbage.yaml" for e in engine.client.status()["manifestErrors"]), 10,
             what="garbage reported")
    after = engine.running_ready("app=web", 1)
    assert after and after[0]["metadata"]["uid"] == before[0]["metadata"]["uid"]
    assert get(f"http://127.0.0.1:{port}/") == before[0]["metadata"]["name"]


def test_same_object_in_two_files_is_a_conflict(engine):
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {k: %s}\n"
    engine.write("a.yaml", cm % "a")
    wait_for(lambda: engine.client.get("ConfigMap", "default", "shared"), 10, what="configmap")
    engine.write("b.yaml", cm % "b")
    errs = wait_for(lambda: [e for e in engine.client.status()["manifestErrors"] if e["file"] == "b.yaml"], 10,
                    what="conflict error")
    assert "a.yaml" in errs[0]["message"]
    assert engine.client.get("ConfigMap", "default", "shared")["data"]["k"] == "a"


def test_scale_survives_unrelated_saves_until_the_file_changes_replicas(engine):
    port = free_nodeport()
    text = WEB.format(replicas=1, port=port)
    engine.write("web.yaml", text)
    wait_for(lambda: engine.running_ready("app=web", 1), 60, what="1 pod")
    engine.cli("scale", "deployment/web", "--replicas=2")
    wait_for(lambda: engine.running_ready("app=web", 2), 60, what="scaled to 2")
    # an unrelated change in the file (a label on the Service) keeps the scaled replicas
    engine.write("web.yaml", text.replace("metadata:\n  name: web\nspec:\n  type", "metadata:\n  name: web\n  labels: {tier: front}\nspec:\n  type"))
    wait_for(lambda: engine.client.get("Service", "default", "web")["metadata"].get("labels") == {"tier": "front"}, 10)
    assert engine.client.get("Deployment", "default", "web")["spec"]["replicas"] == 2
    # the file changing replicas wins
    engine.write("web.yaml", WEB.format(replicas=3, port=port))
    wait_for(lambda: engine.running_ready("app=web", 3), 60, what="file says 3")


def test_taken_nodeport_is_an_error_on_that_service_only(engine):
    taken = free_nodeport()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", taken))
    blocker.listen()
    try:
        port = free_nodeport()
        engine.write("web.yaml", WEB.format(replicas=1, port=port))
        engine.write("other.yaml", WEB.format(replicas=1, port=taken).replace("name: web", "name: other")
                     .replace("app: web", "app: other"))
        wait_for(lambda: engine.running_ready("app=web", 1), 60, what="web running")
        err = wait_for(lambda: engine.client.status()["nodePorts"].get("default/other"), 20,
                       what="the bind error on the other Service")
        assert str(taken) in err and "error" in err
        events = engine.client.list("Event", "default")
        assert any(e["reason"] == "FailedToBindNodePort" and e["involvedObject"]["name"] == "other" for e in events)
        names = {p["metadata"]["name"] for p in engine.running_ready("app=web", 1)}
        assert wait_for(lambda: get(f"http://127.0.0.1:{port}/") in names, 20)
    finally:
        blocker.close()


# the proxy's ClientIP memory outlives a deleted Service (engine/proxy/nodeport.py
# _affinity): an earlier test's `web` on the same port would seed the kernel's rules
@pytest.mark.own_engine
def test_session_affinity_client_ip(engine):
    port = free_nodeport()
    engine.write("web.yaml", WEB.format(replicas=3, port=port).replace(
        "  type: NodePort", "  type: NodePort\n  sessionAffinity: ClientIP"))
    wait_for(lambda: engine.running_ready("app=web", 3), 60, what="3 pods")
    # most likely served by the proxy worker, before the kernel's rules take the port over:
    # the client must stay on its pod across that handoff (the rules are seeded with it)
    first = wait_for(lambda: get(f"http://127.0.0.1:{port}/"), 20)
    wait_for(lambda: engine.client.status().get("nodePortForwarding") == "kernel", 30, what="kernel NodePorts")
    assert {get(f"http://127.0.0.1:{port}/") for _ in range(20)} == {first}


def test_udp_nodeport(engine):
    """busybox has no UDP server, so the backends are UDP echo sockets in this process,
    behind a selector-less Service with hand-made Endpoints (which must work too). A
    client's flow follows the Endpoints: when its endpoint goes, the next datagram of the
    same client socket reaches the new one; a re-routed Service keeps its port."""
    import threading

    def echo_server(tag: bytes):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))

        def serve():
            while True:
                try:
                    data, addr = sock.recvfrom(1024)
                except OSError:
                    return
                sock.sendto(tag + data, addr)
        threading.Thread(target=serve, daemon=True).start()
        return sock

    first, second = echo_server(b"a:"), echo_server(b"b:")
    port = free_nodeport()
    manifest = """
apiVersion: v1
kind: Service
metadata: {{name: udp}}
spec:
  type: NodePort
  ports: [{{name: {name}, port: 53, protocol: UDP, nodePort: {port}}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: udp}}
subsets:
- addresses: [{{ip: 127.0.0.1}}]
  ports: [{{name: {name}, port: {echo}, protocol: UDP}}]
"""
    engine.write("udp.yaml", manifest.format(name="dns", port=port, echo=first.getsockname()[1]))
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(1)

    def ask():
        client.sendto(b"hi", ("127.0.0.1", port))
        while True:  # skip late answers to earlier tries
            data = client.recvfrom(1024)[0]
            if data.endswith(b"hi"):
                return data
    try:
        assert wait_for(ask, 30, interval=0.2, what="an answer through the UDP NodePort") == b"a:hi"
        engine.write("udp.yaml", manifest.format(name="dns", port=port, echo=second.getsockname()[1]))
        wait_for(lambda: ask() == b"b:hi", 30, interval=0.2, what="the same client flow moved to the new endpoint")
        # the Service is re-routed (another port name): same port, still answering, no bind error
        engine.write("udp.yaml", manifest.format(name="dns2", port=port, echo=first.getsockname()[1]))
        wait_for(lambda: ask() == b"a:hi", 30, interval=0.2, what="the re-routed Service answering")
        assert not [e for e in engine.client.list("Event", "default") if e["reason"] == "FailedToBindNodePort"]
    finally:
        client.close()
        first.close()
        second.close()


def test_thousand_idle_connections_and_a_slow_client(engine):
    port = free_nodeport()
    engine.write("web.yaml", WEB.format(replicas=1, port=port))
    name = wait_for(lambda: engine.running_ready("app=web", 1), 60, what="pod")[0]["metadata"]["name"]
    wait_for(lambda: get(f"http://127.0.0.1:{port}/") == name, 20)
    idle = []
    try:
        for _ in range(1000):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            idle.append(s)
        assert get(f"http://127.0.0.1:{port}/") == name  # still served with 1,000 idle clients open
        # a slow client: the request trickles in byte by byte
        data = trickle(port, b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        assert data.startswith(b"HTTP/1.") and name.encode() in data
    finally:
        for s in idle:
            s.close()


def test_custom_resource_before_its_crd_is_accepted_once_the_crd_arrives(engine):
    engine.write("a-widget.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n")
    wait_for(lambda: any("Widget" in e["message"] for e in engine.client.status()["manifestErrors"]), 10)
    engine.write("b-crd.yaml", """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
""")
    wait_for(lambda: not [e for e in engine.client.status()["manifestErrors"]
                          if e["severity"] == "error" and e["file"] == "a-widget.yaml"], 10,
             what="the Widget accepted once its CRD exists")


@pytest.mark.own_engine
def test_nodeport_keeps_its_port_when_the_proxy_worker_dies(engine):
    """The engine owns the listening socket and hands it to the proxy worker: a worker
    killed with SIGKILL is started again, and a client connecting in between waits in
    the backlog instead of being refused."""
    import os
    import signal

    port = free_nodeport()
    engine.write("web.yaml", WEB.format(replicas=1, port=port))
    name = wait_for(lambda: engine.running_ready("app=web", 1), 60, what="pod")[0]["metadata"]["name"]
    wait_for(lambda: get(f"http://127.0.0.1:{port}/") == name, 20)
    worker = engine.client.status()["proxyWorker"]
    assert worker["pid"] and f"nodeport:127.0.0.1:{port}/TCP" in worker["listeners"]
    os.kill(worker["pid"], signal.SIGKILL)
    assert get(f"http://127.0.0.1:{port}/", timeout=15) == name  # queued, then served by the new worker
    after = engine.client.status()["proxyWorker"]
    assert after["pid"] != worker["pid"] and after["restarts"] == worker["restarts"] + 1


def test_a_nodeport_that_goes_and_comes_back_is_served_again(engine):
    """Deleting a NodePort Service and creating it again at once (or switching its type
    away and back) gets the same port back, not 'address already in use'."""
    port = free_nodeport()
    engine.write("web.yaml", WEB.format(replicas=1, port=port))
    name = wait_for(lambda: engine.running_ready("app=web", 1), 60, what="pod")[0]["metadata"]["name"]
    wait_for(lambda: get(f"http://127.0.0.1:{port}/") == name, 20, what="NodePort answering")
    svc = engine.client.get("Service", "default", "web")
    for _ in range(3):
        engine.client.delete("Service", "default", "web")
        wait_for(lambda: "default/web:80" not in engine.client.status()["nodePorts"], 10, what="listener closed")
        engine.client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                              "spec": {k: v for k, v in svc["spec"].items() if k not in ("clusterIP", "clusterIPs")}})
        assert wait_for(lambda: get(f"http://127.0.0.1:{port}/") == name, 20, what="NodePort back")
    errors = [e for e in engine.client.list("Event", "default") if e.get("reason") == "FailedToBindNodePort"]
    assert errors == []


def test_half_close_passes_through_the_nodeport(engine):
    """A client that sends its request and then shuts its write side still gets the whole
    answer (the FIN is passed on to the pod, the answer comes back), over and over."""
    port = free_nodeport()
    engine.write("web.yaml", WEB.format(replicas=1, port=port))
    name = wait_for(lambda: engine.running_ready("app=web", 1), 60, what="pod")[0]["metadata"]["name"]
    wait_for(lambda: get(f"http://127.0.0.1:{port}/") == name, 20)
    for _ in range(200):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            s.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        if not (data.startswith(b"HTTP/1.") and data.rstrip().endswith(name.encode())):
            # say whether the pod had left the endpoints (the proxy then closes at once) or not
            events = [f"{e['reason']}: {e['message']}" for e in engine.client.list("Event", "default")
                      if e["involvedObject"].get("name") == name]
            raise AssertionError(f"answer {data[-200:]!r}; Endpoints "
                                 f"{engine.client.get('Endpoints', 'default', 'web').get('subsets')}; "
                                 f"events of {name}: {events}")
    assert engine.client.status()["proxyWorker"]["restarts"] == 0
