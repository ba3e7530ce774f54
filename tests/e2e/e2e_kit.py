"""What several e2e tests share, written once: manifests they write into an engine's
folder, a look into a pod's container, and the kubectl binaries they drive.

Manifests stay YAML text, as a user writes them (the tests are about files read from a
folder); tests edit them with plain string replacements (`replicas: 2`, `metadata:
{name: web}`), so those lines keep their shape here. `deployment()` writes the part every
Deployment repeats, its selector and pod labels being app=<name>; the caller writes the
pod spec, the part that says what the test is about.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest


def deployment(name: str, pod_spec: str, *, replicas: int | str = 1) -> str:
    """A Deployment `name` of `replicas` pods labelled app=<name>, selected by that label;
    `pod_spec` is the YAML of the template's spec (at any indentation). It starts with a
    newline, as the other manifests here, so `"---" + deployment(...)` is two documents."""
    spec = textwrap.indent(textwrap.dedent(pod_spec).strip("\n"), " " * 6)
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
{spec}
"""


# A pod `app` that only runs: the app the hostile-input tests place their files next to
# (it must stay untouched) and whose containers `down` and Ctrl-C must clean up.
# sleep runs as PID 1, which ignores SIGTERM: a 1 s grace period instead of the default 30 s,
# so a test that deletes it does not wait half a minute.
APP_POD = """
apiVersion: v1
kind: Pod
metadata: {name: app, labels: {app: app}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: "busybox:1.36", command: [sleep, "3600"]}
"""

# Two busybox httpd pods answering with their hostname (which replica answered) behind
# the Service `web` (80 -> the pods' port named http), and a busybox pod to call them from.
WEB = deployment("web", """
containers:
- name: web
  image: busybox:1.36
  command: ["sh", "-c", "mkdir -p /www && echo $(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"]
  ports: [{containerPort: 8080, name: http}]
  readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
""", replicas=2)
SVC = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""
CLIENT = """
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers:
  - name: c
    image: busybox:1.36
    command: ["sleep", "3600"]
"""


def container(engine, pod: str):
    """The app container of a one-container pod."""
    return next(c for c in engine.containers() if c.labels.get("io.kubernetes.pod.name") == pod
                and c.labels.get("io.kubedeck.role") == "app")


def exec_in(engine, pod: str, cmd: str) -> str:
    """`cmd`'s output in the pod's container, stripped; "" if it failed."""
    code, out = container(engine, pod).exec_run(["sh", "-c", cmd])
    return out.decode().strip() if code == 0 else ""


def kubectl_version(version: str) -> str:
    """The machine image's `kubectl.<version>`, beside the resolved path of the kubectl on
    PATH (gcloud's dispatcher, which runs the version that matches the server's: 1.30 for
    kubedeck). A missing one fails the test (never a skip)."""
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is not on PATH: these tests need the machine image's kubectl binaries")
    binary = Path(os.path.realpath(found)).parent / f"kubectl.{version}"
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{binary} is missing: these tests need the machine image's kubectl binaries")
    return str(binary)


def kubectl_binaries() -> list[str]:
    """The newest and the oldest kubectl of the machine image (1.33: protobuf writes, the
    WebSocket streams; 1.27: JSON, SPDY)."""
    return [kubectl_version("1.33"), kubectl_version("1.27")]
