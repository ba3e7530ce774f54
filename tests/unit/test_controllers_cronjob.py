"""CronJob schedules and the controller's decisions, on a fake clock (no Docker, no Cluster)."""

from __future__ import annotations

import time

import pytest
from controller_kit import make_kit, sync

from kubedeck.engine.controllers.cronjob import CronError, CronJobController, Schedule
from kubedeck.engine.controllers.gc import GarbageCollector
from kubedeck.engine.controllers.podutil import set_condition


def at(y, mo, d, h=0, mi=0) -> float:
    return time.mktime((y, mo, d, h, mi, 0, 0, 0, -1))


@pytest.mark.parametrize("expr,start,want", [
    ("* * * * *", at(2024, 1, 6, 12, 0), at(2024, 1, 6, 12, 1)),
    ("*/15 9-17 * * mon-fri", at(2024, 1, 6, 12, 0), at(2024, 1, 8, 9, 0)),  # Saturday -> Monday
    ("*/15 9-17 * * 1-5", at(2024, 1, 8, 9, 50), at(2024, 1, 8, 10, 0)),
    ("0 0 1 1 *", at(2024, 3, 1), at(2025, 1, 1)),
    ("@hourly", at(2024, 3, 1, 5, 59), at(2024, 3, 1, 6, 0)),
    ("0 12 13 * 5", at(2024, 9, 1), at(2024, 9, 6, 12)),  # both day fields: either matches (Friday 6th)
    ("30 2 29 feb *", at(2024, 3, 1), at(2028, 2, 29, 2, 30)),
    ("5/20 * * * *", at(2024, 3, 1, 5, 26), at(2024, 3, 1, 5, 45)),
    ("0 0 * * 7", at(2024, 1, 1), at(2024, 1, 7)),  # 7 is Sunday too
])
def test_next_after(expr, start, want):
    assert Schedule(expr).next_after(start) == want


@pytest.mark.parametrize("expr", ["* * * *", "61 * * * *", "* * * * * *", "a b c d e", "*/0 * * * *", "5-1 * * * *"])
def test_bad_schedules(expr):
    with pytest.raises(CronError):
        Schedule(expr)


def test_most_recent_skips_missed_times():
    t, missed = Schedule("* * * * *").most_recent(at(2024, 1, 1, 10, 0), at(2024, 1, 1, 10, 5) + 30)
    assert t == at(2024, 1, 1, 10, 5) and missed == 4
    assert Schedule("0 * * * *").most_recent(at(2024, 1, 1, 10, 0), at(2024, 1, 1, 10, 59)) == (None, 0)


@pytest.fixture
def kit(tmp_path):
    k = make_kit(tmp_path, now=at(2024, 1, 1, 10, 0) + 5)
    yield k
    k.store.close()


def controller(kit):
    return kit.run(CronJobController(kit.store, kit.objects, kit.clock))


def cronjob(kit, **spec) -> dict:
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at(2024, 1, 1, 10, 0) - 30))
    body = {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "tick", "namespace": "default", "creationTimestamp": created},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}}}},
                **spec}}
    return kit.store.create(body)


def jobs(kit) -> list[dict]:
    return kit.store.list("Job", "default")


def finish(kit, name: str, how: str = "Complete", at_iso: str = "2024-01-01T10:00:00Z") -> None:
    job = kit.store.get("Job", "default", name)
    st = {"conditions": set_condition([], how, "True"), "startTime": at_iso, "completionTime": at_iso}
    kit.store.update_status("Job", "default", name, st)
    assert job


def test_fires_once_per_minute_named_by_the_scheduled_minute(kit):
    ctl = controller(kit)
    cronjob(kit)
    sync(ctl)
    sync(ctl)  # level-triggered: a second pass at the same time starts nothing more
    names = [j["metadata"]["name"] for j in jobs(kit)]
    assert names == [f"tick-{int(at(2024, 1, 1, 10, 0) // 60)}"]
    job = jobs(kit)[0]
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    cj = kit.store.get("CronJob", "default", "tick")
    assert cj["status"]["active"][0]["name"] == names[0]
    assert cj["status"]["lastScheduleTime"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at(2024, 1, 1, 10, 0)))
    kit.clock.advance(60)
    sync(ctl)
    assert len(jobs(kit)) == 2  # Allow: a second run while the first is active


def test_restart_after_a_crash_does_not_start_twice(kit):
    cronjob(kit)
    sync(controller(kit))
    # as if the engine died before lastScheduleTime was written
    kit.store.update_status("CronJob", "default", "tick", {})
    sync(controller(kit))
    assert len(jobs(kit)) == 1


def test_forbid_and_replace(kit):
    ctl = controller(kit)
    cronjob(kit, concurrencyPolicy="Forbid")
    sync(ctl)
    kit.clock.advance(60)
    sync(ctl)
    assert len(jobs(kit)) == 1  # the first one is still active
    finish(kit, jobs(kit)[0]["metadata"]["name"])
    sync(ctl)
    assert len(jobs(kit)) == 2  # 10:01 starts late, once the active one is done
    cj = kit.store.get("CronJob", "default", "tick")
    cj["spec"]["concurrencyPolicy"] = "Replace"
    kit.store.update(cj, check_rv=False)
    kit.clock.advance(60)
    first_active = [j["metadata"]["name"] for j in jobs(kit) if not j.get("status")]
    sync(ctl)
    names = {j["metadata"]["name"] for j in jobs(kit)}
    assert not set(first_active) & names and len(names) == 2


def test_suspend_and_starting_deadline(kit):
    ctl = controller(kit)
    cronjob(kit, suspend=True, startingDeadlineSeconds=20)
    sync(ctl)
    assert not jobs(kit)
    cj = kit.store.get("CronJob", "default", "tick")
    cj["spec"]["suspend"] = False
    kit.store.update(cj, check_rv=False)
    kit.clock.advance(at(2024, 1, 1, 10, 3) + 30 - kit.clock.now())  # 10:03 was 30 s ago: past the 20 s deadline
    sync(ctl)
    assert not jobs(kit)
    assert any(e["reason"] == "MissSchedule" for e in kit.store.list("Event", "default"))
    kit.clock.advance(at(2024, 1, 1, 10, 4) + 10 - kit.clock.now())
    sync(ctl)
    assert [j["metadata"]["name"] for j in jobs(kit)] == [f"tick-{int(at(2024, 1, 1, 10, 4) // 60)}"]


def test_history_limits(kit):
    ctl = controller(kit)
    cronjob(kit, successfulJobsHistoryLimit=2, failedJobsHistoryLimit=1)
    for i in range(6):
        sync(ctl)
        name = f"tick-{int((at(2024, 1, 1, 10, 0) + 60 * i) // 60)}"
        finish(kit, name, "Complete" if i % 2 == 0 else "Failed", f"2024-01-01T10:0{i}:30Z")
        kit.clock.advance(60)
    sync(ctl)
    sync(kit.run(GarbageCollector(kit.store, kit.objects)))
    left = sorted(j["metadata"]["name"] for j in jobs(kit))
    base = int(at(2024, 1, 1, 10, 0) // 60)
    # successes at +0,+2,+4 keep the newest two; failures at +1,+3,+5 keep one; +6 is running
    assert left == sorted([f"tick-{base + 2}", f"tick-{base + 4}", f"tick-{base + 5}", f"tick-{base + 6}"])
    cj = kit.store.get("CronJob", "default", "tick")
    assert cj["status"]["lastSuccessfulTime"] == "2024-01-01T10:04:30Z"


def test_the_next_run_is_a_requeue_after_not_a_poll(kit):
    ctl = controller(kit)
    cronjob(kit, schedule="*/5 * * * *")
    sync(ctl)  # 10:00:05: the 10:00 run starts
    assert len(jobs(kit)) == 1
    kit.clock.advance(60 * 4 + 50)  # 10:04:55: nothing due, and nothing to reconcile
    assert ctl.run_ready() == 0 and len(jobs(kit)) == 1
    kit.clock.advance(10)  # 10:05:05: the key the first reconcile requeued comes due by itself
    assert ctl.run_ready() == 1
    assert [j["metadata"]["name"] for j in jobs(kit)][-1] == f"tick-{int(at(2024, 1, 1, 10, 5) // 60)}"
