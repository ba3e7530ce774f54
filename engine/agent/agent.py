"""The node agent (kubelet): makes Docker match the pods bound to our nodes.

- One PodWorker task per pod (serial per pod, parallel across pods).
- Woken by store events (the pod, or a ConfigMap/Secret/PVC it may be waiting for) and
  by Docker's event stream (a container died, was OOM-killed or killed by hand), so a
  `docker kill` is handled in milliseconds, not on a poll. The stream is also what tells
  a worker to inspect its containers again: an idle pass makes no Docker call.
- On start it adopts the containers it left running (found by the cluster label) for
  pods that still exist, keeping their container IDs, and removes the containers of
  pods that are gone.
- When Docker is unreachable it says so once, shows it in `status()`, and retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import errno
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

from ..kubeproxy.nodeport_kernel import HostNodePorts
from ..kubeproxy.services import ServiceProxies, needs_proxy
from ..labels import L_ATTEMPT, L_CONTAINER, L_ROLE, L_UID
from ..store import Store, StoreError
from .docker_io import DockerIO
from .pod_status import CState
from ..owned import docker_unreachable
from .pod_worker import PodWorker
from .volumes import refresh_projected

log = logging.getLogger("kubedeck.agent")
RETRY_SECONDS = 2.0  # a Service proxy pass that could not write its rule files runs again


@dataclass(frozen=True)
class NodeContext:
    """What the node agent (and the kube-proxy part it drives) uses of the cluster."""

    store: Store
    cluster: str  # the cluster's name: the label on every Docker object it makes
    state_dir: Path  # pods/, services/, nodeports_host/ live under it
    address: str  # where NodePorts listen (the kernel rules match it)
    events: Callable[..., None]  # ObjectService.record_event
    spawn: Callable[[Coroutine[Any, Any, Any], str], asyncio.Task]  # a task whose failure is shown
    nodeports: Callable[[], list]  # the TCP NodePorts bound now (NodePortProxy.bound_tcp)
    nodeport_clients: Callable[[Any], dict]  # a ClientIP-affinity port's clients (NodePortProxy.clients)
    # the API for pods (in_cluster.py): its port on 127.0.0.1, a pod's token (Tokens.for_pod)
    # and the CA's PEM (None each: no API for pods, as in unit tests)
    api_port: int | None = None
    pod_token: Callable[[dict, dict], str] | None = None
    ca_pem: bytes | None = None


class NodeAgent:
    def __init__(self, ctx: NodeContext):
        self.ctx = ctx
        #: "ok", or why Docker cannot be used (the cluster's status shows it)
        self.docker_status = "not started"
        self.docker = DockerIO(ctx.cluster)
        self.workers: dict[str, PodWorker] = {}
        self.pods_dir: Path = ctx.state_dir / "pods"
        self._stop = threading.Event()
        self._tasks: set[asyncio.Task] = set()
        self.services = ServiceProxies(self)
        self.nodeports = HostNodePorts(self)
        self._services_dirty = asyncio.Event()
        self._services_done: set[str] = set()  # uids of the Services the last pass handled
        self._services_pass = asyncio.Event()  # set (and replaced) at the end of each pass
        self._services_settled = asyncio.Event()  # ... and once its Service proxies are done
        self._passes_started = self._passes_done = 0

    def nodes(self) -> set[str]:
        return {n["metadata"]["name"] for n in self.ctx.store.iter_kind("Node")}

    async def run(self) -> None:
        await self._connect()
        await self.adopt()
        await self.docker.call(self.services.adopt_sync)
        self.docker.watch_events(asyncio.get_running_loop(), self._on_docker_event, self._stop,
                                 on_health=self._on_docker_health, on_connected=self._on_events_connected)
        self.ctx.spawn(self._service_loop(), "service-proxies")
        self.ctx.spawn(self._watch_stalls(), "docker-stalls")
        self.resync()
        async for ev in self.ctx.store.watch():
            kind = ev.object.get("kind")
            if kind == "Pod":
                self._on_pod(ev.object, ev.type)
            elif kind in ("ConfigMap", "Secret", "PersistentVolumeClaim", "ServiceAccount"):
                self._on_config(ev.object)  # a pod waiting for it starts now (an account: its token)
            elif kind in ("Service", "Endpoints"):
                self._services_dirty.set()

    async def _service_loop(self) -> None:
        """Keep the in-cluster Service proxies matching Services and Endpoints."""
        store = self.ctx.store
        while True:
            self._services_dirty.clear()
            self._passes_started += 1
            started = self._passes_started
            services = [copy.deepcopy(s) for s in store.iter_kind("Service")]
            eps = {(e["metadata"]["namespace"], e["metadata"]["name"]): copy.deepcopy(e)
                   for e in store.iter_kind("Endpoints")}
            listeners = self.ctx.nodeports()
            settled = False
            try:
                ips = await self.docker.call(self.services.reconcile_sync, services, eps)
                self._settle(services, ips)  # pods may start while the host's table loads
                settled = True
                await self.docker.call(self.nodeports.sync, self.services.kernel_image, listeners, eps)
            except Exception as e:  # noqa: BLE001 - Docker trouble: retry on the next change
                if self.docker_status != "ok" or docker_unreachable(e):
                    log.debug("service proxies wait for Docker: %s", e)  # said once already
                elif isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
                    # the rule files live in the state dir: a full or read-only disk (which
                    # the store reports too) waits, and the pass is tried again shortly
                    log.warning("service proxies: cannot write their rules in the state dir: %s", e)
                    asyncio.get_running_loop().call_later(RETRY_SECONDS, self._services_dirty.set)
                else:
                    log.exception("service proxies")
            if not settled:
                self._settle(services, {})
            for svc, msg in self.services.failures:
                self.ctx.events(svc, "FailedToLoadProxyRules", msg, type="Warning", component="kube-proxy")
            self._passes_done = started
            self._services_pass.set()
            self._services_pass = asyncio.Event()
            # endpoints waiting for their first connection: the next read of the kernel's sets is due
            due = self.nodeports.next_read - time.monotonic() if self.nodeports.waiting else 5
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._services_dirty.wait(), min(5, due) if due > 0 else 5)

    def _settle(self, services: list[dict], ips: dict) -> None:
        """The proxies' part of a pass is done: clusterIPs stored, services_settled() returns."""
        store = self.ctx.store
        for (ns, name), ip in ips.items():
            svc = store.peek("Service", ns, name)
            if svc and ip and svc["spec"].get("clusterIP") != ip:
                new = copy.deepcopy(svc)
                new["spec"]["clusterIP"] = ip
                new["spec"]["clusterIPs"] = [ip]
                store.update(new, check_rv=False)
        self._services_done = {s["metadata"].get("uid") for s in services}
        self._services_settled.set()
        self._services_settled = asyncio.Event()

    async def services_settled(self, ns: str, timeout: float = 5.0) -> None:
        """Wait until the proxy pass has handled every Service of `ns`, so that a container
        starting now gets the Services' real clusterIPs in its environment and finds their
        names in DNS (a Service applied with its pods would otherwise still show the
        placeholder IP of the service range). Bounded: a pass that fails is not retried here."""
        await self._await_passes(lambda: any(
            s["metadata"]["namespace"] == ns and s["metadata"].get("uid") not in self._services_done
            and needs_proxy(s) for s in self.ctx.store.iter_kind("Service")), timeout, lambda: self._services_settled)

    async def api_routed(self, timeout: float = 5.0) -> None:
        """Wait (bounded) until the host routes pods' connections to the API, or says it
        cannot (in_cluster.py). The first pod on the node waits for it (once): a connection
        it opened before the DNAT rule existed would keep its un-NATed conntrack entry."""
        if self.ctx.api_port is None:  # no API for pods (unit tests): nothing to wait for
            return
        await self._await_passes(lambda: self.nodeports.api_state in (None, "idle"), timeout,
                                 lambda: self._services_pass)

    def nudge_services(self) -> None:
        """Something the proxy pass reads changed (the NodePort listeners)."""
        self._services_dirty.set()

    async def proxies_caught_up(self, timeout: float) -> None:
        """Wait (bounded) for a proxy pass that starts after now to finish: the kernel
        rules then route by the Endpoints as they are now."""
        wanted = self._passes_started + 1
        await self._await_passes(lambda: self._passes_done < wanted, timeout, lambda: self._services_pass)

    async def _await_passes(self, pending, timeout: float, event: Callable[[], asyncio.Event]) -> None:
        """Ask for proxy passes while `pending()` holds (at most `timeout` s), waking on the
        event `event()` gives (each pass replaces its events, so it is looked up each time)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while pending():
            left = deadline - loop.time()
            if left <= 0:
                return
            self._services_dirty.set()
            try:
                await asyncio.wait_for(event().wait(), left)
            except asyncio.TimeoutError:
                return

    async def _connect(self) -> None:
        said = False
        while True:
            try:
                await self.docker.call(self.docker.connect_sync)
                self.docker_status = "ok"  # reachable; the pods' network follows before any pod starts
                await self.docker.call(self.docker.prepare_sync)
                if said:
                    log.warning("Docker is reachable again")
                return
            except Exception as e:  # noqa: BLE001 - any failure means Docker is not usable
                msg = _docker_message(e)
                self.docker_status = msg
                if not said:
                    log.error("%s", msg)
                    said = True
                await asyncio.sleep(2)

    def close(self) -> None:
        self._stop.set()
        if self.docker.api is not None:
            try:  # NodePorts are served while the engine runs, in the kernel too
                self.nodeports.close()
            except Exception as e:  # noqa: BLE001 - Docker gone: nothing more to do now
                log.warning("cannot remove the kernel NodePort rules: %s", e)
        self.docker.close()

    # ---- adoption ----------------------------------------------------------------
    async def adopt(self) -> None:
        """Take over the containers this cluster left running for pods that still exist,
        and remove the others. Listing and removing run on Docker threads: with many
        containers they take seconds, and the API and controllers keep serving."""
        listed = await self.docker.call(self.docker.list_ours_sync)
        plans, stale = self._adoption_plan(listed)
        if stale:  # before the workers start: they reuse the names of the removed ones
            await self.docker.call(self._remove_sync, stale)
        for w, pod, newest, statuses, n in plans:
            self._start_worker(w)
            for cdef in pod["spec"]["containers"]:
                st = w.containers.get(cdef["name"])
                if st and st.id and newest.get(cdef["name"], {}).get("State") == "running":
                    # re-attach probes without restarting the container
                    w.start_probes(pod, cdef, st)
                    st.ready = bool((statuses.get(cdef["name"]) or {}).get("ready"))
            log.info("adopted pod %s/%s (%d containers)", w.ns, w.name, n)

    def _remove_sync(self, ids: list[str]) -> None:
        for cid in ids:
            try:
                self.docker.api.remove_container(cid, force=True)
            except Exception as e:  # noqa: BLE001 - gone already, or Docker trouble: left for `down`
                log.debug("cannot remove container %s: %s", cid[:12], e)

    def _adoption_plan(self, listed: list[dict]) -> tuple[list[tuple], list[str]]:
        """From the listed containers: a worker per pod that still exists (with what its
        containers were), and the ids to remove (no pod; created but never started)."""
        store = self.ctx.store
        by_uid: dict[str, list[dict]] = {}
        for c in listed:
            uid = c["Labels"].get(L_UID)
            if uid:
                by_uid.setdefault(uid, []).append(c)
        pods = {p["metadata"]["uid"]: p for p in store.iter_kind("Pod")}
        plans, stale = [], []
        for uid, containers in by_uid.items():
            pod = pods.get(uid)
            if pod is None:
                stale += [c["Id"] for c in containers]
                continue
            w = PodWorker(self, uid, pod["metadata"]["namespace"], pod["metadata"]["name"])
            w.unsure = True  # what it adopts is its best reading of the listing, not a record
            w.start_time = (pod.get("status") or {}).get("startTime")
            statuses = {s["name"]: s for s in (pod.get("status") or {}).get("containerStatuses") or []}
            for s in (pod.get("status") or {}).get("initContainerStatuses") or []:
                if s.get("state", {}).get("terminated", {}).get("exitCode") == 0:
                    w.init_done.add(s["name"])
            newest: dict[str, dict] = {}
            for c in containers:
                lab = c["Labels"]
                if lab.get(L_ROLE) == "sandbox":
                    w.sandbox = c["Id"]
                    w.ip = self.docker.ip_of(c)
                    continue
                name = lab.get(L_CONTAINER, "")
                if name not in newest or int(lab.get(L_ATTEMPT, 0)) > int(newest[name]["Labels"].get(L_ATTEMPT, 0)):
                    if name in newest:
                        st = w.containers.setdefault(name, CState(name))
                        st.prev_id = newest[name]["Id"]
                    newest[name] = c
                else:
                    w.containers.setdefault(name, CState(name)).prev_id = c["Id"]
            for name, c in newest.items():
                st = w.containers.setdefault(name, CState(name))
                st.restarts = int(c["Labels"].get(L_ATTEMPT, 0))
                if c.get("State") == "created":
                    # the engine died between create and start: not a crash, start it afresh
                    stale.append(c["Id"])
                    continue
                st.id = c["Id"]
                if not w.sandbox:  # a single-container pod owns its network
                    w.ip = self.docker.ip_of(c) or w.ip
                prior = statuses.get(name) or {}
                st.last_state = prior.get("lastState") or {}
                st.started_at = (prior.get("state") or {}).get("running", {}).get("startedAt")
                st.ready = bool(prior.get("ready"))
                st.started = bool(prior.get("started", True))
            plans.append((w, pod, newest, statuses, len(containers)))
        return plans, stale

    # ---- events ------------------------------------------------------------------
    def resync(self) -> None:
        for pod in self.ctx.store.iter_kind("Pod"):
            self._on_pod(pod, "MODIFIED")

    def _start_worker(self, w: PodWorker) -> None:
        if not self.workers:  # the first pod: the API's route for pods is loaded (nodeport_kernel.py)
            self._services_dirty.set()
        self.workers[w.uid] = w
        task = self.ctx.spawn(w.run(), f"pod-{w.ns}-{w.name}")
        task.add_done_callback(lambda t, uid=w.uid: self.workers.get(uid) is w and self.workers.pop(uid, None))

    def _on_pod(self, pod: dict, etype: str) -> None:
        uid = pod["metadata"]["uid"]
        w = self.workers.get(uid)
        if w is None:
            if etype == "DELETED" or pod["spec"].get("nodeName") not in self.nodes():
                return
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") and \
                    not pod["metadata"].get("deletionTimestamp"):
                return
            w = PodWorker(self, uid, pod["metadata"]["namespace"], pod["metadata"]["name"])
            self._start_worker(w)
        w.wake.set()

    def _on_config(self, obj: dict) -> None:
        ns = obj["metadata"].get("namespace")
        for w in self.workers.values():
            if w.ns != ns:
                continue
            pod = self.ctx.store.peek("Pod", w.ns, w.name)
            if pod is not None:
                refresh_projected(pod, w.pod_dir, lambda k, n, ns=ns: self.ctx.store.peek(k, ns, n))
            w.wake.set()

    async def _watch_stalls(self, every: float = 5.0) -> None:
        """A dockerd that accepts connections but stops answering shows in the status and
        the log, once, instead of pods that wait without a word."""
        while True:
            await asyncio.sleep(every)
            status = stall_status(self.docker_status, self.docker.stalled())
            if status == self.docker_status:
                continue
            if status == "ok":
                log.warning("Docker answers again")
            else:
                log.error("%s", status)
            self.docker_status = status

    def _on_docker_health(self, status: str) -> None:
        self.docker_status = status
        if status == "ok":
            log.warning("Docker is reachable again")
            self.resync()  # every pod gets a sync: restart what died while Docker was away
            self._services_dirty.set()  # and the proxies a pass (one may have waited for Docker)
        for w in self.workers.values():
            w.docker_changed()

    def _on_events_connected(self) -> None:
        """The event stream is (re)subscribed: what happened before it is not in it, so
        every pod looks at its containers once (workers skip the inspect while no event
        comes for their pod)."""
        for w in self.workers.values():
            w.docker_changed()

    def _on_docker_event(self, ev: dict) -> None:
        # Not "start": the worker that started a container knows it runs, and a start
        # event per pod would make each look again (an inspect per pod at a scale-up).
        if ev.get("Action") not in ("die", "oom", "destroy", "kill", "stop"):
            return
        uid = (ev.get("Actor") or {}).get("Attributes", {}).get(L_UID)
        w = self.workers.get(uid or "")
        if w:
            w.docker_changed()

    # ---- API helpers -------------------------------------------------------------
    def set_grace(self, pod: dict, grace: int) -> None:
        w = self.workers.get(pod["metadata"]["uid"])
        if w:
            w.grace = grace
            w.shorten(grace)
            w.wake.set()

    def force_delete(self, pod: dict) -> None:
        w = self.workers.get(pod["metadata"]["uid"])
        if w:
            w.force = True
            w.shorten(0)
            w.wake.set()

    def container_id(self, pod: dict, container: str | None) -> str | None:
        """The running container of `pod` named `container` (default: the first)."""
        w = self.workers.get(pod["metadata"]["uid"])
        name = container or pod["spec"]["containers"][0]["name"]
        st = w.containers.get(name) if w else None
        return st.id if st and not st.terminated else None

    async def logs(self, pod: dict, *, container: str | None, follow: bool, tail: int | None,
                   timestamps: bool, previous: bool, since_seconds: int | None = None) -> AsyncIterator[bytes]:
        names = [c["name"] for c in (pod["spec"].get("initContainers") or []) + pod["spec"]["containers"]]
        if container is None:
            if len(pod["spec"]["containers"]) > 1:
                raise StoreError(400, "BadRequest",
                                 f"a container name must be specified for pod {pod['metadata']['name']}, "
                                 f"choose one of: {[c['name'] for c in pod['spec']['containers']]}")
            container = pod["spec"]["containers"][0]["name"]
        if container not in names:
            raise StoreError(400, "BadRequest",
                             f"container {container} is not valid for pod {pod['metadata']['name']}")
        w = self.workers.get(pod["metadata"]["uid"])
        st = w.containers.get(container) if w else None
        cid = (st.prev_id if previous else st.id or st.prev_id) if st else None
        if not cid:
            if previous:
                raise StoreError(400, "BadRequest",
                                 f'previous terminated container "{container}" in pod "{pod["metadata"]["name"]}" not found')
            raise StoreError(400, "BadRequest",
                             f'container "{container}" in pod "{pod["metadata"]["name"]}" is waiting to start')
        since = int(time.time()) - since_seconds if since_seconds else None
        async with contextlib.aclosing(self.docker.logs(cid, follow=follow and not previous, tail=tail,
                                                        timestamps=timestamps, since=since)) as chunks:
            async for chunk in chunks:  # closed with us, so the Docker reader stops at once
                yield chunk


STALLED_AFTER = 60.0  # seconds one Docker call may run before Docker counts as not answering
NOT_ANSWERING = "Docker is not answering"


def stall_status(status: str, waited: float) -> str:
    """The Docker status once the oldest running call has waited `waited` seconds:
    creates, starts, inspects and removals answer in seconds even under load. dockerd
    20.10's libnetwork can deadlock when many containers exit at once (moby/moby#46661):
    every call that touches a network then waits forever, while ping still answers."""
    if waited >= STALLED_AFTER and status == "ok":
        return (f"{NOT_ANSWERING}: a call has waited {waited:.0f} s for dockerd (Docker 20.10 can deadlock "
                "when many containers exit at once, moby/moby#46661; restarting dockerd clears it)")
    if waited < STALLED_AFTER and status.startswith(NOT_ANSWERING):
        return "ok"
    return status


def _docker_message(e: Exception) -> str:
    text = str(e)
    if "Permission denied" in text:
        return ("Docker is not reachable: permission denied on /var/run/docker.sock "
                "(add your user to the 'docker' group, or run as root)")
    if "No such file" in text or "Connection refused" in text or "connection" in text.lower():
        return "Docker is not reachable: is the Docker daemon running? (start it with `sudo dockerd` or Docker Desktop)"
    return f"Docker is not reachable: {text}"
