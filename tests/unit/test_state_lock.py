"""One engine per state dir (engine/lock.py, cli/serve.py): an OS lock, not a health
check, so a frozen engine and two engines started at the same instant are caught.
No Docker: every `serve` here is refused before it would touch it."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from kubedeck import serve as serve_mod
from kubedeck.commands import UserError
from kubedeck.engine.kubeproxy import nodeport_kernel
from kubedeck.engine.lock import StateLock, StateLocked, holder
from kubedeck.engine.state import clear_connection, ensure_state_dir

HOLD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from kubedeck.engine.lock import StateLock, StateLocked
    start = float(sys.argv[2])
    while time.time() < start:
        pass
    try:
        StateLock(Path(sys.argv[1])).acquire(patience=0)
    except StateLocked as e:
        print("refused", e.pid, flush=True)
        sys.exit(3)
    print("locked", flush=True)
    time.sleep(float(sys.argv[3]))
""")


def hold(state: Path, *, seconds: float = 60, at: float = 0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOLD, str(state), str(at), str(seconds)],
                            stdout=subprocess.PIPE, text=True)


@pytest.fixture
def holder_proc(tmp_path):
    state = ensure_state_dir(tmp_path / "kdtest-lock")
    p = hold(state)
    assert p.stdout.readline().strip() == "locked"
    yield state, p
    if p.poll() is None:
        os.kill(p.pid, signal.SIGCONT)
        p.kill()
        p.wait()


def test_second_lock_is_refused_naming_the_holder_even_when_it_is_frozen(holder_proc):
    state, p = holder_proc
    assert holder(state) == p.pid
    os.kill(p.pid, signal.SIGSTOP)
    with pytest.raises(StateLocked) as err:
        StateLock(state).acquire()
    assert err.value.pid == p.pid and f"pid {p.pid}" in str(err.value)
    assert holder(state) == p.pid


def test_the_lock_goes_with_its_process(holder_proc):
    state, p = holder_proc
    p.kill()
    p.wait()
    assert holder(state) is None
    lock = StateLock(state).acquire()
    assert holder(state) == os.getpid()
    lock.release()
    assert holder(state) is None


def test_engines_started_at_the_same_instant_get_one_lock(tmp_path):
    state = ensure_state_dir(tmp_path / "kdtest-race")
    at = time.time() + 1.0  # every process is up and spinning by then
    procs = [hold(state, seconds=3, at=at) for _ in range(4)]
    try:
        results = [p.stdout.readline().split() for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    winners = [p.pid for p, r in zip(procs, results) if r == ["locked"]]
    assert len(winners) == 1, results
    assert sorted(r for r in results if r[0] == "refused") == [["refused", str(winners[0])]] * 3


def test_serve_refuses_beside_a_frozen_engine_at_once(holder_proc, tmp_path):
    state, p = holder_proc
    os.kill(p.pid, signal.SIGSTOP)
    folder = tmp_path / "manifests"
    folder.mkdir()
    began = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "kubedeck", "--state", str(state), "serve", str(folder)],
                       check=False, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip() == (f"error: another kubedeck engine (pid {p.pid}) is running on {state}; "
                                "use another --state, or `kubedeck down`")
    assert time.monotonic() - began < 20


def _up_args(tmp_path) -> argparse.Namespace:
    return argparse.Namespace(dir=str(tmp_path), address="127.0.0.1", api_port=0, nodes=1,
                              ingress_http_port=0, ingress_https_port=0, ingress_proxy="auto", no_kubeconfig=True,
                              reset_store=False)


def test_up_never_starts_a_second_engine_beside_a_silent_one(holder_proc, tmp_path, monkeypatch):
    """A frozen engine fails the health check; `up` must wait for it, not start another."""
    state, p = holder_proc
    os.kill(p.pid, signal.SIGSTOP)
    (state / "api.json").write_text(json.dumps({"url": "http://127.0.0.1:9", "token": "t", "pid": p.pid}))
    started = []
    monkeypatch.setattr(serve_mod.subprocess, "Popen", lambda *a, **k: started.append(a))
    monkeypatch.setattr(serve_mod, "ATTACH_SECONDS", 0.5)
    with pytest.raises(UserError, match=f"the engine \\(pid {p.pid}\\) holding .* does not answer"):
        serve_mod.ensure_running(_up_args(tmp_path), state)
    assert started == []


def test_stopping_never_removes_another_engines_connection(tmp_path):
    state = ensure_state_dir(tmp_path / "kdtest-conn")
    (state / "api.json").write_text(json.dumps({"url": "u", "token": "t", "pid": os.getpid() + 1}))
    clear_connection(state)
    assert (state / "api.json").exists()
    (state / "api.json").write_text(json.dumps({"url": "u", "token": "t", "pid": os.getpid()}))
    clear_connection(state)
    assert not (state / "api.json").exists()


def test_state_dir_is_private(tmp_path):
    state = ensure_state_dir(tmp_path / "a" / "kdtest-perm")
    assert state.stat().st_mode & 0o777 == 0o700
    loose = tmp_path / "kdtest-old"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    assert ensure_state_dir(loose).stat().st_mode & 0o777 == 0o700


def test_nodeport_rules_stay_while_another_engine_holds_the_state_dir(holder_proc, monkeypatch):
    state, p = holder_proc
    removed = []
    monkeypatch.setattr(nodeport_kernel, "remove_host_rules", lambda api, name: removed.append(name))
    ctx = argparse.Namespace(cluster="kdtest-lock", state_dir=state)
    agent = argparse.Namespace(ctx=ctx, docker=argparse.Namespace(api=object()))
    nodeports = nodeport_kernel.HostNodePorts(agent)
    nodeports.remove()
    assert removed == []
    p.kill()
    p.wait()
    nodeports.remove()
    assert removed == ["kdtest-lock"]
