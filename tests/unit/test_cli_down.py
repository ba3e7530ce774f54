"""`kubedeck down` waits for the engine to exit: a zombie (exited, not yet reaped by its
parent) counts as gone, or down would sit out its whole SIGTERM grace for nothing; and
it waits out a container removal the engine left under way."""

from __future__ import annotations

import os
import subprocess
import sys

from docker.errors import APIError, NotFound

from kubedeck.serve import _gone, _remove_ours

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


# `kubedeck down` (_remove_ours) when the stopped engine's own removal of a container is
# still under way in dockerd: Docker answers 409 "removal ... is already in progress";
# down waits for the container to go instead of reporting a problem (the bench's
# `kubedeck down` right after a scale-down hit it). A fake Docker API: pure logic.


class Resp:
    def __init__(self, code: int) -> None:
        self.status_code = code
        self.reason = "Conflict"


class FakeApi:
    def __init__(self, in_progress: dict[str, int]) -> None:
        self.in_progress = dict(in_progress)  # id -> inspects until it is gone (None: never)
        self.inspects = 0

    def containers(self, all, filters):
        return [{"Id": cid, "Names": [f"/c-{cid}"]} for cid in self.in_progress]

    def remove_container(self, cid, force):
        raise APIError("409", Resp(409), explanation=f"removal of container {cid} is already in progress")

    def inspect_container(self, cid):
        self.inspects += 1
        left = self.in_progress[cid]
        if left is not None and left <= 0:
            raise NotFound("gone")
        if left is not None:
            self.in_progress[cid] = left - 1
        return {"Id": cid}

    def networks(self, filters):
        return []


def test_a_removal_already_under_way_is_waited_for_not_reported():
    api = FakeApi({"a": 3})
    n, _, problems = _remove_ours(api, "kd", volumes=False)
    assert (n, problems) == (1, []) and api.inspects == 4


def test_one_that_never_goes_is_still_reported(monkeypatch):
    import kubedeck.serve as serve

    clock = iter(range(0, 1000, 10))  # each monotonic() call: 10 s later
    monkeypatch.setattr(serve.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(serve.time, "sleep", lambda s: None)
    n, _, problems = _remove_ours(FakeApi({"b": None}), "kd", volumes=False)
    assert n == 0 and problems == ["cannot remove container c-b: removal of container b is already in progress"]
