"""kubedeck on "any cluster": `kubedeck up DIR --context X` and the TUI on a second
kubedeck cluster reached ONLY through its kubeconfig (HTTPS, its CA, its token), with
kubedeck's extras switched off there (`KUBEDECK_NO_EXTRAS=1`: /kubedeck/v1/* is 404), so
only standard Kubernetes endpoints are used. The folder sync runs in the CLI process,
never in that cluster's engine (whose own folder stays empty).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import textwrap

import httpx
import pytest
from conftest import wait_for, wait_for_async
from kubedeck.engine import kubeconnect
from kubedeck.engine.applyset import PART_OF, applyset_id
from kubedeck.engine.client import ApiError
from kubedeck.engine.state import context_name
from kubedeck.tui.app import KubedeckApp
from kubedeck.tui.shell import exec_shell

WEB = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox:1.36
        command: ["sh", "-c", "mkdir -p /www && echo hello-pf > /www/index.html && httpd -p 8080 -h /www && i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.3; done"]
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
"""
EXTRA = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: extra
data: {a: "1"}
"""


@pytest.fixture
def remote(make_engine, monkeypatch, tmp_path):
    """(engine, kubeconfig, context) of a kubedeck cluster that looks like any other."""
    monkeypatch.setenv("KUBEDECK_NO_EXTRAS", "1")
    eng = make_engine()
    monkeypatch.delenv("KUBEDECK_NO_EXTRAS")
    try:
        eng.client.status()
        pytest.fail("/kubedeck/v1/status still answers with KUBEDECK_NO_EXTRAS=1: engine/api/server.py must "
                    "answer 404 when kubedeck.engine.extras.extras_refused(request.path) (see the issue 17 report)")
    except ApiError as e:
        assert e.code == 404, e
    return eng, str(eng.state / "kubeconfig"), context_name(eng.name)


def kd(kubeconfig: str, context: str, *args, check=True, timeout=120) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "kubedeck", "--kubeconfig", kubeconfig, "--context", context, *args],
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise AssertionError(f"kubedeck {' '.join(args)} failed ({r.returncode}): {r.stderr}{r.stdout}")
    return r


def names(eng, kind: str, ns: str = "default") -> set[str]:
    return {o["metadata"]["name"] for o in eng.client.list(kind, ns)}


def kubectl_prune_dry_run(kubeconfig: str, context: str, folder, applyset: str) -> str:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not on PATH (needed to check ApplySet interoperability)"
    r = subprocess.run([kubectl, "--kubeconfig", kubeconfig, "--context", context, "apply", "--server-side",
                        "--prune", f"--applyset={applyset}", "-n", "default", "-f", str(folder),
                        "--dry-run=server"], capture_output=True, text=True, timeout=60,
                       env={**__import__("os").environ, "KUBECTL_APPLYSET": "true"})
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_sync_prune_refusal_and_kubectl_applyset(remote, tmp_path):
    eng, kubeconfig, context = remote
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "web.yaml").write_text(WEB)
    (folder / "extra.yaml").write_text(EXTRA)

    # not a kubedeck cluster (no extras), no terminal, no --yes: refused, nothing applied
    r = kd(kubeconfig, context, "up", str(folder), "--once", check=False)
    assert r.returncode == 1 and "not a kubedeck cluster" in r.stderr and context in r.stderr, r.stderr
    assert "web-config" not in names(eng, "ConfigMap")

    # --dry-run prints the server-side diff and changes nothing
    r = kd(kubeconfig, context, "up", str(folder), "--dry-run")
    assert "+++ folder/deployment.apps/default/web" in r.stdout and "+  name: web" in r.stdout, r.stdout
    assert "web-config" not in names(eng, "ConfigMap")

    r = kd(kubeconfig, context, "up", str(folder), "--once", "--yes")
    assert "4 object(s) applied, 0 error(s)" in r.stdout, r.stdout + r.stderr
    set_id = applyset_id("kubedeck-app", "default")
    cm = eng.client.get("ConfigMap", "default", "web-config")
    assert cm["metadata"]["labels"][PART_OF] == set_id
    assert any(m["manager"] == "kubedeck" and m["operation"] == "Apply" for m in cm["metadata"]["managedFields"])
    parent = eng.client.get("Secret", "default", "kubedeck-app")
    assert parent["metadata"]["labels"]["applyset.kubernetes.io/id"] == set_id
    assert parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"] == \
        "ConfigMap,Deployment.apps,Service"
    eng.client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "not-ours"}, "data": {}})

    # kubectl sees the same set: with the whole folder nothing to prune; without extra.yaml, exactly it
    assert "pruned" not in kubectl_prune_dry_run(kubeconfig, context, folder, "kubedeck-app")
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(folder / "web.yaml", partial / "web.yaml")
    out = kubectl_prune_dry_run(kubeconfig, context, partial, "kubedeck-app")
    assert [line for line in out.splitlines() if "pruned" in line] == ["configmap/extra pruned (server dry run)"], out

    # a file the cluster refuses (Pod Security: privileged) changes nothing, even its valid ConfigMap
    (folder / "extra.yaml").write_text(EXTRA.replace('a: "1"', 'a: "2"') + textwrap.dedent("""\
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: root
        spec:
          containers:
          - name: main
            image: busybox:1.36
            securityContext:
              privileged: true
        """))
    r = kd(kubeconfig, context, "up", str(folder), "--once", "--yes", check=False)
    assert r.returncode == 1
    assert "extra.yaml:7 Pod/root" in r.stderr and "privileged" in r.stderr, r.stderr
    assert eng.client.get("ConfigMap", "default", "extra")["data"] == {"a": "1"}
    assert "root" not in names(eng, "Pod")

    # removing the file prunes exactly what it made; an object outside the set stays
    (folder / "extra.yaml").unlink()
    kd(kubeconfig, context, "up", str(folder), "--once", "--yes")
    assert names(eng, "ConfigMap") >= {"web-config", "not-ours"} and "extra" not in names(eng, "ConfigMap")
    assert "ConfigMap,Deployment.apps,Service" == eng.client.get("Secret", "default", "kubedeck-app")[
        "metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"]


def test_watch_mode_applies_saves(remote, tmp_path):
    eng, kubeconfig, context = remote
    folder = tmp_path / "live"
    folder.mkdir()
    (folder / "extra.yaml").write_text(EXTRA)
    proc = subprocess.Popen([sys.executable, "-m", "kubedeck", "--kubeconfig", kubeconfig, "--context", context,
                             "up", str(folder), "--no-ui", "--yes"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: "extra" in names(eng, "ConfigMap"), 60, what="first sync")
        (folder / "extra.yaml").write_text(EXTRA.replace('a: "1"', 'a: "3"'))
        wait_for(lambda: eng.client.get("ConfigMap", "default", "extra")["data"] == {"a": "3"}, 30,
                 what="the save applied")
        (folder / "extra.yaml").unlink()
        wait_for(lambda: "extra" not in names(eng, "ConfigMap"), 30, what="the removal pruned")
    finally:
        proc.terminate()
        proc.wait(20)


async def test_tui_panes_logs_exec_port_forward(remote, tmp_path, capfd):
    eng, kubeconfig, context = remote
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "web.yaml").write_text(WEB)
    kd(kubeconfig, context, "up", str(folder), "--once", "--yes")
    pod = wait_for(lambda: eng.running_ready("app=web", 1), 90, what="web pod ready")[0]["metadata"]["name"]

    conn = kubeconnect.load(context, kubeconfig)
    assert conn.url.startswith("https://") and conn.namespace == "default"
    app = KubedeckApp(connection=conn, config_dir=tmp_path / "config", status_interval=0.2, retry_delay=0.05)
    async with app.run_test(size=(120, 34)) as pilot:
        async def until(predicate, what, timeout=30):
            return await wait_for_async(predicate, pause=pilot.pause, timeout=timeout, what=what)

        table = app.main_table
        await until(lambda: any(o["metadata"]["name"] == pod for o in table.objects.values()), "pod in the pods pane")
        await until(lambda: app.extras is False, "status 404 read as: not a kubedeck cluster")
        assert app.status_bar.cluster == context and not app.errors_area.display
        # the side panes' informers start after the first frame
        svc = await until(lambda: next((k for k, o in app.services_table.objects.items()
                                        if o["metadata"]["name"] == "web"), None), "the Service in its pane")
        assert str(app.services_table.get_cell(svc, "URL")) == "", "a NodePort URL on 127.0.0.1 shown for a real cluster"
        await until(lambda: app.nodes_table.objects, "the nodes pane")

        uid = next(k for k, o in table.objects.items() if o["metadata"]["name"] == pod)
        table.focus()
        table.move_cursor(row=table.get_row_index(uid))
        await pilot.press("l")
        await until(lambda: any(line.startswith("tick ") for line in app.log_pane.lines), "logs through the API")

        await app._start_forward("Pod", "default", pod, 0, 8080)
        forward = app.forwards[0]
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{forward.forwarder.local_port}/")
        assert r.text.strip() == "hello-pf"
        await app.stop_all_forwards()

    # `s` runs this through the API's exec, with the same connection (here without a terminal)
    code = await asyncio.to_thread(exec_shell, conn, "default", pod, "main",
                                   command=["sh", "-c", "cat /www/index.html; exit 3"], stdin=False, tty=False)
    assert code == 3 and "hello-pf" in capfd.readouterr().out


def test_ui_process_on_a_context_shows_the_clusters_pods_and_quits(remote):
    """The real `kubedeck ui --context` process (kubeconfig loaded and pods listed in its
    forked child, engine/forked.py) on a terminal, as a person starts it."""
    from test_tmux import Tmux

    eng, kubeconfig, context = remote
    eng.client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "listed-before-the-start"},
                       "spec": {"nodeSelector": {"no-such": "node"},
                                "containers": [{"name": "main", "image": "busybox:1.36"}]}})
    name = f"kdtest-ui-{context[-8:]}"
    # Textual draws on stderr: the pane shows both, a one-line error as well as the TUI
    tui = Tmux(name, f"{sys.executable} -m kubedeck --kubeconfig {kubeconfig} --context {context} ui")
    try:
        wait_for(lambda: "listed-before-the-start" in tui.screen() and context in tui.screen(), 30,
                 what="the pod and the context on screen")
        eng.client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "created-after-the-start"},
                           "spec": {"nodeSelector": {"no-such": "node"},
                                    "containers": [{"name": "main", "image": "busybox:1.36"}]}})
        wait_for(lambda: "created-after-the-start" in tui.screen(), 30, what="a pod from the watch on screen")
        tui.keys("q")
        wait_for(lambda: not tui.alive(), 15, what="ui to quit on q")
    finally:
        print(tui.screen() if tui.alive() else "")
        tui.kill()
