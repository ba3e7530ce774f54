"""Real kubectl against a live kubedeck: the REST conversation of issue #15.

Every test runs the real binaries from the machine image, the newest and the oldest
(`kubectl.1.33`, `kubectl.1.27`; the `kubectl` on PATH is gcloud's dispatcher, which runs
1.30 against kubedeck's v1.30, see test_plain_kubectl...), through the kubeconfig the engine writes
(HTTPS, the cluster's CA, a token; no --insecure-skip-tls-verify). A missing binary
fails the test with a message; nothing is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import Engine, free_nodeport, wait_for
from e2e_kit import deployment, kubectl_binaries

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def kd(tmp_path_factory, docker_client):
    eng = Engine(tmp_path_factory.mktemp("kubectl"), docker_client)
    try:
        yield eng.start()
    finally:
        eng.retire()


@pytest.fixture(params=[0, 1], ids=["kubectl-1.33", "kubectl-1.27"])
def k(request, kd):
    binary = kubectl_binaries()[request.param]

    def run(*args, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([binary, "--kubeconfig", str(kd.state / "kubeconfig"), *args], input=input,
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({r.returncode}):\n{r.stderr}{r.stdout}")
        return r
    run.binary = binary
    return run


def uniq(k, base: str) -> str:
    """Object names per kubectl binary, so both runs share one engine without clashing."""
    return f"{base}-{'old' if k.binary.endswith('1.27') else 'new'}"


def test_plain_kubectl_works_after_serve_without_flags(kd):
    """The user's kubeconfig ($KUBECONFIG in the tests) got a current context."""
    env = dict(os.environ)
    r = subprocess.run(["kubectl", "config", "current-context"], capture_output=True, text=True, env=env)
    assert r.stdout.strip() == f"kubedeck-{kd.name}", r.stderr
    r = subprocess.run(["kubectl", "get", "ns", "default", "-o", "name"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "namespace/default", r.stderr


def test_no_credentials_is_401_and_tls_verifies(kd):
    import ssl

    ctx = ssl.create_default_context(cafile=str(kd.state / "pki" / "ca.crt"))
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(kd.client.url + "/api/v1/pods", context=ctx, timeout=5)
    assert e.value.code == 401
    with pytest.raises(urllib.error.URLError):  # the system's trust does not know our CA
        urllib.request.urlopen(kd.client.url + "/api/v1/pods", timeout=5)
    for f in ("pki/ca.key", "pki/server.key", "token", "kubeconfig", "api.json"):
        assert (kd.state / f).stat().st_mode & 0o077 == 0, f


def test_tutorial_path_configmap_secret_deployment_nodeport(k, kd, tmp_path):
    name = uniq(k, "tut")
    port = free_nodeport()
    (tmp_path / "cm.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n"
                                      "data: {GREETING: hello}\n")
    (tmp_path / "secret.yaml").write_text(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\n"
                                          "stringData: {password: s3cret}\n")
    (tmp_path / "app.yaml").write_text(deployment(name, f"""
containers:
- name: web
  image: busybox:1.36
  command: ["sh", "-c", "mkdir -p /www && echo $GREETING $PASSWORD > /www/index.html && exec httpd -f -p 8080 -h /www"]
  env:
  - {{name: GREETING, valueFrom: {{configMapKeyRef: {{name: {name}, key: GREETING}}}}}}
  - {{name: PASSWORD, valueFrom: {{secretKeyRef: {{name: {name}, key: password}}}}}}
  readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
""", replicas=2) + f"""---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: NodePort
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080, nodePort: {port}}}]
""")
    for f in ("cm.yaml", "secret.yaml", "app.yaml"):
        out = k("apply", "-f", str(tmp_path / f)).stdout
        assert "created" in out, out
    assert "unchanged" in k("apply", "-f", str(tmp_path / "app.yaml")).stdout
    secret = json.loads(k("get", "secret", name, "-o", "json").stdout)
    assert "stringData" not in secret and secret["data"]["password"] == "czNjcmV0"
    k("rollout", "status", f"deploy/{name}", "--timeout=60s")
    wide = k("get", "node", "-o", "wide").stdout.splitlines()
    header = wide[0].split()
    assert header[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"] and "INTERNAL-IP" in header, wide
    ip = wide[1].split()[header.index("INTERNAL-IP")]
    body = wait_for(lambda: _get(f"http://{ip}:{port}/"), 30, what="the NodePort answering")
    assert body.strip() == "hello s3cret"
    assert kd.cli("ip").stdout.strip() == ip
    k("delete", "-f", str(tmp_path / "app.yaml"))


def _get(url: str) -> str | None:
    try:
        return urllib.request.urlopen(url, timeout=2).read().decode()
    except OSError:
        return None


def test_discovery_short_names_and_get_all(k, kd):
    res = k("api-resources", "--no-headers=false").stdout
    for short in ("po", "svc", "deploy", "rs", "sts", "ds", "cm", "ns", "no", "ev", "ing", "pvc", "ep", "cj"):
        assert f" {short} " in res or f" {short}," in res or f",{short} " in res, short
    name = uniq(k, "disc")
    k("create", "deployment", name, "--image=busybox:1.36", "--", "sleep", "3600")
    out = k("get", "all").stdout
    assert f"deployment.apps/{name}" in out
    wait_for(lambda: f"pod/{name}-" in k("get", "all").stdout, 30, what="the pod in get all")
    for short in ("deploy", "rs", "po"):
        assert k("get", short).returncode == 0
    pods = k("get", "pods", "-l", f"app={name}").stdout.splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], pods
    k("delete", "deploy", name)


def test_writes_set_image_scale_label_patch_and_dry_run(k, kd):
    name = uniq(k, "wr")
    k("create", "deployment", name, "--image=busybox:1.36", "--", "sleep", "3600")
    k("set", "image", f"deploy/{name}", "busybox=busybox:1.37")
    d = json.loads(k("get", "deploy", name, "-o", "json").stdout)
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.37"
    k("scale", f"deploy/{name}", "--replicas=3")
    assert kd.client.get("Deployment", "default", name)["spec"]["replicas"] == 3
    k("label", "deploy", name, "tier=backend")
    k("annotate", "deploy", name, "note=yes")
    k("patch", "deploy", name, "--type=json", "-p", '[{"op":"replace","path":"/spec/replicas","value":1}]')
    k("patch", "deploy", name, "--type=merge", "-p", '{"metadata":{"labels":{"merge":"ok"}}}')
    k("patch", "deploy", name, "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"busybox","env":[{"name":"A","value":"1"}]}]}}}}')
    d = kd.client.get("Deployment", "default", name)
    assert d["spec"]["replicas"] == 1 and d["metadata"]["labels"]["tier"] == "backend"
    assert d["metadata"]["labels"]["merge"] == "ok" and d["metadata"]["annotations"]["note"] == "yes"
    c = d["spec"]["template"]["spec"]["containers"]
    assert len(c) == 1 and c[0]["image"] == "busybox:1.37" and c[0]["env"] == [{"name": "A", "value": "1"}]
    k("scale", f"deploy/{name}", "--replicas=5", "--dry-run=server")
    assert kd.client.get("Deployment", "default", name)["spec"]["replicas"] == 1
    out = k("create", "configmap", uniq(k, "dry"), "--from-literal=a=b", "--dry-run=server", "-o", "json").stdout
    assert json.loads(out)["metadata"]["uid"]
    assert "NotFound" in k("get", "cm", uniq(k, "dry"), check=False).stderr
    k("rollout", "restart", f"deploy/{name}")
    d = kd.client.get("Deployment", "default", name)
    assert "kubectl.kubernetes.io/restartedAt" in d["spec"]["template"]["metadata"]["annotations"]
    k("delete", "deploy", name, "--cascade=orphan")
    wait_for(lambda: not [r for r in kd.client.list("ReplicaSet", "default", f"app={name}")
                          if r["metadata"].get("ownerReferences")], 30, what="orphaned ReplicaSets")
    assert kd.client.list("ReplicaSet", "default", f"app={name}")
    for rs in kd.client.list("ReplicaSet", "default", f"app={name}"):
        k("delete", "rs", rs["metadata"]["name"])


def test_errors_in_kubectls_words(k, kd, tmp_path):
    r = k("get", "pod", "nope", check=False)
    assert r.returncode == 1 and 'Error from server (NotFound): pods "nope" not found' in r.stderr
    r = k("get", "deploy", "nope", check=False)
    assert 'Error from server (NotFound): deployments.apps "nope" not found' in r.stderr
    name = uniq(k, "err")
    (tmp_path / "cm.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n")
    k("create", "-f", str(tmp_path / "cm.yaml"))
    r = k("create", "-f", str(tmp_path / "cm.yaml"), check=False)
    assert f'Error from server (AlreadyExists): error when creating "{tmp_path / "cm.yaml"}": ' \
           f'configmaps "{name}" already exists' in r.stderr, r.stderr
    live = json.loads(k("get", "cm", name, "-o", "json").stdout)
    k("label", "cm", name, "bump=1")  # the live resourceVersion moves on
    (tmp_path / "stale.json").write_text(json.dumps(live))
    r = k("replace", "-f", str(tmp_path / "stale.json"), check=False)
    assert "Error from server (Conflict)" in r.stderr and "the object has been modified" in r.stderr, r.stderr
    (tmp_path / "bad.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: Bad_Name}\n"
                                       "spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, "
                                       "spec: {containers: [{name: c, image: busybox:1.36}]}}}\n")
    r = k("apply", "-f", str(tmp_path / "bad.yaml"), check=False)
    assert 'The Deployment "Bad_Name" is invalid' in r.stderr and "metadata.name" in r.stderr, r.stderr
    (tmp_path / "unknown.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}-u}}\n"
                                           "data: {a: b}\nfoo: bar\n")
    r = k("apply", "-f", str(tmp_path / "unknown.yaml"), check=False)
    assert r.returncode == 1 and 'unknown field "foo"' in r.stderr, r.stderr
    # --validate=warn / false: the server drops the field (Warn says so, as the API server's
    # default does for clients that send no fieldValidation) and stores the rest
    r = k("apply", "--validate=warn", "-f", str(tmp_path / "unknown.yaml"))
    assert 'Warning: unknown field "foo"' in r.stderr, r.stderr
    stored = json.loads(k("get", "cm", f"{name}-u", "-o", "json").stdout)
    assert stored["data"] == {"a": "b"} and "foo" not in stored
    k("delete", "cm", f"{name}-u")
    r = k("create", "--validate=false", "-f", str(tmp_path / "unknown.yaml"))
    assert "Warning" not in r.stderr and "foo" not in k("get", "cm", f"{name}-u", "-o", "json").stdout
    k("delete", "cm", name, f"{name}-u")


def test_describe_shows_only_its_own_events(k, kd):
    name = uniq(k, "desc")
    k("run", name, "--image=busybox:1.36", "--", "sleep", "3600")
    wait_for(lambda: "Started" in k("describe", "pod", name).stdout, 30, what="Started event in describe")
    out = k("describe", "pod", name).stdout
    events = out[out.index("Events:"):]
    assert "Scheduled" in events and f"Successfully assigned default/{name}" in events
    assert "kubelet" in events and "default-scheduler" in events
    node = k("describe", "node", "kubedeck").stdout
    assert "Events:" in node
    k("delete", "pod", name, "--grace-period=0", "--force")


def test_explain(k, kd):
    out = k("explain", "pods.spec.containers").stdout
    assert "KIND:" in out and "Pod" in out and "image" in out
    out = k("explain", "deployment.spec.strategy").stdout
    assert "rollingUpdate" in out


def test_folder_objects_and_kubectl_objects_live_side_by_side(k, kd):
    name = uniq(k, "fold")
    kd.write(f"{name}.yaml", f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{a: file}}\n")
    wait_for(lambda: kd.client.list("ConfigMap", "default", None) and any(
        c["metadata"]["name"] == name for c in kd.client.list("ConfigMap", "default")), 10, what="folder object")
    k("create", "configmap", f"{name}-kc", "--from-literal=a=kubectl")
    obj = json.loads(k("get", "cm", name, "-o", "json").stdout)
    assert obj["metadata"]["annotations"]["kubedeck.io/source"] == f"{name}.yaml"
    # a kubectl change to a folder object stands until the file changes
    k("label", "cm", name, "by=kubectl")
    kd.write("other.yaml", f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}-other}}\n")
    wait_for(lambda: kd.client.list("ConfigMap", "default") and any(
        c["metadata"]["name"] == f"{name}-other" for c in kd.client.list("ConfigMap", "default")), 10,
        what="second folder object")
    assert kd.client.get("ConfigMap", "default", name)["metadata"]["labels"]["by"] == "kubectl"
    # removing the folder's files prunes only what they made
    (kd.folder / f"{name}.yaml").unlink()
    (kd.folder / "other.yaml").unlink()
    wait_for(lambda: not any(c["metadata"]["name"] in (name, f"{name}-other")
                             for c in kd.client.list("ConfigMap", "default")), 10, what="folder objects pruned")
    assert kd.client.get("ConfigMap", "default", f"{name}-kc")["data"] == {"a": "kubectl"}
    k("delete", "cm", f"{name}-kc")


def test_get_watch_sees_a_change(k, kd):
    name = uniq(k, "watch")
    k("create", "configmap", name, "--from-literal=a=1")
    proc = subprocess.Popen([k.binary, "--kubeconfig", str(kd.state / "kubeconfig"), "get", "cm", name, "-w",
                             "-o", "jsonpath={.data.a}{\"\\n\"}"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "1"
        k("patch", "cm", name, "--type=merge", "-p", '{"data":{"a":"2"}}')
        assert proc.stdout.readline().strip() == "2"
    finally:
        proc.kill()
        proc.wait()
    k("delete", "cm", name)


def test_server_side_apply_managed_fields_and_conflicts(k, kd, tmp_path):
    name = uniq(k, "ssa")
    f = tmp_path / "d.yaml"
    f.write_text(deployment(name, 'containers: [{name: c, image: "busybox:1.36", command: [sleep, "3600"]}]', replicas=2))
    out = k("apply", "--server-side", "--field-manager=alice", "-f", str(f)).stdout
    assert "serverside-applied" in out, out
    live = json.loads(k("get", "deploy", name, "-o", "json", "--show-managed-fields").stdout)
    entry = next(m for m in live["metadata"]["managedFields"] if m["manager"] == "alice")
    assert entry["operation"] == "Apply" and "f:replicas" in entry["fieldsV1"]["f:spec"]
    k("scale", f"deploy/{name}", "--replicas=3")
    r = k("apply", "--server-side", "--field-manager=alice", "-f", str(f), check=False)
    assert r.returncode == 1 and "conflict" in r.stderr and ".spec.replicas" in r.stderr, r.stderr
    assert kd.client.get("Deployment", "default", name)["spec"]["replicas"] == 3
    k("apply", "--server-side", "--field-manager=alice", "--force-conflicts", "-f", str(f))
    assert kd.client.get("Deployment", "default", name)["spec"]["replicas"] == 2
    # a field alice stops applying goes away
    f.write_text(f.read_text().replace("  replicas: 2\n", ""))
    k("apply", "--server-side", "--field-manager=alice", "-f", str(f))
    live = json.loads(k("get", "deploy", name, "-o", "json", "--show-managed-fields").stdout)
    entry = next(m for m in live["metadata"]["managedFields"] if m["manager"] == "alice")
    assert "f:replicas" not in entry["fieldsV1"]["f:spec"]
    k("delete", "-f", str(f))


def test_kubedeck_apply_is_one_server_side_request(kd, tmp_path):
    f = tmp_path / "cm.yaml"
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cli-apply}\ndata: {a: '1'}\n")
    assert kd.cli("apply", "-f", str(f)).stdout.strip() == "configmap/cli-apply created"
    assert kd.cli("apply", "-f", str(f)).stdout.strip() == "configmap/cli-apply unchanged"
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cli-apply}\ndata: {a: '2'}\n")
    assert kd.cli("apply", "-f", str(f)).stdout.strip() == "configmap/cli-apply configured"
    live = kd.client.get("ConfigMap", "default", "cli-apply")
    assert live["data"] == {"a": "2"}
    assert [(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]] == [("kubedeck", "Apply")]
    kd.client.request("DELETE", "/api/v1/namespaces/default/configmaps/cli-apply")


def test_pod_security_baseline_refuses_host_takeover(k, kd, tmp_path):
    name = uniq(k, "priv")
    f = tmp_path / "p.yaml"
    f.write_text(f"""apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers:
  - name: c
    image: busybox:1.36
    securityContext: {{privileged: true}}
    volumeMounts: [{{name: sock, mountPath: /var/run/docker.sock}}]
  volumes:
  - name: sock
    hostPath: {{path: /var/run/docker.sock}}
""")
    r = k("apply", "-f", str(f), check=False)
    assert r.returncode == 1 and "Error from server (Forbidden)" in r.stderr, r.stderr
    assert 'violates PodSecurity "baseline:latest"' in r.stderr and "privileged" in r.stderr
    assert "hostPath" in r.stderr and "--allow-privileged" in r.stderr
    assert "NotFound" in k("get", "pod", name, check=False).stderr


def test_edit_with_the_users_editor(k, kd, tmp_path):
    name = uniq(k, "edit")
    k("create", "configmap", name, "--from-literal=greeting=hello")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/greeting: hello/greeting: edited/' \"$1\"\n")
    editor.chmod(0o755)
    r = subprocess.run([k.binary, "--kubeconfig", str(kd.state / "kubeconfig"), "edit", "cm", name],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "KUBE_EDITOR": str(editor)})
    assert r.returncode == 0 and "edited" in r.stdout, r.stderr
    assert kd.client.get("ConfigMap", "default", name)["data"] == {"greeting": "edited"}
    k("delete", "cm", name)


def test_logs_follow_a_deployment_and_get_watch_through_a_rollout(k, kd):
    name = uniq(k, "roll")
    k("create", "deployment", name, "--image=busybox:1.36", "--",
      "sh", "-c", "i=0; while :; do echo line-$i; i=$((i+1)); sleep 0.2; done")
    k("rollout", "status", f"deploy/{name}", "--timeout=60s")
    logs = subprocess.Popen([k.binary, "--kubeconfig", str(kd.state / "kubeconfig"), "logs", "-f",
                             f"deploy/{name}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = logs.stdout.readline().strip()
        assert first.startswith("line-"), first
        assert logs.stdout.readline().strip().startswith("line-")  # it keeps following
    finally:
        logs.kill()
        logs.wait()
    watch = subprocess.Popen([k.binary, "--kubeconfig", str(kd.state / "kubeconfig"), "get", "pods", "-l",
                              f"app={name}", "-w", "--no-headers", "-o", "custom-columns=NAME:.metadata.name"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        old = {watch.stdout.readline().strip()}
        k("set", "image", f"deploy/{name}", "busybox=busybox:1.37")
        seen = set()
        while not (seen - old):  # a pod of the new ReplicaSet shows up in the watch
            seen.add(watch.stdout.readline().strip())
        k("rollout", "status", f"deploy/{name}", "--timeout=60s")
    finally:
        watch.kill()
        watch.wait()
    k("delete", "deploy", name)


def test_down_takes_the_context_out_and_restores_the_previous_one(make_engine, tmp_path, monkeypatch):
    cfg = tmp_path / "user-kubeconfig"
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    subprocess.run(["kubectl", "config", "set-context", "mine", "--cluster=x"], env=dict(os.environ), check=True,
                   capture_output=True)
    subprocess.run(["kubectl", "config", "use-context", "mine"], env=dict(os.environ), check=True, capture_output=True)
    before = cfg.read_bytes()
    eng = make_engine()
    current = subprocess.run(["kubectl", "config", "current-context"], capture_output=True, text=True)
    assert current.stdout.strip() == f"kubedeck-{eng.name}"
    assert subprocess.run(["kubectl", "get", "ns", "default", "-o", "name"], capture_output=True,
                          text=True).stdout.strip() == "namespace/default"
    out = eng.cli("down").stdout
    assert f"removed context 'kubedeck-{eng.name}'" in out, out
    assert cfg.read_bytes() == before


def test_deleting_a_namespace_deletes_what_is_in_it(k, kd):
    """`kubectl delete namespace`: Terminating while its pod stops (its grace period), no new
    content meanwhile, then gone with everything in it, its containers too; the API
    server's own namespaces may not be deleted."""
    ns = uniq(k, "scratch")
    k("create", "namespace", ns)
    k("-n", ns, "create", "configmap", "settings", "--from-literal=a=b")
    # sleep as PID 1 ignores SIGTERM: the pod takes its whole 4 s grace period to stop
    k("-n", ns, "apply", "-f", "-", input=deployment("web", """
        terminationGracePeriodSeconds: 4
        containers: [{name: main, image: "busybox:1.36", command: [sleep, "3600"]}]"""))
    k("-n", ns, "wait", "--for=condition=Ready", "pod", "-l", "app=web", "--timeout=60s")
    assert any(f"_{ns}_" in c.name for c in kd.containers())

    r = k("delete", "namespace", "default", check=False)
    assert r.returncode == 1 and r.stderr.strip() == (
        'Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted')
    k("delete", "namespace", ns, "--wait=false")
    assert k("get", "namespace", ns, "-o", "jsonpath={.status.phase}").stdout == "Terminating"
    r = k("-n", ns, "create", "configmap", "late", "--from-literal=a=b", check=False)
    assert r.returncode == 1 and r.stderr.strip() == (
        f'error: failed to create configmap: configmaps "late" is forbidden: unable to create new content in '
        f'namespace {ns} because it is being terminated'), r.stderr

    k("wait", "--for=delete", f"namespace/{ns}", "--timeout=60s")
    assert k("get", "namespace", ns, check=False).returncode == 1
    for kind in ("ConfigMap", "Deployment", "ReplicaSet", "Pod"):
        assert kd.client.list(kind, ns) == [], kind
    assert not [c.name for c in kd.containers() if f"_{ns}_" in c.name]


def test_diff_auth_can_i_and_health_endpoints(k, kd, tmp_path):
    """`kubectl diff` finds nothing to change in what it just applied (a Secret's stringData
    is folded into data in the server's dry run, as on a real API server) and shows a real
    change; `auth can-i` answers yes (one user with every right); /livez and /readyz."""
    name = uniq(k, "diffed")
    path = tmp_path / "secret.yaml"
    path.write_text(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData: {{token: abc}}\n")
    k("apply", "-f", str(path))
    r = k("diff", "-f", str(path), check=False)
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr
    path.write_text(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData: {{token: xyz}}\n")
    r = k("diff", "-f", str(path), check=False)
    assert r.returncode == 1 and "-  token: " in r.stdout and "+  token: " in r.stdout, r.stdout + r.stderr
    assert k("auth", "can-i", "delete", "nodes").stdout.strip() == "yes"
    for probe in ("/livez", "/readyz", "/healthz"):
        assert k("get", "--raw", probe).stdout == "ok"
    assert k("get", "--raw", "/readyz?verbose").stdout.endswith("readyz check passed\n")


def test_create_token_for_the_default_service_account(k, kd):
    """Every namespace has its `default` ServiceAccount and kube-root-ca.crt; `kubectl create
    token` gives a token the API takes (it names the account in whoami) until the account
    is deleted."""
    assert k("get", "serviceaccount", "default", "-o", "name").stdout.strip() == "serviceaccount/default"
    ca = json.loads(k("get", "configmap", "kube-root-ca.crt", "-o", "json").stdout)["data"]["ca.crt"]
    assert ca == (kd.state / "pki" / "ca.crt").read_text()
    name = uniq(k, "robot")
    k("create", "serviceaccount", name)
    token = k("create", "token", name, "--duration=20m").stdout.strip()
    assert k("--token", token, "get", "serviceaccount", name, "-o", "name").stdout.strip() == f"serviceaccount/{name}"
    if not k.binary.endswith("1.27"):  # whoami's v1 API came with kubectl 1.28
        assert f"system:serviceaccount:default:{name}" in k("--token", token, "auth", "whoami").stdout
    r = k("create", "token", name, "--duration=5m", check=False)
    assert r.returncode == 1 and "may not specify a duration less than 10 minutes" in r.stderr, r.stderr
    k("delete", "serviceaccount", name)
    r = k("--token", token, "get", "pods", check=False)
    assert r.returncode == 1 and "Unauthorized" in r.stderr, r.stderr  # deleting the account revoked it


def test_autoscale_at_either_autoscaling_version(k, kd):
    """kubectl before 1.33 creates HPAs as autoscaling/v1 (targetCPUUtilizationPercentage),
    1.33 as v2; both are one object, read back at either version (engine/api/versions.py)."""
    name = uniq(k, "hpa")
    k("create", "deployment", name, "--image=busybox:1.36", "--", "sleep", "3600")
    k("autoscale", "deployment", name, "--cpu-percent=60", "--min=1", "--max=2")
    v2 = json.loads(k("get", "hpa", name, "-o", "json").stdout)  # the preferred version
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 60}}}]
    v1 = json.loads(k("get", "horizontalpodautoscalers.v1.autoscaling", name, "-o", "json").stdout)
    assert v1["apiVersion"] == "autoscaling/v1" and v1["spec"]["targetCPUUtilizationPercentage"] == 60
    # a patch at v1 lands in the stored v2 object
    k("patch", "horizontalpodautoscalers.v1.autoscaling", name, "--type=merge", "-p",
      '{"spec":{"targetCPUUtilizationPercentage":70}}')
    stored = kd.client.get("HorizontalPodAutoscaler", "default", name)
    assert stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert "autoscaling.alpha.kubernetes.io/metrics" not in (stored["metadata"].get("annotations") or {})
    k("delete", "hpa", name)
    k("delete", "deployment", name)
