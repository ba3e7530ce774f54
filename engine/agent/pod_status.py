"""Pod status as Kubernetes reports it, computed from what the node agent knows.

Pure: given the pod and the per-container state the worker keeps (`CState`), return
`.status` (phase, conditions, container statuses with waiting/running/terminated and
lastState) and whether the phase is final. No Docker and no store here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..controllers.podutil import set_condition
from ..qos import qos_class
from ..store import now_iso


@dataclass
class CState:
    name: str
    id: str | None = None
    prev_id: str | None = None
    restarts: int = 0
    backoff: float = 0.0
    backoff_until: float = 0.0
    last_state: dict = field(default_factory=dict)
    terminated: dict | None = None      # final state, when not restarting
    waiting: tuple[str, str] | None = None
    ready: bool = False
    started: bool = False
    started_at: str | None = None
    probe_task: asyncio.Task | None = None
    image_id: str = ""
    # what the worker last saw of `id` in Docker, so an idle pass need not inspect it:
    alive: bool = False                 # running at the last inspect (or just started)
    seen_at: float = 0.0                # time.monotonic() of that inspect
    started_wall: float = 0.0           # its StartedAt, time.time() scale (back-off reset)
    recheck: bool = False               # a Docker event for the pod came after that inspect


def terminated_state(info: dict) -> dict:
    """A Docker inspect of an exited container as Kubernetes' `state.terminated`."""
    st = info["State"]
    code = st.get("ExitCode", 0)
    reason = "OOMKilled" if st.get("OOMKilled") else ("Completed" if code == 0 else "Error")
    return {"terminated": {"exitCode": code, "reason": reason, "startedAt": st.get("StartedAt", "")[:19] + "Z",
                           "finishedAt": st.get("FinishedAt", "")[:19] + "Z", "containerID": f"docker://{info['Id']}"}}


def container_status(c: dict, st: CState) -> dict:
    out = {"name": c["name"], "image": c["image"], "imageID": st.image_id, "restartCount": st.restarts,
           "ready": bool(st.ready and st.id and not st.waiting), "started": bool(st.started and st.id),
           "containerID": f"docker://{st.id}" if st.id else ""}
    if st.waiting:
        out["state"] = {"waiting": {"reason": st.waiting[0], "message": st.waiting[1]}}
        out["ready"] = False
    elif st.terminated:
        out["state"] = st.terminated
        out["ready"] = False
    elif st.id:
        out["state"] = {"running": {"startedAt": st.started_at or now_iso()}}
    else:
        out["state"] = {"waiting": {"reason": "ContainerCreating"}}
    if st.last_state:
        out["lastState"] = st.last_state
    return out


def pod_status(pod: dict, containers: dict[str, CState], init_done: set[str], *, ip: str,
               start_time: str | None) -> tuple[dict, str | None]:
    """(status, final phase or None)."""
    spec = pod["spec"]
    old = pod.get("status") or {}
    state = lambda c: containers.get(c["name"], CState(c["name"]))  # noqa: E731
    inits = [container_status(c, state(c)) for c in spec.get("initContainers") or []]
    for s, c in zip(inits, spec.get("initContainers") or []):
        if c["name"] in init_done:
            s["state"] = containers[c["name"]].terminated or s["state"]
    apps = [container_status(c, state(c)) for c in spec["containers"]]
    initialized = len(init_done) == len(spec.get("initContainers") or [])
    all_ready = initialized and all(s["ready"] for s in apps)
    terms = [s["state"].get("terminated") for s in apps]
    policy = spec.get("restartPolicy", "Always")
    phase = "Pending"
    failed_init = any(s["state"].get("terminated", {}).get("exitCode", 0) != 0 for s in inits) and policy == "Never"
    if failed_init:
        phase = "Failed"
    elif all(terms):
        phase = "Succeeded" if all(t["exitCode"] == 0 for t in terms) else "Failed"
    elif initialized and any("running" in s["state"] or s.get("lastState") for s in apps):
        phase = "Running"
    conds = old.get("conditions") or []
    conds = set_condition(conds, "PodScheduled", "True")
    conds = set_condition(conds, "Initialized", "True" if initialized else "False",
                          "" if initialized else "ContainersNotInitialized")
    conds = set_condition(conds, "ContainersReady", "True" if all_ready else "False",
                          "" if all_ready else "ContainersNotReady")
    conds = set_condition(conds, "Ready", "True" if all_ready else "False",
                          "" if all_ready else "ContainersNotReady")
    if phase == "Succeeded":
        conds = set_condition(conds, "Ready", "False", "PodCompleted")
    status = {"phase": phase, "conditions": conds, "hostIP": "127.0.0.1", "podIP": ip,
              "podIPs": [{"ip": ip}] if ip else [], "startTime": start_time,
              "containerStatuses": apps, "qosClass": qos_class(pod)}
    if inits:
        status["initContainerStatuses"] = inits
    return status, (phase if phase in ("Succeeded", "Failed") else None)
