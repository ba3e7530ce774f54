"""Against one live engine (HTTPS, token): the API's request limits answer the proper
Status, never a 5xx, and a Secret's value never shows where it was not asked for.

Limits: a body over 3 MiB is 413, malformed JSON and JSON nested 100,000 deep are 400,
names that are not DNS-1123 are 422 (create, and the same for a name in the URL).

Secrets: a Secret with a marker value (from the folder, and one written through the
API with stringData), a pod using it as env and as a volume, and errors provoked around
it (a broken Secret in the folder, a pod referring to a missing key). Then the marker,
in the clear and in base64, is absent from engine.log, every Event, `kubedeck describe`
of the Secret and of the pod, `kubedeck get events`, the folder errors in the status and
the API's error messages. The TUI renders describe and Secret values through the same
engine/present functions (masked unless revealed), which `describe` exercises here.
"""

from __future__ import annotations

import base64
import io
import json
import uuid

import pytest

from conftest import Engine, wait_for

MARKER = f"s3cr3t-{uuid.uuid4().hex}"
B64 = base64.b64encode(MARKER.encode()).decode()


@pytest.fixture(scope="module")
def live(tmp_path_factory, docker_client):
    eng = Engine(tmp_path_factory.mktemp("limits"), docker_client)
    try:
        yield eng.start()
    finally:
        eng.retire()


def raw(engine, method: str, path: str, body: bytes | io.BytesIO, ctype="application/json"):
    r = engine.client.http.request(method, path, content=body, headers={"Content-Type": ctype})
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, {"text": r.text}


def test_request_limits(live):
    cms = "/api/v1/namespaces/default/configmaps"
    status, body = raw(live, "POST", cms, b'{"metadata": {"name": "big"}, "data": {"a": "' + b"x" * (3 << 20) + b'"}}')
    assert status == 413, body
    status, body = raw(live, "POST", cms, b"[" * 100_000)
    assert status == 400 and body["reason"] == "BadRequest", body
    status, body = raw(live, "POST", cms, b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    assert status == 400 and body["reason"] == "BadRequest", body
    status, body = raw(live, "POST", cms, b'{"metadata": {"name": "x"')
    assert status == 400 and body["reason"] == "BadRequest", body
    status, body = raw(live, "PATCH", cms + "/nope", b"[" * 100_000, "application/merge-patch+json")
    assert status in (400, 404) and body["kind"] == "Status", body
    for name in ("Bad_Name", "UPPER", "-lead", "trail-", "a" * 254, "sp ace", "dots..x"):
        status, body = raw(live, "POST", cms, json.dumps({"metadata": {"name": name}}).encode())
        assert status == 422 and body["reason"] == "Invalid" and body["details"]["causes"], (name, body)
    status, body = raw(live, "PUT", cms + "/Bad_Name", json.dumps({"metadata": {"name": "Bad_Name"}}).encode())
    assert status in (404, 422) and body["kind"] == "Status", body
    assert live.client.status()["docker"] == "ok"  # and the engine is fine


SECRET = f"""apiVersion: v1
kind: Secret
metadata: {{name: creds}}
stringData: {{password: {MARKER}}}
"""
BROKEN = f"""apiVersion: v1
kind: Secret
metadata: {{name: broken}}
data: {{password: "{MARKER}!!"}}
"""
POD = """apiVersion: v1
kind: Pod
metadata: {name: user, labels: {app: user}}
spec:
  containers:
  - name: main
    image: busybox:1.36
    command: [sh, -c, 'test "$PASSWORD" = "$(cat /creds/password)" && sleep 3600']
    env: [{name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}]
    volumeMounts: [{name: creds, mountPath: /creds}]
  volumes: [{name: creds, secret: {secretName: creds}}]
---
apiVersion: v1
kind: Pod
metadata: {name: missing-key}
spec:
  containers:
  - name: main
    image: busybox:1.36
    command: [sleep, "3600"]
    env: [{name: X, valueFrom: {secretKeyRef: {name: creds, key: nope}}}]
"""


def test_secret_values_never_show(live):
    live.write("secret.yaml", SECRET)
    live.write("broken.yaml", BROKEN)
    live.write("pod.yaml", POD)
    wait_for(lambda: live.running_ready("app=user", 1), 60, what="the pod using the secret running")
    assert base64.b64decode(live.client.get("Secret", "default", "creds")["data"]["password"]).decode() == MARKER
    # through the API too, with an error around it
    live.client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-creds"},
                        "stringData": {"token": MARKER}})
    status, body = raw(live, "POST", "/api/v1/namespaces/default/secrets", json.dumps(
        {"metadata": {"name": "api-bad"}, "data": {"token": MARKER + "!!"}}).encode())
    assert status in (400, 422)
    seen = [json.dumps(body)]
    status, body = raw(live, "POST", "/api/v1/namespaces/default/secrets", json.dumps(
        {"metadata": {"name": "api-creds"}, "stringData": {"token": MARKER}}).encode())
    assert status == 409
    seen.append(json.dumps(body))
    wait_for(lambda: any(e["involvedObject"]["name"] == "missing-key" and e["type"] == "Warning"
                         for e in live.client.list("Event", "default")), 60, what="the missing key's Warning")
    wait_for(lambda: any(e["file"] == "broken.yaml" for e in live.client.status()["manifestErrors"]), 30,
             what="the broken Secret's error")

    seen.append(json.dumps(live.client.list("Event", "")))
    seen.append(json.dumps(live.client.status()))
    out = {}
    for args in (("describe", "secret", "creds"), ("describe", "secret", "api-creds"), ("describe", "pod", "user"),
                 ("describe", "pod", "missing-key"), ("get", "events"), ("get", "secrets"), ("get", "pods", "-o", "wide")):
        r = live.cli(*args)
        out[args] = r.stdout + r.stderr
        seen.append(out[args])
    described = out[("describe", "secret", "creds")]
    assert "password: ••••••" in described  # the key, its value masked
    seen.append(live.log_path.read_text(errors="replace"))
    assert B64 in live.cli("get", "secret", "creds", "-o", "yaml").stdout  # revealed on purpose: the search works
    leaks = [text[max(0, text.find(m) - 200):text.find(m) + 50] for text in seen for m in (MARKER, B64) if m in text]
    assert not leaks, leaks
