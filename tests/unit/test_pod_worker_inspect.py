"""A pod worker asks Docker about its containers only when it cannot know their state
(issue 18: at 500 idle pods an inspect on every pass was most of the engine's idle CPU),
and removes a deleted pod's containers by the ids it knows (a label search per pod made
dockerd look at every container, 500 times at a scale-down of 500). No Docker: the
Docker side is a fake that counts inspects and says what a container is."""

from __future__ import annotations

import time

import pytest

from kubedeck.engine.agent import pod_worker
from kubedeck.engine.agent.agent import NodeAgent
from kubedeck.engine.agent.pod_worker import PodWorker
from kubedeck.engine.labels import L_ATTEMPT, L_CONTAINER, L_ROLE, L_UID


class FakeDocker:
    """Containers by id: {"running": bool, "code": int}; counts inspects and starts."""

    network = "kubedeck-test"

    def __init__(self) -> None:
        self.state: dict[str, dict] = {}
        self.inspects = 0
        self.started: list[str] = []
        self.during_inspect = None  # called inside an inspect (an event arriving meanwhile)
        self.fail_runs = 0  # run_container calls still to fail
        self.stops: list[str] = []
        self.removed: list[tuple[list[str], bool]] = []  # remove_pod calls: (ids, sweep)

    async def inspect(self, cid: str) -> dict | None:
        self.inspects += 1
        if self.during_inspect:
            self.during_inspect()
        c = self.state.get(cid)
        if c is None:
            return None
        return {"Id": cid, "State": {"Running": c["running"], "ExitCode": c["code"], "OOMKilled": False,
                                     "StartedAt": "2026-12-01T10:00:00.0Z", "FinishedAt": "2026-12-01T10:00:01.0Z"},
                "NetworkSettings": {"Networks": {self.network: {"IPAddress": "10.1.0.7"}}}}

    def ip_of(self, info: dict | None) -> str:
        return ((info or {}).get("NetworkSettings") or {}).get("Networks", {}).get(self.network, {}).get("IPAddress", "")

    async def ensure_image(self, image: str, policy: str) -> tuple[bool, str]:
        return True, ""

    async def run_container(self, name: str, **kwargs) -> str:
        if self.fail_runs:
            self.fail_runs -= 1
            raise RuntimeError("start failed")
        cid = f"c{len(self.started)}"
        self.started.append(cid)
        self.state[cid] = {"running": True, "code": 0}
        return cid, "10.1.0.7"

    async def remove(self, cid: str) -> None:
        self.state.pop(cid, None)

    async def stop(self, cid: str, grace: int) -> None:
        self.stops.append(cid)

    async def remove_pod(self, uid: str, ids: list[str], *, sweep: bool) -> None:
        self.removed.append((sorted(ids), sweep))

    def volume_path_sync(self, name: str) -> str:
        raise AssertionError("no volumes here")


@pytest.fixture
def worker(cluster):
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "kubedeck"}}
    cluster.store.create(node)
    pod = cluster.store.create({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"nodeName": "kubedeck", "containers": [{"name": "main", "image": "busybox:1.36"}]}})
    agent = NodeAgent(cluster.node_context())
    agent.docker.pool.shutdown(wait=False)
    agent.docker = FakeDocker()
    w = PodWorker(agent, pod["metadata"]["uid"], "default", "web")
    agent.workers[w.uid] = w
    return w


def phase(w: PodWorker) -> str:
    return w.agent.ctx.store.peek("Pod", "default", "web")["status"]["phase"]


async def test_an_idle_pod_makes_no_docker_call_per_pass(worker):
    d = worker.agent.docker
    await worker.sync()
    assert d.started == ["c0"] and phase(worker) == "Running"
    # the IP comes with the start (one Docker thread call), not from an inspect queued apart
    assert d.inspects == 0
    assert worker.agent.ctx.store.peek("Pod", "default", "web")["status"]["podIP"] == "10.1.0.7"
    before = d.inspects
    for _ in range(5):
        await worker.sync()
    assert d.inspects == before, "an idle pass inspected a container no event was about"


async def test_a_docker_event_makes_the_next_pass_look_and_restart(worker):
    d = worker.agent.docker
    await worker.sync()
    d.state["c0"] = {"running": False, "code": 1}
    worker.agent._on_docker_event({"Action": "die", "Actor": {"Attributes": {
        "io.kubernetes.pod.uid": worker.uid}}})
    assert worker.wake.is_set()
    await worker.sync()
    assert d.started == ["c0", "c1"], "the dead container was not replaced"
    st = worker.containers["main"]
    assert st.restarts == 1 and st.last_state["terminated"]["exitCode"] == 1
    # a container removed behind our back (docker rm -f) is seen on its destroy event
    d.state.pop("c1")
    worker.agent._on_docker_event({"Action": "destroy", "Actor": {"Attributes": {
        "io.kubernetes.pod.uid": worker.uid}}})
    await worker.sync()
    assert st.restarts == 2 and st.last_state["terminated"]["reason"] == "ContainerStatusUnknown"


async def test_an_event_during_the_inspect_is_not_lost(worker):
    d = worker.agent.docker
    await worker.sync()
    worker.docker_changed()
    d.during_inspect = lambda: (setattr(d, "during_inspect", None), worker.docker_changed())
    await worker.sync()
    n = d.inspects
    await worker.sync()
    assert d.inspects == n + 1, "the event that came during the inspect was not looked at"
    await worker.sync()
    assert d.inspects == n + 1


async def test_the_safety_net_looks_after_recheck_every(worker, monkeypatch):
    d = worker.agent.docker
    await worker.sync()
    n = d.inspects
    worker.containers["main"].seen_at = time.monotonic() - pod_worker.RECHECK_EVERY - 1
    await worker.sync()
    assert d.inspects == n + 1
    await worker.sync()
    assert d.inspects == n + 1


async def test_a_reconnected_event_stream_makes_every_pod_look(worker):
    d = worker.agent.docker
    await worker.sync()
    d.state["c0"] = {"running": False, "code": 0}
    worker.agent._on_events_connected()  # the die happened while the stream was away
    await worker.sync()
    assert d.started == ["c0", "c1"]


async def test_a_deleted_pod_goes_by_the_ids_its_worker_knows(worker):
    d = worker.agent.docker
    await worker.sync()
    d.state["c0"] = {"running": False, "code": 1}
    worker.docker_changed()
    await worker.sync()  # restarted: c1 runs, c0 is kept for `logs --previous`
    pod = worker.agent.ctx.store.peek("Pod", "default", "web")
    await worker.teardown(pod, grace=0)
    assert d.removed == [(["c0", "c1"], False)], "not removed by known ids alone"
    assert d.stops == [], "with no grace the forced removal is the kill: no separate stop"


async def test_a_failed_start_makes_teardown_search_by_label(worker):
    d = worker.agent.docker
    d.fail_runs = 1  # a create that succeeded before its start failed leaves a container
    await worker.sync()
    assert d.started == []
    await worker.sync()
    assert d.started == ["c0"]
    pod = worker.agent.ctx.store.peek("Pod", "default", "web")
    await worker.teardown(pod, grace=3)
    assert d.stops == ["c0"]
    assert d.removed == [(["c0"], True)], "the worker may not know every container: it must search"


async def test_only_an_adopted_worker_searches_by_label(worker):
    """A worker the agent starts for a pod it has just been given makes every container
    of the pod itself, so its teardown needs no search; one made by adoption might not
    know them all (its containers come from a listing)."""
    agent = worker.agent
    started: list[PodWorker] = []
    agent._start_worker = started.append
    agent.workers.clear()
    agent._on_pod(agent.ctx.store.peek("Pod", "default", "web"), "ADDED")
    assert [w.unsure for w in started] == [False]
    listed = [{"Id": "c9", "State": "running", "NetworkSettings": {"Networks": {}},
               "Labels": {L_UID: worker.uid, L_CONTAINER: "main", L_ROLE: "app", L_ATTEMPT: "0"}}]
    plans, stale = agent._adoption_plan(listed)
    assert [p[0].unsure for p in plans] == [True] and stale == []
