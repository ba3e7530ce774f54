"""Container stops that wait out their grace period run on threads of their own: with
more of them in flight than the Docker pool has threads, another pod's Docker calls
still go through at once (before, 16 such stops stalled every pod's start for up to
30 s)."""

from __future__ import annotations

import asyncio
import threading
import time

from kubedeck.engine.agent.docker_io import DockerIO


class SlowStopApi:
    """Stands in for docker.APIClient: stop() blocks until released, as a container that
    ignores SIGTERM does for its whole grace period."""

    def __init__(self):
        self.release = threading.Event()
        self.stopping = 0

    def stop(self, cid, timeout):
        self.stopping += 1
        self.release.wait(10)

    def inspect_container(self, cid):
        return {"Id": cid}


def test_stops_waiting_out_their_grace_do_not_hold_up_other_calls():
    async def run():
        d = DockerIO("kdtest-unit", workers=4)
        d.api = api = SlowStopApi()
        stops = [asyncio.create_task(d.stop(f"c{i}", 30)) for i in range(20)]  # 5x the pool
        try:
            deadline = time.monotonic() + 2
            while api.stopping < 20:  # every stop is under way at once, none queued
                assert time.monotonic() < deadline, f"only {api.stopping} of 20 stops under way"
                await asyncio.sleep(0.01)
            t = time.monotonic()
            assert await asyncio.wait_for(d.inspect("other"), 2) == {"Id": "other"}
            return time.monotonic() - t
        finally:
            api.release.set()
            await asyncio.gather(*stops)
            d.close()
    assert asyncio.run(run()) < 1.0
