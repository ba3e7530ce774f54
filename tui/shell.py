"""`s`: a shell in the selected pod's container, through the local Docker CLI.

The engine labels every container with `io.kubernetes.pod.uid` and
`io.kubernetes.container.name` (docs/ARCHITECTURE.md), so the container is found by
label and entered with `docker exec -it <id> sh` while the TUI is suspended.
"""

from __future__ import annotations

import shutil
import subprocess


class ShellError(Exception):
    pass


def find_container(pod_uid: str, container: str) -> tuple[str, str]:
    """(docker binary, container id) for a pod's container; blocking, run in a thread."""
    docker = shutil.which("docker")
    if docker is None:
        raise ShellError("the docker command is not installed")
    args = [
        docker, "ps", "-q",
        "--filter", f"label=io.kubernetes.pod.uid={pod_uid}",
        "--filter", f"label=io.kubernetes.container.name={container}",
    ]
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ShellError(f"docker ps failed: {exc}") from exc
    if out.returncode != 0:
        raise ShellError(out.stderr.strip() or "docker ps failed")
    ids = out.stdout.split()
    if not ids:
        raise ShellError(f"no running container {container!r} for this pod")
    return docker, ids[0]


def exec_shell(docker: str, container_id: str) -> int:
    """Run an interactive shell; the caller has suspended the TUI."""
    command = [docker, "exec", "-it", container_id, "sh", "-c",
               "command -v bash >/dev/null && exec bash || exec sh"]
    return subprocess.call(command)
