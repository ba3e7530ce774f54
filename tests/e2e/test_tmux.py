"""Drive the real `kubedeck up` and `kubedeck exec -it` in tmux, as a person would:
type keys, read the screen.

Each test runs its own tmux server (`-L <session>`), started with an environment that
has no COLUMNS or LINES. A tmux server hands its own environment to every pane, and
the pytest process has COLUMNS=80 LINES=24 in its C environment (GNU readline exports
its default screen size with setenv() when something imports `readline`; os.environ
does not show it). Textual sizes itself with shutil.get_terminal_size(), which believes
$COLUMNS over the terminal, so the TUI drew 80 columns in a 100-column window. A private
server also keeps other tmux users' sessions (and their sizes) out of the test."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import uuid

import docker
import pytest

from conftest import DAEMON, REAPER, wait_for

pytestmark = pytest.mark.docker

POD = """
apiVersion: v1
kind: Pod
metadata: {name: hello, labels: {app: hello}}
spec:
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "while true; do echo tick; sleep 1; done"]
"""


class Tmux:
    def __init__(self, name: str, cmd: str, width: int = 120, height: int = 34):
        if shutil.which("tmux") is None:
            pytest.fail("tmux is not installed: these tests drive the TUI in it (.ci/run installs it)")
        self.name = name
        self.tmux = ["tmux", "-L", name]  # this test's own server (see the module's docstring)
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        subprocess.run([*self.tmux, "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), cmd],
                       check=True, env=env)

    def size(self) -> str:
        return subprocess.run([*self.tmux, "display", "-p", "-t", self.name, "#{window_width}x#{window_height}"],
                              capture_output=True, text=True).stdout.strip()

    def screen(self) -> str:
        r = subprocess.run([*self.tmux, "capture-pane", "-t", self.name, "-p"], capture_output=True, text=True)
        return r.stdout

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, *keys], check=True)

    def alive(self) -> bool:
        return subprocess.run([*self.tmux, "has-session", "-t", self.name], capture_output=True).returncode == 0

    def kill(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)  # our own server only


@pytest.fixture
def up_cluster(tmp_path, docker_client):
    name = f"kdtest-{uuid.uuid4().hex[:8]}"
    state, folder = tmp_path / name, tmp_path / "manifests"
    folder.mkdir()
    (folder / "pod.yaml").write_text(POD)
    base = f"{sys.executable} -m kubedeck --state {state}"
    share = DAEMON.hold(fcntl.LOCK_SH)  # the daemon, shared until the cluster is down (see conftest)
    yield name, state, folder, base

    def down() -> None:
        try:
            subprocess.run(f"{base} down --volumes", shell=True, capture_output=True, timeout=60)
            for c in docker_client.api.containers(all=True, filters={"label": f"io.kubedeck.cluster={name}"}):
                try:
                    docker_client.api.remove_container(c["Id"], force=True)
                except docker.errors.NotFound:  # removed by `down` meanwhile
                    pass
        finally:
            DAEMON.release(share)
    REAPER.later(f"`kubedeck down` of {name}", down)  # overlaps the next test's start, as Engine.retire


def test_kubedeck_up_shows_running_pods_and_quits_leaving_them(up_cluster, docker_client):
    name, state, folder, base = up_cluster
    t = Tmux(name, f"cd {folder} && {base} up . --ingress-http-port 0 --ingress-https-port 0")
    try:
        screen = wait_for(lambda: (lambda s: s if "hello" in s and "Running" in s else None)(t.screen()), 60,
                          what="the TUI showing the pod Running")
        assert "Nodes" in screen and "Services" in screen and "Logs" in screen
        wait_for(lambda: "tick" in t.screen(), 30, what="the pod's logs in the logs pane")
        t.keys("?")
        # the help's own title: the status bar always reads "? help"
        wait_for(lambda: "escape to close" in t.screen(), 10, what="help screen")
        t.keys("Escape")
        # a key right after Escape would reach the app as Alt+key: wait for the help to close
        wait_for(lambda: "escape to close" not in t.screen(), 10, what="help closed")

        def quit_app():
            t.keys("q")  # re-sent if the app was still settling after the help screen
            return wait_for(lambda: not t.alive(), 3, what="exit") if t.alive() else True
        wait_for(quit_app, 15, interval=0.5, what="the TUI to exit on q")
    finally:
        t.kill()
    # quitting the TUI leaves the cluster and its pods running
    r = subprocess.run(f"{base} get pods", shell=True, capture_output=True, text=True, timeout=30)
    assert "Running" in r.stdout, r.stderr
    running = docker_client.containers.list(filters={"label": f"io.kubedeck.cluster={name}"})
    # a single-container pod needs no sandbox; beside it, the host's NodePort helper (which
    # routes pods to the API, engine/in_cluster.py)
    assert sorted(c.labels.get("io.kubedeck.role") for c in running) == ["app", "nodeport-kernel"]


def test_exec_it_gives_an_interactive_shell(up_cluster):
    name, state, folder, base = up_cluster
    subprocess.run(f"{base} up {folder} --no-ui --ingress-http-port 0 --ingress-https-port 0", shell=True,
                   check=True, timeout=60, capture_output=True)
    wait_for(lambda: "Running" in subprocess.run(f"{base} get pods", shell=True, capture_output=True,
                                                 text=True).stdout, 60, what="pod running")
    t = Tmux(name + "-sh", f"{base} exec -it hello -- sh")
    try:
        wait_for(lambda: "#" in t.screen(), 20, what="a shell prompt")
        t.keys("echo $((6*7)) $(tty)", "Enter")
        screen = wait_for(lambda: (lambda s: s if "42 /dev/pts" in s else None)(t.screen()), 10,
                          what="the command's output on a TTY")
        assert "42" in screen
        t.keys("exit", "Enter")
        wait_for(lambda: not t.alive(), 10, what="exec to end with the shell")
    finally:
        t.kill()


def test_xray_draws_the_components_with_live_counters(up_cluster):
    """`:xray` at 100x30, as a person types it: the control plane, the node's parts and
    the Ingress controller are boxes whose counters move while the cluster works."""
    name, state, folder, base = up_cluster
    t = Tmux(name, f"cd {folder} && {base} up . --ingress-http-port 0 --ingress-https-port 0", width=100, height=30)
    try:
        wait_for(lambda: "hello" in t.screen() and "Running" in t.screen(), 60, what="the pod Running")
        t.keys(":")
        wait_for(lambda: "view (pods, deploy" in t.screen(), 10, what="the view prompt")
        t.keys("xray", "Enter")
        try:
            screen = wait_for(lambda: (lambda s: s if "node kubedeck" in s and "kubelet" in s else None)(t.screen()),
                              20, what="the x-ray diagram")
        except AssertionError as e:
            raise AssertionError(f"{e} (window {t.size()})\n{t.screen()}") from None
        assert t.size() == "100x30"
        lines = screen.splitlines()
        # drawn at the window's width: the node's frame spans all 100 columns, and every
        # title is whole (at 80 columns they were cut: "API se…", "schedu…", "ctrl m…")
        frame = next(line for line in lines if "node kubedeck" in line)
        assert len(frame) == 100 and frame.startswith("╭") and frame.endswith("╮"), (frame, screen)
        assert "escape back)" in lines[0], screen
        for title in ("folder", "API server", "etcd", "scheduler", "ctrl mgr", "Ingress", "kubelet", "runtime",
                      "kube-proxy"):
            assert f" {title} " in screen, (title, screen)
        assert "…" not in "\n".join(lines[:16]), screen

        def counters() -> list[str]:
            return [line for line in t.screen().splitlines() if "/min" in line]
        before = wait_for(counters, 20, what="the boxes' counters")
        (folder / "pod2.yaml").write_text(POD.replace("name: hello", "name: hello2"))
        wait_for(lambda: counters() != before, 30, what="the counters moving when a pod is added")
        t.keys("?")
        wait_for(lambda: "(escape to close)" in t.screen() and "kubedeck" in t.screen(), 10,
                 what="the selected component explained")
    finally:
        t.kill()

