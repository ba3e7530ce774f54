"""The state dir's file system turns read-only under a running engine (issue 19), the way
Linux does it to a disk that fails: ext4 mounted `errors=remount-ro` on a loop device,
and an error raised through /sys/fs/ext4/<dev>/trigger_fs_error. From then on every
write, through every file the engine holds open too (store.sqlite, its -wal and -shm),
fails with EROFS.

Why not a tmpfs flipped with `mount -o remount,ro`: Linux refuses that with EBUSY while
any file on it is open for writing, and the engine holds store.sqlite's WAL open for its
life; a read-only bind mount on top only affects files opened after it, which SQLite
does not do. And an ext4 made read-only by an error cannot be made writable again while
mounted (`mount -o remount,rw` succeeds but the kernel keeps it read-only until it is
unmounted): recovery is what it is for a real disk: stop the engine, unmount, e2fsck,
mount, start.

Checked while read-only: the engine does not exit, its log names the state dir and the
EROFS, the API keeps serving reads (pods, ConfigMaps), every write is refused with a 500
whose message names the read-only state dir (never a 201 for an object that would be
gone after a restart), the app keeps answering through its NodePort. After the
recovery: every object acknowledged before the fault is there with its uid, no refused
one is, and the folder's app converges again (its pods adopted, not restarted).

Runs as root (loop devices, mount), as CI does here; the mount is on the host's mount
namespace (Docker must be able to see the pods' files) under pytest's tmp_path, and is
unmounted in `finally`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from kubedeck.engine.client import ApiError

from chaoslib import Load, app, engine_on, node_port, settle
from conftest import wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.docker]


def sh(*argv: str) -> str:
    r = subprocess.run(argv, capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}"
    return r.stdout.strip()


@contextlib.contextmanager
def ext4(image: Path, where: Path):
    """A 64 MiB ext4 on a loop device, mounted errors=remount-ro at `where`; yields the
    loop devices used (a remount adds one)."""
    sh("truncate", "-s", "64M", str(image))
    sh("mkfs.ext4", "-q", "-F", str(image))
    where.mkdir()
    devices = [mount(image, where)]
    try:
        yield devices
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
        for dev in devices:
            subprocess.run(["losetup", "-d", dev], capture_output=True)


def mount(image: Path, where: Path) -> str:
    """Mount `image` on a new loop device (never one already holding it: a container
    created while it was mounted keeps the old, read-only superblock alive after our
    umount, and a reused device would bring it back); returns the device."""
    dev = sh("losetup", "-f", "--show", str(image))
    sh("mount", "-o", "errors=remount-ro", dev, str(where))
    return dev


def device(where: Path) -> str:
    """The loop device's name under /sys/fs/ext4 (`loop3`)."""
    return os.path.basename(sh("findmnt", "-no", "SOURCE", str(where)))


def cm(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": name}}


@pytest.mark.timeout(300)
def test_state_dir_turning_read_only_under_the_engine(tmp_path, docker_client):
    disk = tmp_path / "disk"
    with ext4(tmp_path / "disk.img", disk) as devices:
        eng = engine_on(disk, tmp_path, docker_client)
        try:
            eng.start()
            eng.write("web.yaml", app(2))
            settle(eng, 2)
            made = {n: eng.client.create(cm(n))["metadata"]["uid"] for n in ("before-0", "before-1", "before-2")}
            pod_containers = {c.id for c in eng.containers() if "io.kubernetes.pod.uid" in c.labels}
            with Load(node_port(eng)) as load:
                wait_for(lambda: load.ok_streak(10), 30, what="load answered")
                dev = device(disk)
                Path(f"/sys/fs/ext4/{dev}/trigger_fs_error").write_text("kdtest: the state dir goes read-only\n")
                with pytest.raises(OSError, match="Read-only file system"):
                    (disk / "probe").write_text("x")
                t_ro = time.monotonic()
                refused = []
                for i in range(3):
                    with pytest.raises(ApiError) as err:
                        eng.client.create(cm(f"during-{i}"))
                    assert err.value.code == 500, (err.value.code, err.value.message)
                    assert "Read-only file system (EROFS)" in err.value.message and str(eng.state) in err.value.message, err.value.message
                    refused.append(f"during-{i}")
                # reads go on from memory; the app never noticed
                live = {c["metadata"]["name"] for c in eng.client.list("ConfigMap", "default")}
                assert set(made) <= live and not set(refused) & live
                assert len(eng.pods("app=web")) == 2
                eng.write("extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-folder}\n")
                wait_for(lambda: len(load.since(t_ro)) > 50, 30, what="requests while read-only")
                assert load.ok_streak(10)
                errors = wait_for(lambda: [e for e in eng.client.status()["manifestErrors"]
                                           if e["file"].endswith("extra.yaml")], 30, what="the folder's refused edit")
                assert "Read-only file system (EROFS)" in errors[0]["message"], errors
                assert eng.proc.poll() is None, "the engine exited"
                log = eng.log_path.read_text(errors="replace")
                assert "Read-only file system" in log and str(eng.state) in log, log[-3000:]
            eng.kill(sig=signal.SIGTERM)  # it stops cleanly although it cannot write a byte
            assert eng.proc.returncode == 0, eng.log_path.read_text(errors="replace")[-3000:]
            # recovery, as for a real disk: unmount, check, mount, start again
            sh("umount", str(disk))
            fsck = subprocess.run(["e2fsck", "-fy", str(tmp_path / "disk.img")], capture_output=True, text=True)
            assert fsck.returncode in (0, 1), fsck.stdout + fsck.stderr  # 1: errors corrected (the one we raised)
            devices.append(mount(tmp_path / "disk.img", disk))
            # what the fault left: store.sqlite's WAL intact (fsynced commits), but files written
            # without fsync at the first start are empty (token, api.json, kubeconfig): the
            # engine must make a new token rather than serve with an empty one
            eng.start()
            after = {c["metadata"]["name"]: c["metadata"]["uid"] for c in eng.client.list("ConfigMap", "default")}
            assert {n: after.get(n) for n in made} == made, "objects acknowledged before the fault were lost"
            assert not set(refused) & set(after), "a refused write exists after the restart"
            wait_for(lambda: "from-folder" in {c["metadata"]["name"] for c in eng.client.list("ConfigMap", "default")},
                     30, what="the folder's edit made while read-only applied after the restart")
            settle(eng, 2)
            # the pods' containers adopted, not recreated (the Service helpers may be)
            assert {c.id for c in eng.containers() if "io.kubernetes.pod.uid" in c.labels} == pod_containers
            log = eng.log_path.read_text(errors="replace")
            assert "Traceback" not in log, log[-4000:]
        finally:
            eng.cleanup()
