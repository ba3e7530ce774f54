"""kubectl's printers for the workload kinds: Deployment, ReplicaSet, StatefulSet,
DaemonSet (`apps/v1`), Job and CronJob (`batch/v1`), as in `printers.go`.

Fields the API server would default (`spec.replicas` 1, a CronJob's `suspend` false) get
that default here, since kubedeck's store keeps objects as written.
"""

from __future__ import annotations

from datetime import datetime

from . import format as fmt
from .columns import (
    AGE,
    CONTAINERS,
    IMAGES,
    Column,
    Printer,
    containers_and_images,
    created,
    name,
    name_column,
    register,
)
from .descriptions import DOC


def _template_spec(obj: dict) -> dict:
    return (((obj.get("spec") or {}).get("template") or {}).get("spec")) or {}


def _replicas(obj: dict) -> int:
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def _status(obj: dict, key: str) -> int:
    return int((obj.get("status") or {}).get(key) or 0)


def _deployment_cells(d: dict, now: datetime) -> list:
    return [name(d), f"{_status(d, 'readyReplicas')}/{_replicas(d)}", _status(d, "updatedReplicas"),
            _status(d, "availableReplicas"), fmt.age(created(d), now), *containers_and_images(_template_spec(d)),
            fmt.selector_string((d.get("spec") or {}).get("selector"))]


register(Printer("Deployment", (
    name_column(),
    Column("Ready", description="Number of the pod with ready state"),
    Column("Up-to-date", description=DOC["deploy.updatedReplicas"]),
    Column("Available", description=DOC["deploy.availableReplicas"]),
    AGE, CONTAINERS, IMAGES,
    Column("Selector", priority=1, description=DOC["deploy.selector"]),
), _deployment_cells))


def _label_selector(selector: dict | None) -> str:
    """`metav1.FormatLabelSelector`: `<none>` for an empty selector."""
    return fmt.selector_string(selector) or "<none>"


def _replicaset_cells(rs: dict, now: datetime) -> list:
    return [name(rs), _replicas(rs), _status(rs, "replicas"), _status(rs, "readyReplicas"), fmt.age(created(rs), now),
            *containers_and_images(_template_spec(rs)), _label_selector((rs.get("spec") or {}).get("selector"))]


register(Printer("ReplicaSet", (
    name_column(),
    Column("Desired", type="integer", description=DOC["rs.replicas"]),
    Column("Current", type="integer", description=DOC["rs.status.replicas"]),
    Column("Ready", type="integer", description=DOC["rs.readyReplicas"]),
    AGE, CONTAINERS, IMAGES,
    Column("Selector", priority=1, description=DOC["rs.selector"]),
), _replicaset_cells))

register(Printer("StatefulSet", (
    name_column(), Column("Ready", description="Number of the pod with ready state"), AGE, CONTAINERS, IMAGES,
), lambda s, now: [name(s), f"{_status(s, 'readyReplicas')}/{_replicas(s)}", fmt.age(created(s), now),
                   *containers_and_images(_template_spec(s))]))


def _daemonset_cells(ds: dict, now: datetime) -> list:
    return [name(ds), _status(ds, "desiredNumberScheduled"), _status(ds, "currentNumberScheduled"),
            _status(ds, "numberReady"), _status(ds, "updatedNumberScheduled"), _status(ds, "numberAvailable"),
            fmt.format_labels(_template_spec(ds).get("nodeSelector")), fmt.age(created(ds), now),
            *containers_and_images(_template_spec(ds)), _label_selector((ds.get("spec") or {}).get("selector"))]


register(Printer("DaemonSet", (
    name_column(),
    Column("Desired", type="integer", description=DOC["ds.desired"]),
    Column("Current", type="integer", description=DOC["ds.current"]),
    Column("Ready", type="integer", description=DOC["ds.ready"]),
    Column("Up-to-date", type="integer", description=DOC["ds.updated"]),
    Column("Available", type="integer", description=DOC["ds.available"]),
    Column("Node Selector", description=DOC["nodeSelector"]),
    AGE, CONTAINERS, IMAGES,
    Column("Selector", priority=1, description=DOC["ds.selector"]),
), _daemonset_cells))


def job_status(job: dict) -> str:
    """kubectl's Job STATUS: Complete, Failed, Terminating, Suspended, FailureTarget or Running."""
    conditions = {c.get("type"): c.get("status") for c in (job.get("status") or {}).get("conditions") or []}
    if conditions.get("Complete") == "True":
        return "Complete"
    if conditions.get("Failed") == "True":
        return "Failed"
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    if conditions.get("Suspended") == "True":
        return "Suspended"
    if conditions.get("FailureTarget") == "True":
        return "FailureTarget"
    return "Running"


def _job_cells(job: dict, now: datetime) -> list:
    spec, status = job.get("spec") or {}, job.get("status") or {}
    succeeded = int(status.get("succeeded") or 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif int(spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    duration = ""
    start = fmt.since(status.get("startTime"), now)
    if start is not None:
        end = fmt.since(status.get("completionTime"), now)
        duration = fmt.human_duration(start - (end or 0))
    return [name(job), job_status(job), completions, duration, fmt.age(created(job), now),
            *containers_and_images(_template_spec(job)), _label_selector(spec.get("selector"))]


register(Printer("Job", (
    name_column(),
    Column("Status", description="Status of the job."),
    Column("Completions", description=DOC["job.succeeded"]),
    Column("Duration", description="Time required to complete the job."),
    AGE, CONTAINERS, IMAGES,
    Column("Selector", priority=1, description=DOC["job.selector"]),
), _job_cells))


def _cronjob_cells(cj: dict, now: datetime) -> list:
    spec, status = cj.get("spec") or {}, cj.get("status") or {}
    last = status.get("lastScheduleTime")
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return [name(cj), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            str(bool(spec.get("suspend"))), len(status.get("active") or []),
            fmt.age(last, now) if last else "<none>", fmt.age(created(cj), now),
            *containers_and_images((job_spec.get("template") or {}).get("spec")),
            _label_selector(job_spec.get("selector"))]


register(Printer("CronJob", (
    name_column(),
    Column("Schedule", description=DOC["cj.schedule"]),
    Column("Timezone", description=DOC["cj.timeZone"]),
    Column("Suspend", type="boolean", description=DOC["cj.suspend"]),
    Column("Active", type="integer", description=DOC["cj.active"]),
    Column("Last Schedule", description=DOC["cj.lastScheduleTime"]),
    AGE, CONTAINERS, IMAGES,
    Column("Selector", priority=1, description=DOC["job.selector"]),
), _cronjob_cells))
