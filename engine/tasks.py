"""Supervised background tasks: a failure is logged, recorded and restarted, never lost.

A long-lived task (folder sync, node agent, proxies) that raises is not gone for the
engine's life: `Supervisor.spawn` takes a coroutine *factory*, runs it, and on an
exception logs it with its traceback, records it for `/kubedeck/v1/status`
(`failures()`), waits, and calls the factory again. The wait doubles from
`first_backoff` up to `max_backoff` (30 s), as client-go's rate limiter does, and goes
back to the start once a run has lasted `healthy_after` seconds, so a task that fails
once a day restarts at once while one that fails at every start does not spin.
A task that returns is done; cancelling it (engine stop) cancels the supervisor too.
`sleep` and `clock` are parameters so the back-off is tested without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

log = logging.getLogger("kubedeck.tasks")


@dataclass
class Failure:
    """The last failure of one supervised task, as `/kubedeck/v1/status` shows it."""

    task: str
    error: str
    #: when it failed (UTC, RFC 3339)
    time: str
    #: how many times the task has been restarted after a failure
    restarts: int
    #: the wait before this restart, in seconds
    backoff: float


class Supervisor:
    def __init__(self, *, first_backoff: float = 0.5, max_backoff: float = 30.0,
                 healthy_after: float = 60.0, sleep: Callable[[float], Awaitable] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.healthy_after = healthy_after
        self._sleep = sleep
        self._clock = clock
        self._failures: dict[str, Failure] = {}
        self.tasks: set[asyncio.Task] = set()

    def spawn(self, factory: Callable[[], Awaitable], name: str) -> asyncio.Task:
        """Run `factory()` as a task named `name`, restarted with back-off when it fails."""
        task = asyncio.get_running_loop().create_task(self.supervise(factory, name), name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def supervise(self, factory: Callable[[], Awaitable], name: str) -> None:
        attempt = 0
        while True:
            started = self._clock()
            try:
                await factory()
                return
            except Exception as e:
                if self._clock() - started >= self.healthy_after:
                    attempt = 0
                delay = min(self.first_backoff * 2 ** attempt, self.max_backoff)
                attempt += 1
                restarts = self._failures[name].restarts + 1 if name in self._failures else 1
                self._failures[name] = Failure(
                    task=name, error=f"{type(e).__name__}: {e}",
                    time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), restarts=restarts, backoff=delay)
                log.error("task %s failed; restarting it in %.1f s", name, delay, exc_info=e)
            await self._sleep(delay)

    def record(self, name: str, error: BaseException) -> None:
        """A task outside supervision failed for good: keep it visible in `failures()`."""
        restarts = self._failures[name].restarts if name in self._failures else 0
        self._failures[name] = Failure(task=name, error=f"{type(error).__name__}: {error}",
                                       time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                       restarts=restarts, backoff=0.0)

    def failures(self) -> list[dict]:
        """Every task that has failed, with its last error, for `/kubedeck/v1/status`."""
        return [asdict(f) for f in sorted(self._failures.values(), key=lambda f: f.task)]
