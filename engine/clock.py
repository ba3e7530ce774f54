"""The time that controllers read, injectable so tests can move it by hand.

Controllers never call `time.time()` themselves: they are given a `Clock` and read
`now()` (wall time, Unix seconds: deadlines, schedules, timestamps they write) and
`monotonic()` (intervals: work-queue delays and back-off). `SystemClock` is the real
one; `FakeClock` stands still until a test calls `advance()`, so a test can show that
nothing happens in an hour without waiting for it (k8s.io/utils/clock's fake does this).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    def __init__(self, now: float | None = None):
        self._now = time.time() if now is None else now
        self._mono = 1000.0

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += seconds
        self._mono += seconds


def iso(t: float) -> str:
    """Unix time as the API's RFC 3339 seconds (what the store stamps)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
