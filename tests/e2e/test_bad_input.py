"""Every kind of bad input placed next to a running app: a clear error naming the file
(and line where there is one), and the app keeps running untouched."""

from __future__ import annotations

import pytest

from conftest import wait_for
from e2e_kit import APP_POD

DEP = """apiVersion: apps/v1
kind: Deployment
metadata: {name: %s}
spec:
  replicas: 1
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers:
      - name: c
        image: busybox:1.36
"""

BAD = {
    "unknown-field.yaml": (DEP % "uf").replace("image: busybox:1.36", "image: busybox:1.36\n        ports: [{containerPorts: 80}]"),
    "wrong-apiversion.yaml": (DEP % "wa").replace("apps/v1", "v1"),
    "unknown-kind.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
    "selector.yaml": (DEP % "sel").replace("labels: {app: x}", "labels: {app: y}"),
    "bad-name.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n",
    "long-label.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: l, labels: {a: %s}}\n" % ("x" * 64),
    "nodeport.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: np}\nspec:\n  type: NodePort\n  ports: [{port: 80, nodePort: 80}]\n",
    "port.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: p}\nspec:\n  ports: [{port: 70000}]\n",
    "replicas.yaml": (DEP % "neg").replace("replicas: 1", "replicas: -1"),
    "no-image.yaml": (DEP % "noimg").replace("        image: busybox:1.36\n", ""),
    "dup-containers.yaml": (DEP % "dup").replace("      - name: c\n        image: busybox:1.36\n",
                                                  "      - {name: c, image: 'busybox:1.36'}\n      - {name: c, image: 'busybox:1.36'}\n"),
    "quantity.yaml": (DEP % "q").replace("image: busybox:1.36", "image: busybox:1.36\n        resources: {limits: {memory: 1Gb, cpu: two}}"),
    "base64.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: '!!notbase64'}\n",
    "env-name.yaml": (DEP % "env").replace("image: busybox:1.36", "image: busybox:1.36\n        env: [{name: '1BAD=', value: x}]"),
    "no-metadata.yaml": "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n",
    "list-doc.yaml": "- a\n- b\n",
    "string-doc.yaml": "just a string\n",
    "syntax.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n",
    "garbage.yaml": "\x00\x01\x02\xff\xfe binary",
    "alias-bomb.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)),
    "deep.yaml": "a: " + "[" * 5000 + "]" * 5000 + "\n",
}


@pytest.mark.timeout(300)
def test_bad_inputs_are_reported_and_disturb_nothing(engine):
    engine.write("app.yaml", APP_POD)
    wait_for(lambda: engine.running_ready("app=app", 1), 60, what="app running")
    before = {c.id for c in engine.containers()}
    uid = engine.client.get("Pod", "default", "app")["metadata"]["uid"]
    engine.write("empty.yaml", "")
    for name, text in BAD.items():
        engine.write(name, text)
    errors = wait_for(lambda: (lambda errs: errs if {e["file"] for e in errs} >= set(BAD) else None)(
        [e for e in engine.client.status()["manifestErrors"] if e["severity"] == "error"]), 30,
        what="an error for every bad file")
    by_file = {}
    for e in errors:
        by_file.setdefault(e["file"], []).append(e)
    assert "empty.yaml" not in by_file
    assert any('did you mean "containerPort"' in e["message"] for e in by_file["unknown-field.yaml"])
    assert by_file["unknown-field.yaml"][0]["line"] == 13
    assert any("apps/v1" in e["message"] for e in by_file["wrong-apiversion.yaml"])
    assert any('no matches for kind "Widget"' in e["message"] for e in by_file["unknown-kind.yaml"])
    assert any(e["line"] > 0 for e in by_file["syntax.yaml"])
    for name in BAD:
        for e in by_file[name]:
            assert e["message"] and "Traceback" not in e["message"]
    # nothing that was running changed, and nothing bad was created
    assert engine.client.get("Pod", "default", "app")["metadata"]["uid"] == uid
    assert {c.id for c in engine.containers()} == before
    assert all(c.status == "running" for c in engine.containers())
    assert [d["metadata"]["name"] for d in engine.client.list("Deployment", "default")] == []
