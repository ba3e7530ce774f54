"""FolderSync against hostile folder content, on an in-process cluster (no Docker): a FIFO,
a device node, a symlink loop, a dangling link, editors' swap files and a folder deleted
and recreated are reported or ignored while the sync, and the event loop, keep going.

The tests run as root in CI, where chmod 000 does not make a file unreadable; the
unreadable cases here are a dangling symlink and a symlink loop instead."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
import time

import pytest
from kubedeck.engine.cluster import Cluster, Settings
from kubedeck.engine.folder import ignored


def cm(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n"


async def until(pred, what: str, timeout: float = 15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := pred()):
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
    return value


@contextlib.asynccontextmanager
async def syncing(tmp_path, folder):
    cluster = Cluster(Settings(state=tmp_path / "kdtest-folder", folder=folder, docker=False))
    cluster._ensure_base_objects()
    task = asyncio.ensure_future(cluster.folder.run())
    try:
        yield cluster
        assert not task.done(), task.exception() if task.done() and not task.cancelled() else "ended"
    finally:
        task.cancel()
        await asyncio.wait([task])
        cluster.store.close()


def has(cluster, name: str) -> bool:
    return cluster.store.peek("ConfigMap", "default", name) is not None


def errors_of(cluster) -> dict[str, str]:
    return {e.file: e.message for e in cluster.folder.errors()}


@pytest.fixture
def folder(tmp_path):
    f = tmp_path / "manifests"
    f.mkdir()
    (f / "good.yaml").write_text(cm("good"))
    return f


async def test_a_fifo_is_an_error_and_never_blocks_the_loop(tmp_path, folder):
    fifo = folder / "pipe.yaml"
    os.mkfifo(fifo)

    def unblock():  # lets the old engine's blocking open() return, so it can fail properly
        time.sleep(3)
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    threading.Thread(target=unblock, daemon=True).start()
    gaps = []

    async def heartbeat():
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.02)
            now = time.monotonic()
            gaps.append(now - last)
            last = now
    beat = asyncio.ensure_future(heartbeat())
    try:
        async with syncing(tmp_path, folder) as cluster:
            await until(lambda: has(cluster, "good"), "good.yaml applied")
            await until(lambda: "pipe.yaml" in errors_of(cluster), "the FIFO reported")
            assert errors_of(cluster)["pipe.yaml"] == "is a FIFO (named pipe), not a regular file: not read"
            (folder / "later.yaml").write_text(cm("later"))
            await until(lambda: has(cluster, "later"), "a later file applied")
    finally:
        beat.cancel()
    assert max(gaps) < 1.0, f"the event loop stalled for {max(gaps):.1f}s"


async def test_symlink_loop_dangling_link_and_device_are_errors_and_sync_goes_on(tmp_path, folder):
    os.symlink("loop-b.yaml", folder / "loop-a.yaml")
    os.symlink("loop-a.yaml", folder / "loop-b.yaml")
    os.symlink("nowhere.yaml", folder / "dangling.yaml")
    os.symlink("/dev/null", folder / "device.yaml")
    async with syncing(tmp_path, folder) as cluster:
        await until(lambda: has(cluster, "good"), "good.yaml applied")
        assert errors_of(cluster) == {"loop-a.yaml": "is a symlink loop: not read",
                                      "loop-b.yaml": "is a symlink loop: not read",
                                      "dangling.yaml": "is a dangling symlink: not read",
                                      "device.yaml": "is a device node, not a regular file: not read"}
        (folder / "after.yaml").write_text(cm("after"))  # the watch survived all that
        await until(lambda: has(cluster, "after"), "a file written afterwards applied")
        (folder / "loop-a.yaml").unlink()
        (folder / "loop-a.yaml").write_text(cm("fixed"))
        await until(lambda: has(cluster, "fixed"), "the fixed file applied")
        assert "loop-a.yaml" not in errors_of(cluster)


def test_editor_files_are_ignored_by_name():
    for name in (".web.yaml.swp", ".web.yaml.swx", "web.yaml~", "4913", ".#web.yaml", "#web.yaml#"):
        assert ignored(name), name
    for name in ("web.yaml", "web.json", "2024"):
        assert not ignored(name), name


async def test_editor_swap_and_backup_files_are_ignored(tmp_path, folder):
    async with syncing(tmp_path, folder) as cluster:
        await until(lambda: has(cluster, "good"), "good.yaml applied")
        for name in (".good.yaml.swp", "good.yaml~", "4913", ".#good.yaml"):
            (folder / name).write_text("{not: [valid")
        (folder / "marker.yaml").write_text(cm("marker"))  # changes are handled in order
        await until(lambda: has(cluster, "marker"), "the marker file applied")
        assert errors_of(cluster) == {}
        assert sorted(cluster.folder.files) == ["good.yaml", "marker.yaml"]


async def test_a_folder_deleted_and_recreated_keeps_syncing(tmp_path, folder):
    async with syncing(tmp_path, folder) as cluster:
        await until(lambda: has(cluster, "good"), "good.yaml applied")
        shutil.rmtree(folder)
        await until(lambda: not has(cluster, "good"), "objects of the removed folder deleted")
        folder.mkdir()
        (folder / "again.yaml").write_text(cm("again"))  # at once: the new watch must not miss it
        await until(lambda: has(cluster, "again"), "a file in the recreated folder applied")
        (folder / "again2.yaml").write_text(cm("again2"))
        await until(lambda: has(cluster, "again2"), "a later change in the recreated folder applied")
