"""A dockerd that accepts connections but stops answering (Docker 20.10's libnetwork
deadlock when many containers exit at once, moby/moby#46661, seen in a 500-pod
scale-down) is said: the agent's Docker status names it once a call has waited
STALLED_AFTER seconds, and clears when calls answer again; `kubedeck down` says it in
one line instead of a traceback. Blocking functions stand in for Docker's answers."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import requests

from kubedeck.engine.agent.agent import NOT_ANSWERING, STALLED_AFTER, stall_status
from kubedeck.engine.agent.docker_io import DockerIO
from kubedeck.errors import UserError
from kubedeck.serve import _remove_or_explain


async def _until(pred, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not pred():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)


def test_stalled_is_the_oldest_running_call_and_a_slow_call_does_not_count():
    async def run():
        d = DockerIO("kdtest-unit", workers=2)
        gate, started = threading.Event(), threading.Event()
        try:
            assert d.stalled() == 0.0
            waiting = asyncio.ensure_future(d.call(lambda: (started.set(), gate.wait(10))))
            await _until(started.is_set)
            first = d.stalled()
            await _until(lambda: d.stalled() > first + 0.05)  # grows while Docker does not answer
            gate.set()
            await waiting
            assert d.stalled() == 0.0  # answered: nothing running

            gate.clear()
            started.clear()

            def pull():  # a pull takes as long as the image is large: it says so
                d.slow()
                started.set()
                gate.wait(10)
            pulling = asyncio.ensure_future(d.call(pull))
            await _until(started.is_set)
            await asyncio.sleep(0.05)
            assert d.stalled() == 0.0
            gate.set()
            await pulling
        finally:
            gate.set()
            d.close()
    asyncio.run(run())


def test_the_status_names_a_stall_once_past_the_limit_and_clears_after():
    assert stall_status("ok", STALLED_AFTER - 1) == "ok"
    stuck = stall_status("ok", STALLED_AFTER + 3)
    assert stuck.startswith(NOT_ANSWERING) and f"{STALLED_AFTER + 3:.0f} s" in stuck and "moby/moby#46661" in stuck
    assert stall_status(stuck, STALLED_AFTER + 60) == stuck  # said once, not rewritten every pass
    assert stall_status(stuck, 0.0) == "ok"
    unreachable = "Docker is not reachable: is the Docker daemon running?"
    assert stall_status(unreachable, STALLED_AFTER + 3) == unreachable  # the event stream's word stands
    assert stall_status(unreachable, 0.0) == unreachable


class HungApi:
    timeout = 60

    def containers(self, all, filters):
        return [{"Id": "a", "Names": ["/c-a"]}]

    def remove_container(self, cid, force):
        raise requests.exceptions.ReadTimeout("UnixHTTPConnectionPool(host='localhost', port=None): Read timed out.")


class GoneApi(HungApi):
    def remove_container(self, cid, force):
        raise requests.exceptions.ConnectionError("Connection aborted.")


def test_down_says_a_docker_that_stops_answering_or_goes_away_in_one_line():
    with pytest.raises(UserError, match=r"Docker did not answer within 60 s .* moby/moby#46661.*kubedeck down"):
        _remove_or_explain(HungApi(), "kd", volumes=False)
    with pytest.raises(UserError, match=r"Docker went away .*Connection aborted"):
        _remove_or_explain(GoneApi(), "kd", volumes=False)
