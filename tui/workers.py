"""Failed TUI workers become a visible notice, and the long-lived ones a retry.

Every worker the app runs uses `exit_on_error=False` (a failure must not end the TUI),
so without a handler a failure is silent: an informer whose list raised something
unexpected (a body that is not JSON, a bug) simply stops, and its pane freezes. Textual
posts `Worker.StateChanged` to the node that ran the worker (it does not bubble), so the
app's one handler (`KubedeckApp.on_worker_state_changed`, Harlequin's pattern) passes
every change of its workers here:
- any worker that ends in ERROR is a notification naming it and the error;
- a worker started with `run()` (informers, the metrics poller: loops meant to live as
  long as the app) is started again from its factory after a delay that doubles per
  consecutive failure, capped at `max_delay`; one that ran longer than `max_delay`
  before failing starts over at `delay`.
Widgets' own workers handle their errors where they are shown (the log pane prints them
in the pane).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from textual.app import App
from textual.worker import Worker, WorkerState


class WorkerRestarts:
    def __init__(self, app: App, *, delay: float = 0.5, max_delay: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.delay = delay
        self.max_delay = max_delay
        self.clock = clock
        self._factories: dict[str, Callable[[], Awaitable]] = {}
        self._started: dict[str, float] = {}
        self.failures: dict[str, int] = {}  # name -> consecutive failures

    def run(self, name: str, factory: Callable[[], Awaitable]) -> Worker:
        """Run `factory()` as the worker `name`, and again whenever it fails."""
        self._factories[name] = factory
        self._started[name] = self.clock()
        return self.app.run_worker(factory(), name=name, group=name, exit_on_error=False)

    def state_changed(self, worker: Worker, state: WorkerState) -> None:
        if state != WorkerState.ERROR:
            return
        error = worker.error
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        name = worker.name or worker.group or "a background task"
        factory = self._factories.get(name) if worker.name else None
        if factory is None:
            self.app.notify(f"{name} failed: {reason}", severity="error")
            return
        if self.clock() - self._started.get(name, 0.0) > self.max_delay:
            self.failures[name] = 0  # it was healthy for a while: not a crash loop
        count = self.failures[name] = self.failures.get(name, 0) + 1
        wait = min(self.delay * 2 ** (count - 1), self.max_delay)
        self.app.notify(f"{name} failed: {reason}; retrying in {wait:g} s", severity="error")
        self.app.set_timer(wait, lambda: self.run(name, factory))
