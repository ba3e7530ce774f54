"""`kubedeck down` waits for the engine to exit: a zombie (exited, not yet reaped by its
parent) counts as gone, or down would sit out its whole SIGTERM grace for nothing."""

from __future__ import annotations

import os
import subprocess
import sys

from kubedeck.serve import _gone

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from conftest import wait_for  # noqa: E402


def test_a_running_process_is_not_gone_and_an_unreaped_one_is():
    live = subprocess.Popen(["sleep", "30"])
    done = subprocess.Popen(["true"])
    try:
        assert not _gone(live.pid)
        # `true` exits at once; nobody has called wait() on it, so it is a zombie now
        wait_for(lambda: open(f"/proc/{done.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z", 10,
                 what="the child to exit")
        assert _gone(done.pid)
    finally:
        live.kill()
        live.wait()
        done.wait()
    assert _gone(done.pid)  # reaped: no such process
