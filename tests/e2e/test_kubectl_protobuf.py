"""The real kubectl 1.33 against a live kubedeck: its typed writes (`create configmap`,
`create deployment`, `create service`, ...) send `application/vnd.kubernetes.protobuf`
bodies, which client-go never retries as JSON (engine/api/protobuf.py decodes them).

Each create runs with `-v=8`, whose log shows the request's Content-Type, so the tests
know the protobuf path was taken; what was created is then read back and, for the
Deployment, compared with the same object sent as JSON. A missing binary fails the test.
"""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.request

import pytest

from conftest import Engine, free_nodeport, wait_for
from e2e_kit import kubectl_version

pytestmark = pytest.mark.docker

PROTOBUF = "Content-Type: application/vnd.kubernetes.protobuf"
WEB_CMD = "mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"


@pytest.fixture(scope="module")
def kd(tmp_path_factory, docker_client):
    eng = Engine(tmp_path_factory.mktemp("kubectl-protobuf"), docker_client)
    try:
        yield eng.start()
    finally:
        eng.retire()


@pytest.fixture
def k(kd):
    binary = kubectl_version("1.33")

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        r = subprocess.run([binary, "--kubeconfig", str(kd.state / "kubeconfig"), *args], input=input,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"kubectl.1.33 {' '.join(args)} failed ({r.returncode}):\n{r.stderr[-3000:]}{r.stdout}")
        return r
    return run


def get(k, *what: str) -> dict:
    return json.loads(k("get", *what, "-o", "json").stdout)


def test_create_configmap_and_secret(k, tmp_path):
    blob = bytes(range(256))
    (tmp_path / "blob").write_bytes(blob)
    r = k("create", "configmap", "conf", "--from-literal=greeting=hello", f"--from-file=blob={tmp_path / 'blob'}",
          "-v=8")
    assert PROTOBUF in r.stderr and "configmap/conf created" in r.stdout
    cm = get(k, "configmap", "conf")
    assert cm["data"] == {"greeting": "hello"}
    assert base64.b64decode(cm["binaryData"]["blob"]) == blob
    assert cm["metadata"]["namespace"] == "default" and cm["metadata"]["uid"]
    managed = json.loads(k("get", "configmap", "conf", "-o", "json", "--show-managed-fields").stdout)
    assert [m["manager"] for m in managed["metadata"]["managedFields"]] == ["kubectl-create"]

    r = k("create", "secret", "generic", "creds", "--from-literal=password=s3cret", "-v=8")
    assert PROTOBUF in r.stderr
    assert base64.b64decode(get(k, "secret", "creds")["data"]["password"]) == b"s3cret"


def test_create_deployment_and_nodeport_service_serve(k):
    r = k("create", "deployment", "web", "--image=busybox:1.36", "--replicas=2", "--port=8080", "-v=8",
          "--", "sh", "-c", WEB_CMD)
    assert PROTOBUF in r.stderr
    port = free_nodeport()
    r = k("create", "service", "nodeport", "web", "--tcp=80:8080", f"--node-port={port}", "-v=8")
    assert PROTOBUF in r.stderr
    svc = get(k, "service", "web")
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["selector"] == {"app": "web"}
    assert svc["spec"]["ports"] == [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080,
                                     "nodePort": port}]

    wait_for(lambda: get(k, "deployment", "web").get("status", {}).get("readyReplicas") == 2, 90,
             what="both pods of the protobuf-created Deployment Ready")
    k("rollout", "status", "deployment/web", "--timeout=60s")

    def answer():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
        except OSError:
            return None
    assert wait_for(answer, 30, what="the NodePort answering").startswith("hello from web-")


def test_deployment_from_protobuf_equals_the_same_from_json(k):
    args = ["--image=busybox:1.36", "--replicas=0", "--port=8080", "--", "sleep", "3600"]
    assert PROTOBUF in k("create", "deployment", "pb", "-v=8", *args).stderr
    manifest = k("create", "deployment", "js", "--dry-run=client", "-o", "json", *args).stdout
    r = k("create", "-f", "-", "-v=8", input=manifest)  # the generic path: JSON
    assert "Content-Type: application/json" in r.stderr and PROTOBUF not in r.stderr
    pb, js = get(k, "deployment", "pb")["spec"], get(k, "deployment", "js")["spec"]
    assert pb["replicas"] == 0  # a pointer's zero survives protobuf
    for spec, name in ((pb, "pb"), (js, "js")):
        assert spec["selector"] == {"matchLabels": {"app": name}}
        spec["selector"] = spec["template"]["metadata"] = None
    assert pb == js


def test_run_and_typed_creates_of_other_kinds(k):
    # kubectl run still sends JSON in 1.33; it must keep working beside the protobuf creates
    k("run", "sleeper", "--image=busybox:1.36", "--", "sleep", "3600")
    wait_for(lambda: any(c["type"] == "Ready" and c["status"] == "True"
                         for c in get(k, "pod", "sleeper").get("status", {}).get("conditions", [])),
             60, what="the pod from kubectl run Ready")
    for args in (["namespace", "team"], ["serviceaccount", "bot"], ["job", "once", "--image=busybox:1.36", "--", "true"],
                 ["role", "reader", "--verb=get", "--resource=pods"],
                 ["ingress", "site", "--rule=site.localtest.me/=web:80"],
                 ["priorityclass", "zero", "--value=0"]):
        assert PROTOBUF in k("-v=8", "create", *args).stderr, args
    assert get(k, "role", "reader")["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    assert get(k, "ingress", "site")["spec"]["rules"][0]["http"]["paths"][0]["backend"] == {
        "service": {"name": "web", "port": {"number": 80}}}
    assert get(k, "priorityclass", "zero")["value"] == 0
    wait_for(lambda: get(k, "job", "once").get("status", {}).get("succeeded") == 1, 60, what="the job done")


def test_a_malformed_protobuf_body_is_a_400_status(kd):
    r = kd.client.http.post("/api/v1/namespaces/default/configmaps", content=b"k8s\x00\x0a\xff\xff",
                            headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    assert r.status_code == 400
    status = r.json()
    assert (status["kind"], status["reason"]) == ("Status", "BadRequest")
    assert status["message"].startswith("the object provided is unrecognized: runtime.Unknown: ")


def test_auth_can_i_and_whoami_in_protobuf(k):
    """The review APIs (engine/api/review_api.py): kubectl 1.33 posts them in protobuf too."""
    r = k("auth", "can-i", "create", "pods", "-v=8")
    assert PROTOBUF in r.stderr and r.stdout.strip() == "yes"
    rules = k("auth", "can-i", "--list").stdout.splitlines()
    assert rules[1].split() == ["*.*", "[]", "[]", "[*]"], rules
    who = k("auth", "whoami", "-o", "json", "-v=8")
    assert PROTOBUF in who.stderr
    assert json.loads(who.stdout)["status"]["userInfo"] == {"username": "kubedeck-admin",
                                                            "groups": ["system:masters", "system:authenticated"]}


def test_create_token_in_protobuf(k):
    r = k("create", "token", "default", "-v=8")
    assert PROTOBUF in r.stderr and r.stdout.count(".") == 2  # a JWT: header.claims.signature
