"""Docker unreachable: one clear message, a visible status, and the engine connects by
itself once Docker is there. Simulated with DOCKER_HOST on a socket that only later
starts forwarding to the real daemon."""

from __future__ import annotations

import os
import socket
import threading
import uuid

from conftest import Engine, wait_for


def forward_unix(path: str, target: str, stop: threading.Event) -> threading.Thread:
    """A stand-in Docker socket at `path`; setting `stop` cuts every connection, as a
    daemon going away would."""
    if os.path.exists(path):
        os.unlink(path)
    open_socks: list[socket.socket] = []
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(64)
    srv.settimeout(0.2)

    def pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            d = socket.socket(socket.AF_UNIX)
            d.connect(target)
            open_socks.extend((c, d))
            threading.Thread(target=pipe, args=(c, d), daemon=True).start()
            threading.Thread(target=pipe, args=(d, c), daemon=True).start()
        srv.close()
        os.unlink(path)
        for sk in open_socks:
            try:
                sk.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def test_engine_waits_for_docker_and_connects(tmp_path, docker_client):
    sock = f"/tmp/kd-{uuid.uuid4().hex[:8]}.sock"
    eng = Engine(tmp_path, docker_client)
    old = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = f"unix://{sock}"
    stop = threading.Event()
    try:
        eng.start()
        os.environ.pop("DOCKER_HOST")
        if old:
            os.environ["DOCKER_HOST"] = old
        status = wait_for(lambda: (lambda s: s if "not reachable" in s["docker"] else None)(eng.client.status()),
                          20, what="docker status shown")
        assert "Docker daemon running" in status["docker"]
        eng.write("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: p}}\nspec:\n"
                              "  containers: [{name: c, image: 'busybox:1.36', command: [sleep, '3600']}]\n")
        wait_for(lambda: eng.client.get("Pod", "default", "p"), 10)
        log = eng.log_path.read_text()
        assert log.count("Docker is not reachable") == 1  # said once, not on every retry
        forward_unix(sock, "/var/run/docker.sock", stop)
        wait_for(lambda: eng.client.status()["docker"] == "ok", 30, what="engine connected")
        wait_for(lambda: eng.running_ready("app=p", 1), 60, what="pod running once Docker is there")
        # Docker goes away while the cluster runs: visible in the status, then back
        stop.set()
        wait_for(lambda: "not reachable" in eng.client.status()["docker"], 20, what="docker down shown")
        stop = threading.Event()
        forward_unix(sock, "/var/run/docker.sock", stop)
        wait_for(lambda: eng.client.status()["docker"] == "ok", 30, what="docker back")
        assert eng.running_ready("app=p", 1)
    finally:
        stop.set()
        if "DOCKER_HOST" in os.environ and os.environ["DOCKER_HOST"].endswith(sock):
            os.environ.pop("DOCKER_HOST")
        eng.cleanup()
        if os.path.exists(sock):
            os.unlink(sock)
