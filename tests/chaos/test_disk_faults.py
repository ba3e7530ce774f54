"""The state dir's disk fills up under a running engine, on a real tmpfs (these tests
mount one: they run as root, as CI does here). Every API write is
answered either 201 (and the object survives a restart) or a 500 Status that says the
store cannot be written (and the object does not exist, now or after a restart): none
is dropped silently. The app keeps serving. A state dir that cannot be written at start
(read-only) is a one-line refusal. Made read-only while the engine runs: see
test_state_dir_readonly.py (a tmpfs cannot be remounted read-only while the engine holds
store.sqlite open for writing, EBUSY; an ext4 error does it). A truncated or corrupt store.sqlite is covered by
tests/unit/test_store_safety.py (refused in one line, --reset-store sets it aside)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest
from kubedeck.engine.client import ApiError

from chaoslib import Load, app, engine_on, node_port, settle
from conftest import wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.docker]


@contextlib.contextmanager
def tmpfs(path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"these tests mount a tmpfs (root in CI): {r.stderr}"
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def remount(path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


def fill(path) -> None:
    """Fill the file system at `path` to the last byte."""
    fd = os.open(path / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for block in (1 << 16, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * block)
    finally:
        os.close(fd)


def cm(name: str, size: int = 4000) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"x": "y" * size}}


def try_creates(engine, prefix: str, n: int, *, size: int = 4000,
                until_refused: int | None = None) -> tuple[list[str], list[str]]:
    """(created, refused) names; a refusal must be the store's own 500. With
    `until_refused`, stop once that many were refused."""
    made, refused = [], []
    for i in range(n):
        name = f"{prefix}-{i}"
        try:
            engine.client.create(cm(name, size))
            made.append(name)
        except ApiError as e:
            assert e.code == 500 and "store cannot be written" in e.message, (e.code, e.message)
            refused.append(name)
            if until_refused is not None and len(refused) >= until_refused:
                break
    return made, refused


@pytest.mark.timeout(240)
def test_full_state_dir(tmp_path, docker_client):
    with tmpfs(tmp_path / "disk", "16m") as disk:
        eng = engine_on(disk, tmp_path, docker_client)
        try:
            eng.start()
            eng.write("web.yaml", app(2))
            settle(eng, 2)
            with Load(node_port(eng)) as load:
                wait_for(lambda: load.ok_streak(10), 30, what="load answered")
                fill(disk)
                # SQLite reuses its write-ahead log's space after a checkpoint (up to ~4 MiB):
                # writes go on until that is used up too, then they must be refused
                made_full, refused_full = try_creates(eng, "full", 40, size=256_000, until_refused=3)
                assert refused_full, "the disk is full: some writes must be refused"
                (disk / "filler").unlink()
                made_after, _ = try_creates(eng, "after", 2)
                assert made_after == ["after-0", "after-1"]  # it recovers without a restart
                wait_for(lambda: load.ok_streak(10), 30, what="the app still answering")  # it never needed the disk
                settle(eng, 2)
            live = {c["metadata"]["name"] for c in eng.client.list("ConfigMap", "default")}
            made = set(made_full + made_after)
            assert made <= live and not (set(refused_full) & live)
            eng.kill(sig=15)
            eng.start()
            after = {c["metadata"]["name"] for c in eng.client.list("ConfigMap", "default")}
            assert made <= after and not (set(refused_full) & after)  # nothing dropped silently
            log = eng.log_path.read_text(errors="replace")
            print(f"full disk: {len(made_full)} created, {len(refused_full)} refused")
            assert "Traceback" not in log, log[-3000:]
        finally:
            eng.cleanup()


def test_an_unwritable_state_dir_is_refused_in_one_line(tmp_path):
    with tmpfs(tmp_path / "disk", "1m") as disk:
        (disk / "kdtest-old").mkdir()
        remount(disk, "ro")
        for state in (disk / "kdtest-new", disk / "kdtest-old"):
            r = subprocess.run([sys.executable, "-m", "kubedeck", "--state", str(state), "serve", str(tmp_path),
                                "--no-kubeconfig"], capture_output=True, text=True, timeout=60)
            assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
            assert r.stderr.strip() == (f"error: the state dir {state} cannot be written: Read-only file system; "
                                        "free disk space, fix its permissions, or use another --state")
