"""sample-manifests/README.md's commands, run as written against the demo.

The README's fenced `sh` blocks are read and every `kubedeck ...` and `curl ...` line in
them is run by bash as it stands (comment included), with the ports the sample uses: the
NodePort 30080 from web.yaml and the Ingress on the default HTTP port 8080. So a command
that does not work for a new user (a wrong port, a host name that needs DNS) fails here.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from conftest import wait_for

SAMPLES = Path(__file__).resolve().parents[2] / "sample-manifests"
PORTS = (8080, 30080)  # the demo's Ingress (kubedeck's default) and its NodePort


def readme_commands() -> list[str]:
    text = (SAMPLES / "README.md").read_text()
    blocks = re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(("kubedeck ", "curl "))]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_readme_commands_are_found():
    commands = readme_commands()
    assert any(c.startswith("kubedeck ") for c in commands), commands
    assert any(c.startswith("curl ") and ":30080" in c for c in commands), commands
    assert any(c.startswith("curl ") and ":8080" in c for c in commands), "no Ingress curl on port 8080"


def test_sample_readme_commands_work_as_written(make_engine):
    assert shutil.which("curl"), "curl is needed: the README's commands use it (apt-get install curl)"
    taken = [p for p in PORTS if not port_free(p)]
    assert not taken, f"ports {taken} are taken: this test runs the README's commands on the sample's ports"
    engine = make_engine("--ingress-http-port", "8080")
    shutil.copytree(SAMPLES / "demo", engine.folder, dirs_exist_ok=True)
    wait_for(lambda: engine.running_ready("app=web", 3), 90, what="3 web replicas ready")
    env = {**os.environ, "KUBEDECK_STATE": str(engine.state),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def run(line: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env, timeout=30)

    for line in readme_commands():
        expect = "hello from web-" if line.startswith("curl ") else "counter-0"
        last: list[subprocess.CompletedProcess] = []

        def works(line=line, expect=expect, last=last):
            last[:] = [run(line)]
            return last[0].returncode == 0 and expect in last[0].stdout
        # the Ingress publishes its route a moment after the pods are ready
        try:
            wait_for(works, 30, what=f"{line!r} printing {expect!r}")
        except AssertionError as e:
            raise AssertionError(f"{e}; last run: {last[0] if last else None}") from None
