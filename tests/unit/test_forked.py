"""`ui --context` loads the kubeconfig in a forked child (engine/forked.py) and rebuilds the
connection from its snapshot (KubeConnection.snapshot / from_snapshot)."""

from __future__ import annotations

import base64
import os
import ssl
import stat
import subprocess
import sys
import tempfile
import threading

import pytest
import yaml

from kubedeck.engine.forked import ChildFailed, in_child
from kubedeck.engine.kubeconnect import KubeConnection, load
from kubedeck.engine.pki import ensure_pki


CHILD = """
import os
from kubedeck.engine.forked import ChildFailed, in_child
assert in_child(os.getpid)() != os.getpid()
try:
    in_child(lambda: (_ for _ in ()).throw(KeyError("no such context")))()
except ChildFailed as e:
    print("failed:", e)
"""


def test_the_step_runs_in_another_process_and_its_failure_comes_back_as_a_message():
    # in a fresh interpreter: this one (a pytest-xdist worker) runs threads, so it never forks
    r = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "failed: 'no such context'\n", r


def test_with_threads_running_the_step_stays_in_this_process():
    done = threading.Event()
    other = threading.Thread(target=done.wait)
    other.start()
    try:
        assert in_child(os.getpid)() == os.getpid()
        with pytest.raises(ChildFailed, match="boom"):
            in_child(lambda: (_ for _ in ()).throw(ValueError("boom")))()
    finally:
        done.set()
        other.join()


def _config(tmp_path, user: dict, cluster: dict) -> str:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "ctx",
        "clusters": [{"name": "c1", "cluster": {"server": "https://127.0.0.1:6443", **cluster}}],
        "users": [{"name": "u1", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c1", "user": "u1", "namespace": "team"}}]}))
    return str(path)


def _b64(path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_a_child_loaded_snapshot_carries_the_ca_the_client_certificate_and_an_exec_plugins_token(tmp_path,
                                                                                                  monkeypatch):
    pki = ensure_pki(tmp_path)  # its serving pair stands in for a client certificate
    runs = tmp_path / "runs"
    plugin = tmp_path / "plugin.py"
    plugin.write_text(f"import json\nopen({str(runs)!r}, 'a').write('run\\n')\n"
                      "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
                      "'kind': 'ExecCredential', 'status': {'token': 'from-plugin'}}))\n")
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    user = {"client-certificate-data": _b64(pki.server_cert), "client-key-data": _b64(pki.server_key),
            "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(plugin)], "interactiveMode": "Never"}}
    path = _config(tmp_path, user, {"certificate-authority-data": _b64(pki.ca_cert)})

    conn = KubeConnection.from_snapshot(in_child(lambda: load("ctx", path).snapshot())())
    assert runs.read_text() == "run\n"  # the plugin ran once, in the child
    assert (conn.url, conn.context, conn.cluster, conn.namespace) == ("https://127.0.0.1:6443", "ctx", "c1", "team")
    assert conn.headers() == {"Authorization": "Bearer from-plugin"}
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    ctx = conn.ssl()  # load_cert_chain fails unless the key matches the certificate
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert [c["subject"] for c in ctx.get_ca_certs()] == [
        c["subject"] for c in ssl.create_default_context(cafile=str(pki.ca_cert)).get_ca_certs()]
    assert not list(temp.iterdir())  # the PEM files written for load_cert_chain are gone


def test_a_snapshot_connection_reloads_the_context_on_refresh(tmp_path):
    token = tmp_path / "token"
    token.write_text("first")
    path = _config(tmp_path, {"tokenFile": str(token)}, {"insecure-skip-tls-verify": True})
    conn = KubeConnection.from_snapshot(in_child(lambda: load("ctx", path).snapshot())())
    assert conn.headers() == {"Authorization": "Bearer first"} and conn.ssl().verify_mode == ssl.CERT_NONE
    token.write_text("second")
    assert conn.headers() == {"Authorization": "Bearer first"}  # as taken, until a 401 asks
    conn.refresh()
    assert conn.headers() == {"Authorization": "Bearer second"}


def test_ui_on_a_context_that_is_not_there_is_one_line_and_exit_1(tmp_path):
    path = _config(tmp_path, {"token": "t"}, {"insecure-skip-tls-verify": True})
    r = subprocess.run([sys.executable, "-m", "kubedeck", "--kubeconfig", path, "--context", "nope", "ui"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, r
    assert r.stderr.strip().splitlines() == [f'error: context "nope" not found in {path} (contexts: ctx)']


def test_a_401_reloads_the_context_and_sends_the_request_once_more(tmp_path):
    import httpx

    from kubedeck.engine.kubeconnect import httpx_options

    token = tmp_path / "token"
    token.write_text("old")
    path = _config(tmp_path, {"tokenFile": str(token)}, {"insecure-skip-tls-verify": True})
    conn = KubeConnection.from_snapshot(in_child(lambda: load("ctx", path).snapshot())())
    seen = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200 if seen[-1] == "Bearer new" else 401)

    token.write_text("new")  # the credential rotated after the snapshot was taken
    with httpx.Client(transport=httpx.MockTransport(server), **httpx_options(conn)) as client:
        assert client.get("/version").status_code == 200
    assert seen == ["Bearer old", "Bearer new"]
