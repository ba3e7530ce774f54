"""`kubedeck backup` / `kubedeck restore` as subprocesses, on stores written by the real
Store (no Docker): objects round-trip with their uids and resourceVersions, a backup
taken while an engine writes is one consistent snapshot, and restore refuses a running
engine, a store that holds objects (without --force) and a damaged file, in one line.
The refusals and the forced restore call the CLI's `main` in this process (`kd_here`: a
subprocess costs ~0.3 s of CPU); the round trip, the backup beside a writing process and
the restore beside a lock held by another process keep the real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from kubedeck.engine.lock import StateLock
from kubedeck.engine.store import Store


def kd(state: Path, *args, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "kubedeck", "--state", str(state), *args],
                       capture_output=True, text=True, timeout=60)
    assert "Traceback" not in r.stderr, r.stderr
    if check:
        assert r.returncode == 0, r.stderr
    return r


def kd_here(capsys, state: Path, *args, check=True) -> subprocess.CompletedProcess:
    """`kd` through the CLI's `main` in this process (an exception escaping main fails
    the test as a traceback would)."""
    from kubedeck.cli import main

    capsys.readouterr()
    code = main(["--state", str(state), *args])
    out, err = capsys.readouterr()
    if check:
        assert code == 0, err
    return subprocess.CompletedProcess(["kubedeck", *args], code, out, err)


def fill(state: Path) -> dict:
    state.mkdir(parents=True, exist_ok=True)
    s = Store(state / "store.sqlite")
    s.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    s.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"pw": "hunter2"}})
    dep = s.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                    "spec": {"replicas": 2}})
    s.update_status("Deployment", "default", "web", {"readyReplicas": 2})
    s.create({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
        "name": "web-1", "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": dep["metadata"]["uid"]}]}})
    s.delete("ReplicaSet", "default", "web-1")  # history moves rv past the objects' own
    s.create({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1"}, "reason": "Scaled"})
    objects = {(k, o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
               for k in s.kinds() for o in s.list(k)}
    rv = s.rv
    s.close()
    return {"objects": objects, "rv": rv}


def load(state: Path) -> dict:
    s = Store(state / "store.sqlite")
    try:
        return {"objects": {(k, o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
                            for k in s.kinds() for o in s.list(k)}, "rv": s.rv}
    finally:
        s.close()


def test_round_trip_keeps_uids_resource_versions_and_status(tmp_path):
    before = fill(tmp_path / "a")
    out = tmp_path / "cluster.backup"
    r = kd(tmp_path / "a", "backup", str(out))
    assert "backed up 4 object(s)" in r.stdout
    assert out.stat().st_mode & 0o777 == 0o600  # it holds the Secrets
    assert json.loads(out.read_text())["resourceVersion"] == str(before["rv"])
    kd(tmp_path / "b", "restore", str(out))
    after = load(tmp_path / "b")
    assert after == before  # every object byte for byte (uid, resourceVersion, status, data), and the rv
    assert after["objects"][("Secret", "default", "db")]["data"] == {"pw": "aHVudGVyMg=="}
    s = Store(tmp_path / "b" / "store.sqlite")
    assert int(s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n"}})
               ["metadata"]["resourceVersion"]) == before["rv"] + 1  # time goes on, never back
    s.close()
    assert (tmp_path / "b" / "store.sqlite").stat().st_mode & 0o777 == 0o600


WRITER = textwrap.dedent("""
    import sys
    from kubedeck.engine.store import Store
    from pathlib import Path
    s = Store(Path(sys.argv[1]))
    s.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    print(s.rv, flush=True)
    i = 0
    while True:
        s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"}})
        i += 1
""")


def test_a_backup_taken_while_the_store_is_written_is_one_consistent_snapshot(tmp_path):
    state = tmp_path / "busy"
    state.mkdir()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(state / "store.sqlite")],
                              stdout=subprocess.PIPE, text=True)
    try:
        base = int(writer.stdout.readline())
        for n in range(3):
            out = tmp_path / f"b{n}.json"
            kd(state, "backup", str(out))
            doc = json.loads(out.read_text())
            rv = int(doc["resourceVersion"])
            names = sorted(int(o["metadata"]["name"][3:]) for o in doc["objects"] if o["kind"] == "ConfigMap")
            # every create bumps the rv by one: a snapshot at rv holds exactly cm-0 .. cm-(rv-base-1)
            assert names == list(range(rv - base)), (rv, base, names[-3:])
            assert max(int(o["metadata"]["resourceVersion"]) for o in doc["objects"]) == rv
    finally:
        writer.kill()
        writer.wait()
    assert rv - base > 0  # the writer did write while we read


def test_restore_refuses_a_running_engine(tmp_path):
    fill(tmp_path / "a")
    kd(tmp_path / "a", "backup", str(tmp_path / "f.json"))
    (tmp_path / "live").mkdir()
    lock = StateLock(tmp_path / "live").acquire()  # as `kubedeck serve` holds it
    try:
        r = kd(tmp_path / "live", "restore", str(tmp_path / "f.json"), check=False)
    finally:
        lock.release()
    assert r.returncode == 1 and "stop it first" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "live" / "store.sqlite").exists()


def test_restore_over_a_cluster_needs_force_and_keeps_the_old_store(tmp_path, capsys):
    before = fill(tmp_path / "a")
    kd_here(capsys, tmp_path / "a", "backup", str(tmp_path / "f.json"))
    s = Store(tmp_path / "a" / "store.sqlite")
    for i in range(5):  # the cluster moves on after the backup
        s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"later-{i}"}})
    later_rv = s.rv
    s.close()
    r = kd_here(capsys, tmp_path / "a", "restore", str(tmp_path / "f.json"), check=False)
    assert r.returncode == 1 and "--force" in r.stderr
    assert len(load(tmp_path / "a")["objects"]) == 9  # untouched
    r = kd_here(capsys, tmp_path / "a", "restore", "--force", str(tmp_path / "f.json"))
    after = load(tmp_path / "a")
    assert after["objects"] == before["objects"] and after["rv"] == later_rv  # rv never goes back
    [aside] = (tmp_path / "a").glob("store.sqlite.before-restore-*[0-9]")
    assert "previous store is now" in r.stdout and aside.stat().st_size > 0


@pytest.mark.parametrize("text, words", [
    ("not json", "not JSON"),
    ('{"kind": "Pod"}', "is not a kubedeck backup"),
    ('{"apiVersion": "kubedeck.io/v1", "kind": "KubedeckBackup", "objects": [{"kind": "Pod"}]}', "is damaged"),
])
def test_a_bad_backup_file_is_one_line_and_changes_nothing(tmp_path, capsys, text, words):
    f = tmp_path / "bad.json"
    f.write_text(text)
    r = kd_here(capsys, tmp_path / "s", "restore", str(f), check=False)
    assert r.returncode == 1 and words in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "s" / "store.sqlite").exists()


def test_backup_of_no_cluster_or_a_damaged_store_is_one_line(tmp_path, capsys):
    r = kd_here(capsys, tmp_path / "none", "backup", str(tmp_path / "x.json"), check=False)
    assert r.returncode == 1 and "nothing to back up" in r.stderr
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "store.sqlite").write_bytes(b"this is not a database" * 100)
    r = kd_here(capsys, tmp_path / "bad", "backup", str(tmp_path / "x.json"), check=False)
    assert r.returncode == 1 and "cannot be read" in r.stderr and not (tmp_path / "x.json").exists()
