"""The task supervisor (engine/tasks.py): failures are recorded and restarted with capped
back-off, on a fake clock and a fake sleep, so nothing here waits."""

from __future__ import annotations

import asyncio

import pytest
from kubedeck.engine.tasks import Supervisor


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(times: int, *, runs: list, lasting: float = 0.0, t: FakeTime | None = None):
    async def run():
        runs.append(1)
        if t:
            t.now += lasting
        if len(runs) <= times:
            raise RuntimeError(f"boom {len(runs)}")
    return run


async def test_a_failing_task_is_restarted_with_capped_back_off_and_recorded():
    t = FakeTime()
    sup = Supervisor(sleep=t.sleep, clock=t.clock)
    runs: list = []
    await sup.spawn(failing(9, runs=runs), "folder")
    assert len(runs) == 10  # nine failures, then a run that returns
    assert t.sleeps == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    [failure] = sup.failures()
    assert failure["task"] == "folder" and failure["error"] == "RuntimeError: boom 9"
    assert failure["restarts"] == 9 and failure["backoff"] == 30


async def test_back_off_starts_over_after_a_healthy_run():
    t = FakeTime()
    sup = Supervisor(sleep=t.sleep, clock=t.clock, healthy_after=60)
    runs: list = []
    await sup.spawn(failing(3, runs=runs, lasting=120, t=t), "agent")
    assert t.sleeps == [0.5, 0.5, 0.5]


async def test_cancelling_stops_the_task_and_is_not_a_failure():
    sup = Supervisor()
    started = asyncio.Event()

    async def forever():
        started.set()
        await asyncio.Event().wait()
    task = sup.spawn(forever, "proxy")
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sup.failures() == [] and sup.tasks == set()
