"""Real kubectl binaries drive kubedeck's streaming subresources: exec (exit codes, stdin
closed, -it under a pty), attach, cp both ways, and port-forward to a pod, a Service
and a Deployment.

Each test runs kubectl.1.33 (WebSocket v5 for exec/attach/cp, SPDY tunnelled in a
WebSocket for port-forward) and kubectl.1.27 (SPDY/3.1
upgrades for everything), so both protocol generations pass through the same checks.
A missing binary fails the test. The tests share one engine (`shared_engine`: reset
after each).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import select
import socket
import struct
import subprocess
import termios
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import wait_for
from e2e_kit import deployment, kubectl_binaries

pytestmark = pytest.mark.shared_engine

MB50 = 50 * 1024 * 1024

PODS = """\
apiVersion: v1
kind: Pod
metadata: {name: shell, labels: {app: shell}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    command: ["sleep", "100000"]
"""

ATTACH = """\
apiVersion: v1
kind: Pod
metadata: {name: %(name)s, labels: {app: attach}}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.36
    stdin: true
    command: ["sh", "-c", 'while read l; do echo "got $l"; [ "$l" = bye ] && exit 0; done']
"""

ECHO = """\
apiVersion: v1
kind: Pod
metadata: {name: echo-pod, labels: {role: echo-pod}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    command: ["nc", "-ll", "-p", "9000", "-e", "cat"]
---
""" + deployment("echo", """
terminationGracePeriodSeconds: 1
containers:
- name: c
  image: busybox:1.36
  command: ["nc", "-ll", "-p", "9000", "-e", "cat"]
  ports: [{name: echo, containerPort: 9000}]
""") + """---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{port: 80, targetPort: echo}]
"""

WHO = deployment("who", """
terminationGracePeriodSeconds: 1
containers:
- name: c
  image: busybox:1.36
  command: ["nc", "-ll", "-p", "9000", "-e", "hostname"]
""")


@pytest.fixture
def kubectls() -> list[str]:
    return kubectl_binaries()


def kubectl(binary: str, engine, *args: str, stdin: bytes | None = None, timeout: float = 60,
            ) -> subprocess.CompletedProcess:
    return subprocess.run([binary, "--kubeconfig", str(engine.state / "kubeconfig"), *args], input=stdin,
                          capture_output=True, timeout=timeout, check=False)


def ready(engine, selector: str, n: int = 1) -> list[dict]:
    return wait_for(lambda: engine.running_ready(selector, n), 90, what=f"{n} ready pod(s) {selector}")


def test_exec_exit_codes_stdin_and_cp(engine, kubectls, tmp_path):
    engine.write("pods.yaml", PODS)
    ready(engine, "app=shell")
    blob = os.urandom(2 * 1024 * 1024 + 123)
    (tmp_path / "up.bin").write_bytes(blob)
    for k in kubectls:
        r = kubectl(k, engine, "exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
        assert (r.returncode, r.stdout, r.stderr.splitlines()[0]) == (3, b"out\n", b"err"), (k, r)
        # stdin piped and then closed: cat only ends because the close reached it
        r = kubectl(k, engine, "exec", "-i", "shell", "--", "sh", "-c", "cat; echo closed", stdin=b"abc\n" * 1000)
        assert (r.returncode, r.stdout) == (0, b"abc\n" * 1000 + b"closed\n"), (k, r.stderr)
        r = kubectl(k, engine, "exec", "deploy/none-such", "--", "true")
        assert r.returncode != 0
        # cp both ways (tar over exec)
        r = kubectl(k, engine, "cp", str(tmp_path / "up.bin"), "shell:/tmp/up.bin")
        assert r.returncode == 0, (k, r.stderr)
        r = kubectl(k, engine, "exec", "shell", "--", "sha256sum", "/tmp/up.bin")
        assert r.stdout.split()[0].decode() == hashlib.sha256(blob).hexdigest(), k
        back = tmp_path / f"back-{Path(k).name}.bin"
        r = kubectl(k, engine, "cp", "shell:/tmp/up.bin", str(back))
        assert r.returncode == 0 and back.read_bytes() == blob, (k, r.stderr)


def test_exec_it_under_a_pty(engine, kubectls):
    engine.write("pods.yaml", PODS)
    ready(engine, "app=shell")
    for k in kubectls:
        code, out = _shell_on_a_pty(k, engine, b"stty size; echo $((6*7))x; exit 5\r")
        assert code == 5, (k, out)
        assert b"33 111" in out, (k, out)  # the terminal's size reached the remote tty
        assert b"42x" in out, (k, out)


def _shell_on_a_pty(binary: str, engine, typed: bytes) -> tuple[int, bytes]:
    """`kubectl exec -it shell -- sh` on a 33x111 pty; types `typed` at the prompt."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    p = subprocess.Popen([binary, "--kubeconfig", str(engine.state / "kubeconfig"), "exec", "-it", "shell", "--", "sh"],
                         stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out = b""

    def read_until(marker: bytes | None, timeout: float = 30) -> None:
        nonlocal out
        deadline = time.monotonic() + timeout
        while (marker is None or marker not in out) and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: kubectl closed the terminal
                    return
                if not chunk:
                    return
                out += chunk
    try:
        read_until(b"# ")  # busybox's root prompt: the shell runs on a tty
        assert b"# " in out, out
        os.write(master, typed)
        read_until(None)
        return p.wait(30), out
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)


def test_attach(engine, kubectls):
    names = [f"att-{i}" for i in range(len(kubectls))]
    engine.write("attach.yaml", "---\n".join(ATTACH % {"name": n} for n in names))
    ready(engine, "app=attach", len(names))
    for k, name in zip(kubectls, names):
        r = kubectl(k, engine, "attach", "-i", name, stdin=b"hello\nbye\n")
        assert r.returncode == 0, (k, r.stderr)
        assert b"got hello\ngot bye\n" in r.stdout, (k, r.stdout, r.stderr)


@contextmanager
def port_forward(binary: str, engine, target: str, remote: int):
    p = subprocess.Popen([binary, "--kubeconfig", str(engine.state / "kubeconfig"), "port-forward",
                          "--address", "127.0.0.1", target, f":{remote}"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.search(r"127\.0\.0\.1:(\d+) -> ", line)
    if not m:
        p.kill()
        pytest.fail(f"{binary} port-forward {target} did not start: {line}{p.stderr.read()}")
    threading.Thread(target=p.stdout.read, daemon=True).start()  # "Handling connection" lines
    try:
        yield p, int(m.group(1))
    finally:
        if p.poll() is None:
            p.terminate()
            p.wait(15)


def echo_through(port: int, size: int) -> float:
    """Send `size` random bytes to an echo server through `port` while reading them
    back; fail unless the same bytes return. Returns MB/s (both directions counted once)."""
    data = os.urandom(size)
    got, count = hashlib.sha256(), [0]
    s = socket.create_connection(("127.0.0.1", port), timeout=60)

    def reader():
        while chunk := s.recv(1 << 20):
            got.update(chunk)
            count[0] += len(chunk)
    t = threading.Thread(target=reader)
    start = time.monotonic()
    t.start()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    t.join(120)
    elapsed = time.monotonic() - start
    s.close()
    assert count[0] == size and got.hexdigest() == hashlib.sha256(data).hexdigest(), f"{count[0]} of {size} bytes"
    return size / 1e6 / elapsed


def test_port_forward_pod_service_deployment_50mb(engine, kubectls):
    engine.write("echo.yaml", ECHO)
    ready(engine, "role=echo-pod")
    ready(engine, "app=echo")
    for k in kubectls:
        for target, remote in (("pod/echo-pod", 9000), ("svc/echo", 80), ("deploy/echo", 9000)):
            with port_forward(k, engine, target, remote) as (p, port):
                echo_through(port, MB50)
                echo_through(port, 1000)  # a second connection in the same session
                assert p.poll() is None, (k, target, p.stderr.read())


def who(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        return data.strip()


def test_port_forward_keeps_its_pod_across_a_replacement(engine, kubectls):
    """kubectl resolves deploy/NAME to one pod and forwards to that pod only. When the
    Deployment replaces it, the forward does not move to the new pod: the next
    connection gets the error the kubelet would send, and kubectl gives up with "lost
    connection to pod" (client-go closes the session on an error-stream message)."""
    engine.write("who.yaml", WHO)
    for k in kubectls:
        _replace_under_a_forward(k, engine)


def _replace_under_a_forward(k: str, engine) -> None:
    old = ready(engine, "app=who")[0]["metadata"]["name"]

    def replacement() -> list[str]:
        return [q["metadata"]["name"] for q in engine.running_ready("app=who", 1) or []
                if q["metadata"]["name"] != old]
    with port_forward(k, engine, "deploy/who", 9000) as (p, port):
        assert who(port) == old.encode()
        assert who(port) == old.encode()  # the session carries many connections
        assert kubectl(k, engine, "delete", "pod", old, "--wait=false").returncode == 0
        new = wait_for(replacement, 90, what="the replacement pod")[0]
        wait_for(lambda: old not in [q["metadata"]["name"] for q in engine.pods("app=who")], 60, what=f"{old} gone")
        assert who(port) == b""  # refused through the old pod, never answered by the new one
        assert p.wait(30) != 0, k
        err = p.stderr.read()
        assert "lost connection to pod" in err and old in err and new not in err, (k, err)
