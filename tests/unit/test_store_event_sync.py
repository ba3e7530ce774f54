"""Every store commit waits for its fsync except an Event's (engine/store.py _write):
counted with strace on a real SQLite file in a child process, 20 writes each. An
Event is still on disk for a crash of kubedeck (the WAL frame is written before the
commit returns), and the connection is back to FULL after it, failed or not."""

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
    print("go", flush=True)
    sys.stdin.readline()
    for i in range(20):
        s.create({"apiVersion": "v1", "kind": sys.argv[2], "metadata": {"name": f"x{i}", "namespace": "default"},
                  "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "R", "message": "m", "data": {}})
    assert s._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
    print("done", flush=True)
    sys.stdin.readline()
""")


def fsyncs(tmp_path, kind: str) -> int:
    """fsync/fdatasync calls made by 20 creates of `kind` (strace attached once the store is open)."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / f"{kind}.sqlite"), kind],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    trace = tmp_path / f"{kind}.strace"
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


def test_event_commits_skip_the_fsync_that_every_other_commit_waits_for(tmp_path):
    objects, events = fsyncs(tmp_path, "ConfigMap"), fsyncs(tmp_path, "Event")
    assert objects >= 20  # each commit of an object waits for its WAL on disk
    assert events == 0, f"{events} fsyncs for 20 Events"
