"""CronJob controller and a small 5-field cron parser.

Follows Kubernetes' cronjob controller (v2), level-triggered and keyed by CronJob (its
Jobs wake it through their ownerReferences); each reconcile requeues the CronJob for its
next scheduled time, so no pass polls the clock:
- the most recent scheduled time not yet handled is found from `status.lastScheduleTime`
  (or the CronJob's creation) up to now; missed earlier times are skipped, as Kubernetes
  starts only the latest one;
- a time older than `startingDeadlineSeconds` is missed (event MissSchedule);
- the Job is named `<cronjob>-<scheduled time in minutes since the epoch>`, so a restart
  in the middle of a pass can never start the same run twice;
- concurrencyPolicy Allow (start anyway), Forbid (skip while a Job is active),
  Replace (delete the active Jobs, then start);
- `suspend` stops new runs; finished Jobs beyond successfulJobsHistoryLimit (3) and
  failedJobsHistoryLimit (1) are deleted, oldest first (their pods go with them).

Schedules: minute hour day-of-month month day-of-week, with `*`, lists, ranges, steps,
month and weekday names, `?` as `*`, and @yearly/@annually/@monthly/@weekly/@daily/
@midnight/@hourly. As in cron, when both day fields are restricted a day matching either
one fires. Times are local unless `spec.timeZone` names an IANA zone.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

from ..clock import Clock, iso as _iso
from ..store import Store, StoreError
from .base import Controller, Key, Objects
from .podutil import is_terminating, owned_by, owner_ref, parse_time

SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
          "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
FIELDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, MONTHS), (0, 7, DAYS))


class CronError(ValueError):
    pass


def _field(text: str, lo: int, hi: int, names: dict) -> set[int]:
    out: set[int] = set()
    for part in text.lower().split(","):
        step = 1
        if "/" in part:
            part, s = part.split("/", 1)
            if not s.isdigit() or int(s) == 0:
                raise CronError(f"bad step {s!r}")
            step = int(s)
        if part in ("*", "?"):
            a, b = lo, hi
        else:
            ends = part.split("-", 1)
            try:
                vals = [names[e] if e in names else int(e) for e in ends]
            except ValueError:
                raise CronError(f"bad value {part!r}") from None
            a, b = (vals[0], vals[1]) if len(vals) == 2 else (vals[0], hi if step > 1 else vals[0])
            if not (lo <= a <= hi and lo <= b <= hi) or a > b:
                raise CronError(f"{part!r} is out of range {lo}-{hi}")
        out.update(range(a, b + 1, step))
    return out


class Schedule:
    def __init__(self, expr: str, tz=None):
        expr = MACROS.get(expr.strip(), expr.strip())
        parts = expr.split()
        if len(parts) != 5:
            raise CronError(f"expected exactly 5 fields, found {len(parts)}: {expr!r}")
        self.minute, self.hour, self.dom, self.month, dow = (
            _field(p, lo, hi, names) for p, (lo, hi, names) in zip(parts, FIELDS))
        self.dow = {d % 7 for d in dow}
        self.dom_star = parts[2][:1] in ("*", "?")
        self.dow_star = parts[4][:1] in ("*", "?")
        self.tz = tz

    def _day_ok(self, d: datetime) -> bool:
        dom = d.day in self.dom
        dow = (d.weekday() + 1) % 7 in self.dow
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def next_after(self, t: float) -> float:
        """The first scheduled time strictly after unix time t."""
        d = datetime.fromtimestamp(t, self.tz)  # naive local time when no zone is named
        d = d.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = d + timedelta(days=366 * 5)
        while d < limit:
            if d.month not in self.month:
                d = (d.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_ok(d):
                d = d.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if d.hour not in self.hour:
                d = d.replace(minute=0) + timedelta(hours=1)
                continue
            if d.minute not in self.minute:
                d += timedelta(minutes=1)
                continue
            return d.timestamp()
        raise CronError("the schedule never fires")

    def most_recent(self, earliest: float, now: float) -> tuple[float | None, int]:
        """(latest scheduled time in (earliest, now], how many were missed before it)."""
        t, last, missed = earliest, None, 0
        while True:
            nxt = self.next_after(t)
            if nxt > now:
                return last, max(0, missed - 1)
            last, t, missed = nxt, nxt, missed + 1
            if missed == 1000:  # a long outage: skip ahead (only the latest time is started)
                t = max(t, now - 86400)


def parse_schedule(cj: dict) -> Schedule:
    tz = None
    if cj["spec"].get("timeZone"):
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(cj["spec"]["timeZone"])
    return Schedule(cj["spec"]["schedule"], tz)


def job_finished(job: dict) -> str | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c["type"] in ("Complete", "Failed") and c["status"] == "True":
            return c["type"]
    return None


class CronJobController(Controller):
    kinds = ("CronJob",)
    component = "cronjob-controller"

    def __init__(self, store: Store, objects: Objects, clock: Clock):
        super().__init__(store)
        self.objects = objects
        self.clock = clock
        self._bad: dict[str, str] = {}

    def reconcile(self, key: Key) -> float | None:
        cj = self.store.peek(*key)
        if cj is None or is_terminating(cj):
            return None
        uid = cj["metadata"]["uid"]
        self.sync(cj, [j for j in self.store.dependents(uid, "Job") if owned_by(j, uid)])
        return self._next_run(cj)

    def _next_run(self, cj: dict) -> float | None:
        """Seconds until the next scheduled time (a Forbid run waiting for its active
        Job is woken by that Job's events), or None when nothing is scheduled."""
        if cj["spec"].get("suspend"):
            return None
        try:
            now = self.clock.now()
            return parse_schedule(cj).next_after(now) - now
        except (CronError, ValueError, KeyError):
            return None

    def sync(self, cj: dict, jobs: list[dict]) -> None:
        meta, spec = cj["metadata"], cj["spec"]
        ns, name = meta["namespace"], meta["name"]
        status = copy.deepcopy(cj.get("status") or {})
        active = [j for j in jobs if not job_finished(j) and not is_terminating(j)]
        self._cleanup(cj, jobs)
        done_ok = [j for j in jobs if job_finished(j) == "Complete"]
        if done_ok:
            last_ok = max((j.get("status") or {}).get("completionTime") or "" for j in done_ok)
            if last_ok and last_ok > status.get("lastSuccessfulTime", ""):
                status["lastSuccessfulTime"] = last_ok
        try:
            sched = parse_schedule(cj)
        except (CronError, ValueError, KeyError) as e:
            if self._bad.get(meta["uid"]) != str(e):
                self._bad[meta["uid"]] = str(e)
                self.objects.record_event(cj, "UnparseableSchedule", f"unparseable schedule: {e}", type="Warning", component=self.component)
            return self._write(cj, status, active)
        if spec.get("suspend"):
            return self._write(cj, status, active)
        now = self.clock.now()
        earliest = parse_time(status.get("lastScheduleTime") or meta.get("creationTimestamp"))
        t, missed = sched.most_recent(earliest, now)
        if t is None:
            return self._write(cj, status, active)
        deadline = spec.get("startingDeadlineSeconds")
        job_name = f"{name}-{int(t // 60)}"
        if any(j["metadata"]["name"] == job_name for j in jobs) or self.store.peek("Job", ns, job_name):
            status["lastScheduleTime"] = _iso(t)  # already started (perhaps before a restart)
            return self._write(cj, status, active)
        if deadline is not None and t + int(deadline) < now:
            self.objects.record_event(cj, "MissSchedule", f"Missed scheduled time to start a job: {_iso(t)}",
                                type="Warning", component=self.component)
            status["lastScheduleTime"] = _iso(t)
            return self._write(cj, status, active)
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and active:
            return self._write(cj, status, active)  # retried on the next pass, until the deadline
        if policy == "Replace":
            for j in active:
                try:
                    self.objects.delete("Job", ns, j["metadata"]["name"], propagation="Background")
                    self.objects.record_event(cj, "SuccessfulDelete", f"Deleted job {j['metadata']['name']}", component=self.component)
                except StoreError:
                    pass
            active = []
        job = self._job(cj, job_name, t)
        try:
            created = self.store.create(job)
        except StoreError as e:
            self.objects.record_event(cj, "FailedCreate", f"Error creating job: {e.message}", type="Warning", component=self.component)
            return self._write(cj, status, active)
        self.objects.record_event(cj, "SuccessfulCreate", f"Created job {job_name}", component=self.component)
        active.append(created)
        status["lastScheduleTime"] = _iso(t)
        self._write(cj, status, active)

    def _job(self, cj: dict, name: str, t: float) -> dict:
        tmpl = copy.deepcopy(cj["spec"].get("jobTemplate") or {})
        tmeta = tmpl.get("metadata") or {}
        return {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": name, "namespace": cj["metadata"]["namespace"],
                             "labels": dict(tmeta.get("labels") or {}),
                             "annotations": {**(tmeta.get("annotations") or {}), SCHEDULED: _iso(t)},
                             "ownerReferences": [owner_ref(cj)]},
                "spec": tmpl.get("spec") or {}}

    def _cleanup(self, cj: dict, jobs: list[dict]) -> None:
        for kind, limit_key, default in (("Complete", "successfulJobsHistoryLimit", 3),
                                         ("Failed", "failedJobsHistoryLimit", 1)):
            done = [j for j in jobs if job_finished(j) == kind and not is_terminating(j)]
            limit = int(cj["spec"].get(limit_key, default))
            done.sort(key=lambda j: ((j.get("status") or {}).get("startTime") or "", j["metadata"]["name"]))
            for j in done[: max(0, len(done) - limit)]:
                try:
                    self.objects.delete("Job", j["metadata"]["namespace"], j["metadata"]["name"],
                                        propagation="Background")
                except StoreError:
                    pass

    def _write(self, cj: dict, status: dict, active: list[dict]) -> None:
        refs = [{"apiVersion": "batch/v1", "kind": "Job", "name": j["metadata"]["name"],
                 "namespace": j["metadata"]["namespace"], "uid": j["metadata"]["uid"]}
                for j in sorted(active, key=lambda j: j["metadata"]["name"])]
        if refs:
            status["active"] = refs
        else:
            status.pop("active", None)
        self.store.update_status("CronJob", cj["metadata"]["namespace"], cj["metadata"]["name"], status)
