"""CronJob schedules and the controller's decisions, on a fake clock (no Docker)."""

from __future__ import annotations

import time

import pytest

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


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def cronjob(cluster, **spec) -> dict:
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at(2024, 1, 1, 10, 0) - 30))
    body = {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "tick", "namespace": "default", "creationTimestamp": created},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}}}},
                **spec}}
    return cluster.store.create(body)


def jobs(cluster) -> list[dict]:
    return cluster.store.list("Job", "default")


def finish(cluster, name: str, how: str = "Complete", at_iso: str = "2024-01-01T10:00:00Z") -> None:
    job = cluster.store.get("Job", "default", name)
    st = {"conditions": set_condition([], how, "True"), "startTime": at_iso, "completionTime": at_iso}
    cluster.store.update_status("Job", "default", name, st)
    assert job


def test_fires_once_per_minute_named_by_the_scheduled_minute(cluster):
    clock = Clock(at(2024, 1, 1, 10, 0) + 5)
    ctl = CronJobController(cluster, clock=clock)
    cronjob(cluster)
    ctl.reconcile()
    ctl.reconcile()  # level-triggered: a second pass at the same time starts nothing more
    names = [j["metadata"]["name"] for j in jobs(cluster)]
    assert names == [f"tick-{int(at(2024, 1, 1, 10, 0) // 60)}"]
    job = jobs(cluster)[0]
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    cj = cluster.store.get("CronJob", "default", "tick")
    assert cj["status"]["active"][0]["name"] == names[0]
    assert cj["status"]["lastScheduleTime"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at(2024, 1, 1, 10, 0)))
    clock.t += 60
    ctl.reconcile()
    assert len(jobs(cluster)) == 2  # Allow: a second run while the first is active


def test_restart_after_a_crash_does_not_start_twice(cluster):
    clock = Clock(at(2024, 1, 1, 10, 0) + 5)
    cronjob(cluster)
    CronJobController(cluster, clock=clock).reconcile()
    # as if the engine died before lastScheduleTime was written
    cluster.store.update_status("CronJob", "default", "tick", {})
    CronJobController(cluster, clock=clock).reconcile()
    assert len(jobs(cluster)) == 1


def test_forbid_and_replace(cluster):
    clock = Clock(at(2024, 1, 1, 10, 0) + 5)
    ctl = CronJobController(cluster, clock=clock)
    cronjob(cluster, concurrencyPolicy="Forbid")
    ctl.reconcile()
    clock.t += 60
    ctl.reconcile()
    assert len(jobs(cluster)) == 1  # the first one is still active
    finish(cluster, jobs(cluster)[0]["metadata"]["name"])
    ctl.reconcile()
    assert len(jobs(cluster)) == 2  # 10:01 starts late, once the active one is done
    cj = cluster.store.get("CronJob", "default", "tick")
    cj["spec"]["concurrencyPolicy"] = "Replace"
    cluster.store.update(cj, check_rv=False)
    clock.t += 60
    first_active = [j["metadata"]["name"] for j in jobs(cluster) if not j.get("status")]
    ctl.reconcile()
    names = {j["metadata"]["name"] for j in jobs(cluster)}
    assert not set(first_active) & names and len(names) == 2


def test_suspend_and_starting_deadline(cluster):
    clock = Clock(at(2024, 1, 1, 10, 0) + 5)
    ctl = CronJobController(cluster, clock=clock)
    cronjob(cluster, suspend=True, startingDeadlineSeconds=20)
    ctl.reconcile()
    assert not jobs(cluster)
    cj = cluster.store.get("CronJob", "default", "tick")
    cj["spec"]["suspend"] = False
    cluster.store.update(cj, check_rv=False)
    clock.t = at(2024, 1, 1, 10, 3) + 30  # 10:03 was 30 s ago: past the 20 s deadline
    ctl.reconcile()
    assert not jobs(cluster)
    assert any(e["reason"] == "MissSchedule" for e in cluster.store.list("Event", "default"))
    clock.t = at(2024, 1, 1, 10, 4) + 10
    ctl.reconcile()
    assert [j["metadata"]["name"] for j in jobs(cluster)] == [f"tick-{int(at(2024, 1, 1, 10, 4) // 60)}"]


def test_history_limits(cluster):
    clock = Clock(at(2024, 1, 1, 10, 0) + 5)
    ctl = CronJobController(cluster, clock=clock)
    cronjob(cluster, successfulJobsHistoryLimit=2, failedJobsHistoryLimit=1)
    for i in range(6):
        ctl.reconcile()
        name = f"tick-{int((at(2024, 1, 1, 10, 0) + 60 * i) // 60)}"
        finish(cluster, name, "Complete" if i % 2 == 0 else "Failed", f"2024-01-01T10:0{i}:30Z")
        clock.t += 60
    ctl.reconcile()
    GarbageCollector(cluster).reconcile()
    left = sorted(j["metadata"]["name"] for j in jobs(cluster))
    base = int(at(2024, 1, 1, 10, 0) // 60)
    # successes at +0,+2,+4 keep the newest two; failures at +1,+3,+5 keep one; +6 is running
    assert left == sorted([f"tick-{base + 2}", f"tick-{base + 4}", f"tick-{base + 5}", f"tick-{base + 6}"])
    cj = cluster.store.get("CronJob", "default", "tick")
    assert cj["status"]["lastSuccessfulTime"] == "2024-01-01T10:04:30Z"
