"""A failed TUI worker is a visible notice, and a failed informer is started again
(tui/workers.py), against the in-process fake API (no sleeps: wait_for)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_fake_api import FakeApi, app_on, serving, wait_for  # noqa: E402

from kubedeck.tui.widgets.resource_table import ResourceTable  # noqa: E402
from kubedeck.tui.workers import WorkerRestarts  # noqa: E402
from textual.worker import WorkerState  # noqa: E402


@pytest.fixture
async def fake_api():
    async with serving() as api:
        yield api


def messages(app) -> list[str]:
    return [n.message for n in app._notifications]


def lists_of(api: FakeApi, path: str) -> int:
    return sum(1 for r in api.calls("GET") if r.path == path and r.query.get("watch") is None)


async def test_a_failed_informer_is_shown_and_started_again(fake_api, tmp_path):
    fake_api.garbage["services"] = 1  # the first list of services is not JSON: the informer raises
    app = app_on(fake_api, tmp_path)
    async with app.run_test(size=(120, 34)) as pilot:
        services = app.query_one("#services", ResourceTable)
        await wait_for(pilot, lambda: services.row_count == 1, message="services listed by the restarted informer")
        notes = [m for m in messages(app) if m.startswith("informer services failed")]
        assert len(notes) == 1, messages(app)
        assert "JSONDecodeError" in notes[0] and "retrying in 0.05 s" in notes[0]
        assert lists_of(fake_api, "/api/v1/services") == 2
        assert app.restarts.failures == {"informer services": 1}
        # the other informers never failed, so nothing else was said or restarted
        assert lists_of(fake_api, "/api/v1/pods") == 1


async def test_a_failed_one_shot_worker_is_a_notice_and_not_repeated(fake_api, tmp_path):
    app = app_on(fake_api, tmp_path)
    runs = []

    async def boom() -> None:
        runs.append(1)
        raise RuntimeError("cannot save")

    async with app.run_test(size=(120, 34)) as pilot:
        app.run_worker(boom(), name="edit", group="edit", exit_on_error=False)
        await wait_for(pilot, lambda: "edit failed: RuntimeError: cannot save" in messages(app),
                       message="a notice for the failed worker")
        assert runs == [1] and app.is_running
        assert app.restarts.failures == {}  # not a registered loop: no retry was scheduled


class FakeWorker:
    def __init__(self, name: str, error: Exception) -> None:
        self.name, self.group, self.error = name, name, error


class FakeApp:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.timers: list[tuple[float, object]] = []
        self.started: list[str] = []

    def notify(self, message: str, severity: str = "information") -> None:
        self.notes.append(message)

    def set_timer(self, delay: float, callback) -> None:
        self.timers.append((delay, callback))

    def run_worker(self, awaitable, *, name: str, group: str, exit_on_error: bool):
        awaitable.close()  # a coroutine never awaited: closed, no warning
        self.started.append(name)


def test_back_off_doubles_per_failure_caps_and_starts_over_after_a_healthy_run():
    now = [0.0]
    app = FakeApp()
    restarts = WorkerRestarts(app, delay=1.0, max_delay=8.0, clock=lambda: now[0])

    async def loop() -> None:
        pass

    restarts.run("informer pods", loop)
    waits = []
    for _ in range(5):  # crashes right after each start
        restarts.state_changed(FakeWorker("informer pods", OSError("gone")), WorkerState.ERROR)
        delay, again = app.timers.pop()
        waits.append(delay)
        again()
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert app.started == ["informer pods"] * 6
    assert app.notes[-1] == "informer pods failed: OSError: gone; retrying in 8 s"
    now[0] += 60  # ran healthy for a minute, then failed: not a crash loop
    restarts.state_changed(FakeWorker("informer pods", OSError("gone")), WorkerState.ERROR)
    assert app.timers.pop()[0] == 1.0
    restarts.state_changed(FakeWorker("informer pods", OSError()), WorkerState.SUCCESS)
    assert not app.timers and len(app.notes) == 6
