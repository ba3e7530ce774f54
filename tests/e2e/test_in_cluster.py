"""The API from inside pods, with the real kubectl in a pod: in-cluster config (the
`KUBERNETES_SERVICE_*` variables, the mounted token and CA), the names
`kubernetes.default.svc`, a pod's identity, and its token going with the pod."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import tarfile

import pytest
from conftest import DAEMON, wait_for
from e2e_kit import exec_in, kubectl_version

IMAGE = "kubedeck-test/kubectl:1"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

PODS = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: tools}}
---
apiVersion: v1
kind: Pod
metadata: {{name: inside}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: c, image: "{IMAGE}", imagePullPolicy: Never, command: [sleep, "3600"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: other, namespace: tools}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: c, image: "{IMAGE}", imagePullPolicy: Never, command: [sleep, "3600"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: optout}}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  hostAliases: [{{ip: 10.1.2.3, hostnames: [db.local]}}]
  containers:
  - {{name: c, image: "busybox:1.36", command: [sleep, "3600"]}}
"""


@pytest.fixture(scope="module")
def kubectl_image(docker_client):
    """busybox with the machine's kubectl 1.33 (a static binary), built here: no registry."""
    with DAEMON.shared():  # a module fixture runs before the test takes the daemon (conftest)
        binary = kubectl_version("1.33")
        data = open(binary, "rb").read()
        digest = hashlib.sha256(data).hexdigest()[:16]
        try:
            if docker_client.images.get(IMAGE).labels.get("io.kubedeck.test-image.hash") == digest:
                return IMAGE
        except Exception:  # noqa: BLE001 - not built yet
            pass
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, body, mode in (("kubectl", data, 0o755),
                                     ("Dockerfile", b"FROM busybox:1.36\nCOPY kubectl /bin/kubectl\n", 0o644)):
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(body), mode
                tar.addfile(info, io.BytesIO(body))
        buf.seek(0)
        docker_client.images.build(fileobj=buf, custom_context=True, tag=IMAGE, rm=True,
                                   labels={"io.kubedeck.test-image": "1", "io.kubedeck.test-image.hash": digest})
        return IMAGE


def test_kubectl_in_a_pod_uses_the_in_cluster_api(engine, kubectl_image):
    engine.write("pods.yaml", PODS)
    for ns, pod in (("default", "inside"), ("tools", "other"), ("default", "optout")):
        wait_for(lambda ns=ns, pod=pod: (engine.client.get("Pod", ns, pod).get("status") or {}).get("phase") == "Running",
                 60, what=f"{ns}/{pod} running")
    # the API's Service, as on a cluster
    svc = engine.client.get("Service", "default", "kubernetes")
    assert svc["spec"]["clusterIP"] == "10.96.0.1" and svc["spec"]["ports"][0]["port"] == 443
    # in-cluster config: no kubeconfig, only the variables and the mounted token and CA
    env = exec_in(engine, "inside", "env | grep ^KUBERNETES_SERVICE_ | sort")
    assert "KUBERNETES_SERVICE_HOST=10.96.0.1" in env and "KUBERNETES_SERVICE_PORT=443" in env
    assert exec_in(engine, "inside", f"cat {SA_DIR}/namespace") == "default"
    names = exec_in(engine, "inside", "kubectl get pods -o name")
    assert set(names.split()) == {"pod/inside", "pod/optout"}
    who = json.loads(exec_in(engine, "inside", "kubectl auth whoami -o json"))
    assert who["status"]["userInfo"]["username"] == "system:serviceaccount:default:default"
    # a write from inside is seen outside
    assert exec_in(engine, "inside", "kubectl create configmap made-inside --from-literal=k=v")
    assert engine.client.get("ConfigMap", "default", "made-inside")["data"] == {"k": "v"}
    # from another namespace, by name, verifying the API's certificate against the mounted CA
    out = exec_in(engine, "other", f"kubectl --server https://kubernetes.default.svc --certificate-authority "
                                   f"{SA_DIR}/ca.crt --token $(cat {SA_DIR}/token) get pods -n tools -o name")
    assert out == "pod/other"
    assert exec_in(engine, "other", "kubectl auth whoami -o jsonpath='{.status.userInfo.username}'") == \
        "system:serviceaccount:tools:default"
    # a pod that opts out has the variables but no token; hostAliases are in its /etc/hosts
    assert exec_in(engine, "optout", f"test -e {SA_DIR} && echo mounted || echo none") == "none"
    assert "KUBERNETES_SERVICE_HOST=10.96.0.1" in exec_in(engine, "optout", "env")
    hosts = exec_in(engine, "optout", "cat /etc/hosts")
    assert "10.1.2.3\tdb.local" in hosts and "10.96.0.1\tkubernetes.default.svc" in hosts


def test_a_pods_token_goes_with_the_pod(engine, kubectl_image):
    engine.client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "inside"},
                          "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                              {"name": "c", "image": IMAGE, "imagePullPolicy": "Never", "command": ["sleep", "3600"]}]}})
    wait_for(lambda: (engine.client.get("Pod", "default", "inside").get("status") or {}).get("phase") == "Running",
             60, what="pod running")
    token = exec_in(engine, "inside", f"cat {SA_DIR}/token")
    part = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    assert claims["kubernetes.io"]["pod"]["name"] == "inside"
    assert claims["sub"] == "system:serviceaccount:default:default"
    conn = json.loads((engine.state / "api.json").read_text())
    kubectl = [kubectl_version("1.33"), "--kubeconfig", "/dev/null", "--server", conn["url"],
               "--certificate-authority", conn["ca"], "--token", token]

    def whoami() -> subprocess.CompletedProcess:
        return subprocess.run([*kubectl, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"],
                              capture_output=True, text=True, timeout=30)
    r = whoami()
    assert r.returncode == 0 and r.stdout == "system:serviceaccount:default:default", r.stderr
    engine.client.delete("Pod", "default", "inside")
    wait_for(lambda: not engine.pods(), 30, what="pod gone")
    r = whoami()
    assert r.returncode != 0 and "Unauthorized" in r.stderr, r.stdout + r.stderr
