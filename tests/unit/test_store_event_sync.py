"""Every store commit waits for its fsync except an Event's and a pod's or ReplicaSet's
status (engine/store.py _write): counted with strace on a real SQLite file in a child
process, 20 writes each. The connection is back to FULL after a relaxed commit."""

from __future__ import annotations

import subprocess
import sys
import textwrap


CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from kubedeck.engine.store import Store
    s = Store(Path(sys.argv[1]))
    s.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    kind, status = sys.argv[2].split("/") if "/" in sys.argv[2] else (sys.argv[2], "")
    obj = lambda i: {"apiVersion": "v1", "kind": kind, "metadata": {"name": f"x{i}", "namespace": "default"},
                     "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "R", "message": "m", "data": {},
                     "spec": {"containers": []}}
    if status:
        s.create(obj(0))
        print("go", flush=True)
        sys.stdin.readline()
        for i in range(20):
            s.update_status(kind, "default", "x0", {"phase": f"p{i}"})
    else:
        print("go", flush=True)
        sys.stdin.readline()
        for i in range(20):
            s.create(obj(i))
    assert s._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
    print("done", flush=True)
    sys.stdin.readline()
""")


def fsyncs(tmp_path, kind: str) -> int:
    """fsync/fdatasync calls made by 20 creates of `kind`, or with "KIND/status" 20 status
    writes of one (strace attached once the store is open)."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / f"{kind.replace('/', '-')}.sqlite"), kind],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    trace = tmp_path / f"{kind.replace('/', '-')}.strace"
    try:
        assert child.stdout.readline() == "go\n"
        strace = subprocess.Popen(["strace", "-f", "-e", "trace=fsync,fdatasync", "-o", str(trace),
                                   "-p", str(child.pid)], stderr=subprocess.PIPE)
        # strace says nothing once attached: wait until it has stopped the child once
        while "attached" not in (line := strace.stderr.readline().decode()) and line:
            pass
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline() == "done\n"
        strace.terminate()
        strace.wait()
    finally:
        child.stdin.close()
        child.wait(10)
    return sum(1 for line in trace.read_text().splitlines() if "sync(" in line)


def test_events_and_rederived_statuses_skip_the_fsync_that_every_other_commit_waits_for(tmp_path):
    assert fsyncs(tmp_path, "ConfigMap") >= 20  # each commit of an object waits for its WAL on disk
    assert fsyncs(tmp_path, "Job/status") >= 20  # a Job's status holds history
    for relaxed in ("Event", "Pod/status", "ReplicaSet/status"):
        assert (n := fsyncs(tmp_path, relaxed)) == 0, f"{n} fsyncs for 20 writes of {relaxed}"
