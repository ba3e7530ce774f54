"""A de-duplicating, rate-limited work queue for controllers, shaped like client-go's
workqueue (Queue, DelayingQueue, RateLimitingQueue in one class).

- A key waits at most once: adding a key that is already waiting does nothing.
- A key is never handed to two workers at once: a key added while it is being processed
  is marked dirty and queued again only when the worker calls `done()` (client-go's
  dirty and processing sets).
- `add_after(key, seconds)` holds a key back (requeue-after for time-based work: a
  CronJob's next run, a Job's deadline, an eviction timeout); of two delays for one key
  the earlier wins.
- `add_rate_limited(key)` is the retry after a failure: per-key exponential back-off
  (5 ms doubling, capped), forgotten on success with `forget(key)`.

Delays are read from an injected clock's `monotonic()`, so a test with a fake clock
moves keys by advancing it and taking them with `get_nowait()`; the async `get()`
sleeps on the event loop until a key is added or the earliest delay is due.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from typing import Generic, Hashable, TypeVar

from .clock import Clock

T = TypeVar("T", bound=Hashable)


class RateLimiter(Generic[T]):
    """Per-item exponential failure back-off, as client-go's ItemExponentialFailureRateLimiter
    (base * 2**failures). client-go caps it at 1000 s; kubedeck at 30 s, since a local
    cluster's user fixes the cause and expects the retry within a breath."""

    def __init__(self, base: float = 0.005, cap: float = 30.0):
        self.base, self.cap = base, cap
        self._failures: dict[T, int] = {}

    def when(self, item: T) -> float:
        n = self._failures.get(item, 0)
        self._failures[item] = n + 1
        return min(self.base * 2 ** n, self.cap)

    def retries(self, item: T) -> int:
        return self._failures.get(item, 0)

    def forget(self, item: T) -> None:
        self._failures.pop(item, None)


class WorkQueue(Generic[T]):
    def __init__(self, clock: Clock, limiter: RateLimiter[T] | None = None):
        self.clock = clock
        self.limiter: RateLimiter[T] = limiter or RateLimiter()
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._waiting: dict[T, float] = {}  # key -> when it is due (monotonic)
        self._heap: list[tuple[float, int, T]] = []  # (due, seq, key); stale entries skipped
        self._seq = itertools.count()
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        """Keys ready now (not those held back by a delay)."""
        return len(self._queue)

    def add(self, key: T) -> None:
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._wake.set()

    def add_after(self, key: T, seconds: float) -> None:
        if seconds <= 0:
            self.add(key)
            return
        due = self.clock.monotonic() + seconds
        if self._waiting.get(key, due + 1) <= due:
            return  # already due earlier
        self._waiting[key] = due
        heapq.heappush(self._heap, (due, next(self._seq), key))
        self._wake.set()

    def add_rate_limited(self, key: T) -> float:
        """Requeue after this key's next back-off delay; returns the delay."""
        delay = self.limiter.when(key)
        self.add_after(key, delay)
        return delay

    def forget(self, key: T) -> None:
        self.limiter.forget(key)

    def retries(self, key: T) -> int:
        return self.limiter.retries(key)

    def delayed(self, key: T) -> float | None:
        """Seconds until a held-back key is due, or None if it is not held back."""
        due = self._waiting.get(key)
        return None if due is None else max(0.0, due - self.clock.monotonic())

    def _promote(self) -> float | None:
        """Move due keys to the queue; seconds until the next one is due (None: none waits)."""
        now = self.clock.monotonic()
        while self._heap:
            due, _, key = self._heap[0]
            if self._waiting.get(key) != due:
                heapq.heappop(self._heap)  # superseded by an earlier delay, or already added
            elif due <= now:
                heapq.heappop(self._heap)
                del self._waiting[key]
                self.add(key)
            else:
                return due - now
        return None

    def get_nowait(self) -> T | None:
        """The next ready key (now being processed: call `done()` after), or None."""
        self._promote()
        if not self._queue:
            return None
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    async def get(self) -> T:
        while True:
            key = self.get_nowait()
            if key is not None:
                return key
            self._wake.clear()
            try:  # asyncio.timeout, not wait_for: wait_for may swallow a cancel on 3.11
                async with asyncio.timeout(self._promote()):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def done(self, key: T) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake.set()
