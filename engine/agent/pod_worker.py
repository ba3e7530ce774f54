"""One pod on Docker: a level-triggered worker per pod, serial for that pod.

Each `sync()` reads the pod from the store and the containers from Docker and moves
one step towards the spec: sandbox, init containers in order, app containers, restarts
with back-off, then writes status. It runs whenever something about the pod changes
(store event, Docker event, probe result, timer), so a missed wake-up costs at most a
timer period, never correctness.

Docker is asked about a container (`inspect`) only when the worker cannot know its state:
after a Docker event for the pod (die, oom, kill, stop, destroy, start: the agent's one
shared event stream calls `docker_changed`), while it is not known to be running (never
inspected, crashed, backing off), or when the last look is older than RECHECK_EVERY (a
safety net for an event lost between two streams). An idle pod costs no Docker call per
pass; at 500 pods the inspect on every pass was most of the engine's idle CPU.

Containers are named k8s_<container>_<pod>_<ns>_<uid>_<attempt> like dockershim's, and
labelled so the agent can adopt them after a restart of the engine.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from functools import partial

from .. import activity, in_cluster
from ..labels import L_ATTEMPT, L_CLUSTER, L_CONTAINER, L_NS, L_POD, L_ROLE, L_UID
from ..owned import docker_unreachable
from ..store import StoreError, now_iso
from .podspec import (ConfigError, container_env, entrypoint_and_cmd, image_pull_policy,
                      resource_kwargs, security_kwargs)
from .pod_network import dns_search, extra_hosts, needs_sandbox, pod_aliases
from .pod_status import CState, pod_status, terminated_state
from .probes import ProbeRunner, ProbeTarget
from .volumes import api_access_mount, mounts_for

log = logging.getLogger("kubedeck.agent")
BACKOFF_START, BACKOFF_MAX, BACKOFF_RESET = 10.0, 300.0, 600.0
RECHECK_EVERY = 300.0  # seconds a running container goes without an inspect when no event says otherwise


class PodWorker:
    def __init__(self, agent, uid: str, ns: str, name: str):
        self.agent = agent
        self.uid, self.ns, self.name = uid, ns, name
        self.wake = asyncio.Event()
        self.sandbox: str | None = None
        self.ip: str = ""
        self.containers: dict[str, CState] = {}
        self.init_done: set[str] = set()
        self.grace: int | None = None
        self.done = False
        self.next_timer: float | None = None
        self.start_time: str | None = None
        self.phase_final: str | None = None
        self.force = False
        self.stopping = False  # teardown under way (`shorten`)
        self.sandbox_seen = 0.0  # time.monotonic() of the last inspect that found the sandbox running
        self.sandbox_recheck = False  # a Docker event for the pod came after that inspect
        # A Docker call that creates failed, or the worker was adopted: a container of the
        # pod may exist that it does not know of, so teardown looks for them by label.
        self.unsure = False

    @property
    def pod_dir(self):
        return self.agent.pods_dir / self.uid

    # ---- loop --------------------------------------------------------------------
    async def run(self) -> None:
        while not self.done:
            self.wake.clear()
            self.next_timer = None
            try:
                await self.sync()
            except Exception as e:  # noqa: BLE001 - a bug here must not kill the agent
                self.unsure = True  # it may have stopped between a create and its bookkeeping
                if self.agent.docker_status != "ok" or docker_unreachable(e):
                    # Docker is away (the agent reports that once): retry quietly, no traceback
                    log.debug("pod %s/%s sync waits for Docker: %s", self.ns, self.name, e)
                elif isinstance(e, StoreError):  # a read-only or full state dir: it says so itself
                    log.warning("pod %s/%s sync failed: %s", self.ns, self.name, e)
                else:
                    log.exception("pod %s/%s sync failed", self.ns, self.name)
                self.next_timer = time.monotonic() + 2
            if self.done:
                break
            timeout = None if self.next_timer is None else max(0.0, self.next_timer - time.monotonic())
            try:
                await asyncio.wait_for(self.wake.wait(), timeout if timeout is not None else 30)
            except asyncio.TimeoutError:
                pass

    def docker_changed(self) -> None:
        """A Docker event for one of this pod's containers (or the event stream was
        re-established): look at every container again on the next pass."""
        for st in self.containers.values():
            st.recheck = True
        self.sandbox_recheck = True
        self.wake.set()

    def timer(self, at: float) -> None:
        self.next_timer = at if self.next_timer is None else min(self.next_timer, at)

    def event(self, pod: dict, reason: str, message: str, type: str = "Normal") -> None:
        self.agent.ctx.events(pod, reason, message, type=type, component="kubelet")

    # ---- sync --------------------------------------------------------------------
    async def sync(self) -> None:
        store = self.agent.ctx.store
        pod = store.get("Pod", self.ns, self.name)
        if pod is None or pod["metadata"]["uid"] != self.uid:
            await self.teardown(None, grace=0)
            self.done = True
            return
        if pod["metadata"].get("deletionTimestamp"):
            grace = 0 if self.force else (self.grace if self.grace is not None
                                          else int(pod["spec"].get("terminationGracePeriodSeconds", 30)))
            await self.teardown(pod, grace=grace)
            try:
                store.delete("Pod", self.ns, self.name)
            except Exception:  # noqa: BLE001 - already gone
                pass
            self.done = True
            return
        if self.phase_final:
            return
        self.start_time = self.start_time or (pod.get("status") or {}).get("startTime") or now_iso()
        if not await self.ensure_sandbox(pod):
            self.write_status(pod)
            return
        if await self.run_inits(pod):
            for c in pod["spec"]["containers"]:
                await self.sync_container(pod, c, init=False)
        self.write_status(pod)

    async def ensure_sandbox(self, pod: dict) -> bool:
        d = self.agent.docker
        if not needs_sandbox(pod):
            return True  # the one container holds the pod's network itself
        if self.sandbox:
            if not self.sandbox_recheck and time.monotonic() - self.sandbox_seen < RECHECK_EVERY:
                return True  # running at the last look, and no event since
            self.sandbox_recheck = False  # an event from here on asks for another look
            info = await d.inspect(self.sandbox)
            if info and info["State"]["Running"]:
                self.sandbox_seen = time.monotonic()
                return True
            # the sandbox died: every container of the pod goes with it, as in Kubernetes
            for st in self.containers.values():
                if st.id:
                    await d.remove(st.id)
                    st.id, st.alive = None, False
            self.init_done.clear()
        name = f"k8s_POD_{self.name}_{self.ns}_{self.uid}_0"
        spec = pod["spec"]
        hostname = spec.get("hostname") or self.name
        self.sandbox, info = await d.create_sandbox(name=name, hostname=hostname[:63],
                                                    labels=self.labels("POD", "sandbox", 0),
                                                    aliases=self.aliases(pod), dns_search=self.dns_search(),
                                                    extra_hosts=extra_hosts(pod))
        self.ip = d.ip_of(info)
        self.sandbox_seen = time.monotonic() if info and info["State"]["Running"] else 0.0
        return bool(self.sandbox)

    def aliases(self, pod: dict) -> list[str]:
        return pod_aliases(pod, self.agent.ctx.store.iter_kind("Service"))

    def dns_search(self) -> list[str]:
        return dns_search(self.ns)

    def labels(self, container: str, role: str, attempt: int) -> dict:
        return {L_CLUSTER: self.agent.ctx.cluster, L_POD: self.name, L_NS: self.ns, L_UID: self.uid,
                L_CONTAINER: container, L_ROLE: role, L_ATTEMPT: str(attempt)}

    async def run_inits(self, pod: dict) -> bool:
        """True when every init container has completed."""
        for c in pod["spec"].get("initContainers") or []:
            if c["name"] in self.init_done:
                continue
            st = await self.sync_container(pod, c, init=True)
            if st.terminated and st.terminated["terminated"]["exitCode"] == 0:
                self.init_done.add(c["name"])
                continue
            return False
        return True

    async def sync_container(self, pod: dict, c: dict, *, init: bool) -> CState:
        d = self.agent.docker
        st = self.containers.setdefault(c["name"], CState(c["name"]))
        policy = pod["spec"].get("restartPolicy", "Always")
        if init and policy == "Always":
            policy = "OnFailure"
        if st.terminated:
            return st
        if st.id:
            info = None
            known = st.alive and not st.recheck and time.monotonic() - st.seen_at < RECHECK_EVERY
            if not known:
                st.recheck = False  # an event from here on asks for another look
                info = await d.inspect(st.id)
                st.seen_at = time.monotonic()
                st.alive = bool(info and info["State"]["Running"])
                if st.alive:
                    st.started_wall = _ts(info["State"]["StartedAt"])
                    if self.sandbox is None:
                        self.ip = d.ip_of(info) or self.ip
            if st.alive:
                st.waiting = None
                if st.backoff and time.time() - st.started_wall > BACKOFF_RESET:
                    st.backoff = 0.0
                return st
            if info is None:  # removed behind our back (docker rm -f): a restart, as the kubelet counts it
                self.stop_probes(st)
                st.last_state = {"terminated": {
                    "exitCode": 137, "reason": "ContainerStatusUnknown", "containerID": f"docker://{st.id}",
                    "message": "The container could not be located when the pod was terminated"}}
                st.id, st.ready = None, False
                st.restarts += 1
            else:
                term = terminated_state(info)
                self.stop_probes(st)
                code = term["terminated"]["exitCode"]
                restart = policy == "Always" or (policy == "OnFailure" and code != 0)
                if not restart:
                    st.terminated = term
                    st.ready = False
                    return st
                if st.last_state.get("terminated", {}).get("containerID") != term["terminated"]["containerID"]:
                    st.last_state = term
                    st.ready = False
                    if st.backoff:  # first restart is immediate; later ones back off
                        st.backoff_until = time.monotonic() + st.backoff
                    st.backoff = BACKOFF_START if not st.backoff else min(st.backoff * 2, BACKOFF_MAX)
                if time.monotonic() < st.backoff_until:
                    left = st.backoff_until - time.monotonic()
                    st.waiting = ("CrashLoopBackOff",
                                  f"back-off {int(st.backoff / 2 if st.backoff > BACKOFF_START else st.backoff)}s "
                                  f"restarting failed container={c['name']} pod={self.name}_{self.ns}({self.uid})")
                    self.timer(time.monotonic() + left)
                    if left > 1:
                        self.event(pod, "BackOff", "Back-off restarting failed container", "Warning")
                    return st
                st.prev_id, old_prev = st.id, st.prev_id
                st.id = None
                st.restarts += 1
                if old_prev:
                    await d.remove(old_prev)
        await self.start_container(pod, c, st, init=init)
        return st

    async def start_container(self, pod: dict, c: dict, st: CState, *, init: bool) -> None:
        d = self.agent.docker
        ctx = self.agent.ctx
        lookup = lambda kind, name: ctx.store.peek(kind, self.ns, name)
        await self.agent.services_settled(self.ns)
        await self.agent.api_routed()
        try:
            from ..kubeproxy.services import service_env

            services = [s for s in ctx.store.iter_kind("Service") if s["metadata"]["namespace"] == self.ns]
            env = service_env(services) if pod["spec"].get("enableServiceLinks", True) else {}
            env.update(service_env([in_cluster.service(0)]))  # the API's variables, links or not
            env.update(container_env({**pod, "status": {**(pod.get("status") or {}), "podIP": self.ip,
                                                        "hostIP": "127.0.0.1"}}, c, lookup))
            mounts = mounts_for(pod, c, pod_dir=self.pod_dir, cluster=ctx.cluster, lookup=lookup,
                                volume_path=d.volume_path_sync)
            api = api_access_mount(pod, mounts, pod_dir=self.pod_dir, lookup=lookup, token=ctx.pod_token,
                                   ca_pem=ctx.ca_pem)
            mounts += [api] if api else []
        except ConfigError as e:
            if st.waiting != ("CreateContainerConfigError", str(e)):
                self.event(pod, "Failed", f"Error: {e}", "Warning")
            st.waiting = ("CreateContainerConfigError", str(e))
            self.timer(time.monotonic() + 5)
            return
        image = c["image"]
        ok, msg = await d.ensure_image(image, image_pull_policy(c))
        if ok and msg == "pulled":
            self.event(pod, "Pulling", f'Pulling image "{image}"')
            self.event(pod, "Pulled", f'Successfully pulled image "{image}"')
        elif ok:
            self.event(pod, "Pulled", f'Container image "{image}" already present on machine')
        if not ok:
            reason = "ErrImageNeverPull" if msg.startswith("Container image") else \
                ("ImagePullBackOff" if st.waiting and st.waiting[0] in ("ErrImagePull", "ImagePullBackOff") else "ErrImagePull")
            if not st.waiting or st.waiting[0] != reason:
                self.event(pod, "Failed", f"Failed to pull image \"{image}\": {msg}", "Warning")
            st.waiting = (reason, msg if reason != "ImagePullBackOff" else f'Back-off pulling image "{image}": {msg}')
            self.timer(time.monotonic() + 10)
            return
        entry, cmd = entrypoint_and_cmd(c, env)
        attempt = st.restarts
        name = f"k8s_{c['name']}_{self.name}_{self.ns}_{self.uid}_{attempt}"
        solo = self.sandbox is None  # a single-container pod: the container owns the network
        kwargs = dict(image=image, entrypoint=entry, command=cmd, env=env, mounts=mounts,
                      hostname=(pod["spec"].get("hostname") or self.name)[:63] if solo else None,
                      aliases=self.aliases(pod) if solo else None, dns_search=self.dns_search() if solo else None,
                      extra_hosts=extra_hosts(pod) if solo else None,
                      working_dir=c.get("workingDir"), labels=self.labels(c["name"], "init" if init else "app", attempt),
                      sandbox=self.sandbox, tty=bool(c.get("tty")), stdin=bool(c.get("stdin")),
                      **resource_kwargs(c), **security_kwargs(pod, c))
        try:
            st.id, ip = await d.run_container(name, **kwargs)
            # started: running until an event says otherwise (a die event that came during
            # the start has set st.recheck already)
            st.alive, st.seen_at, st.started_wall = True, time.monotonic(), time.time()
            st.started_at = now_iso()
            if solo:
                self.ip = ip or self.ip  # the probes need it now
        except Exception as e:  # noqa: BLE001 - Docker refused: show it like the kubelet does
            self.unsure = True
            st.waiting = ("RunContainerError" if "start" in str(e).lower() else "CreateContainerError", str(e)[:300])
            self.event(pod, "Failed", f"Error: {e}", "Warning")
            self.timer(time.monotonic() + 5)
            return
        st.waiting = None
        self.event(pod, "Created", f"Created container {c['name']}")
        self.event(pod, "Started", f"Started container {c['name']}")
        if not init:
            self.start_probes(pod, c, st)

    # ---- probes ------------------------------------------------------------------
    def start_probes(self, pod: dict, c: dict, st: CState) -> None:
        self.stop_probes(st)
        has = any(c.get(p) for p in ("startupProbe", "livenessProbe", "readinessProbe"))
        if not has:
            st.ready = st.started = True
            return
        st.ready = False
        st.started = False
        ports = {p["name"]: p["containerPort"] for p in c.get("ports") or [] if p.get("name")}
        cid = st.id

        async def exec_fn(cmd, timeout):
            return await self.agent.docker.exec_code(cid, cmd, timeout)

        def on_ready(v: bool) -> None:
            st.ready = v
            self.wake.set()

        def on_started() -> None:
            st.started = True
            self.wake.set()

        def on_unhealthy(kind: str, msg: str) -> None:
            self.event(pod, "Unhealthy", f"{kind} probe failed: {msg}", "Warning")

        def on_failed(kind: str, msg: str) -> None:  # a liveness or startup probe's last failure
            self.event(pod, "Killing", f"Container {c['name']} failed {kind.lower()} probe, will be restarted")
            grace = int(pod["spec"].get("terminationGracePeriodSeconds", 30))
            self.agent.ctx.spawn(self.agent.docker.stop(cid, grace), f"kill-{cid[:12]}")

        runner = ProbeRunner(c, ProbeTarget(self.ip, ports, exec_fn), on_ready=on_ready,
                             on_started=on_started, on_failed=on_failed, on_unhealthy=on_unhealthy)
        st.probe_task = self.agent.ctx.spawn(runner.run(), f"probes-{self.name}-{c['name']}")

    def stop_probes(self, st: CState) -> None:
        if st.probe_task:
            st.probe_task.cancel()
            st.probe_task = None

    # ---- teardown ----------------------------------------------------------------
    def shorten(self, grace: int) -> None:
        """A second delete with a shorter grace period (or a forced one) while the
        containers are being stopped: they are killed when it runs out, as the kubelet
        does, instead of at the end of the first grace period."""
        if not self.stopping:
            return
        d, loop = self.agent.docker, asyncio.get_running_loop()

        def kill() -> None:
            for st in self.containers.values():
                if st.id:
                    self.agent.ctx.spawn(d.stop(st.id, 0), f"kill-{st.id[:12]}")
        if grace <= 0:
            kill()
        else:
            loop.call_later(grace, kill)

    async def teardown(self, pod: dict | None, *, grace: int) -> None:
        self.stopping = True
        d = self.agent.docker
        for st in self.containers.values():
            self.stop_probes(st)
        if pod is not None and grace > 0:
            await self.leave_endpoints()
            await self.pre_stop(pod)
        ids = [st.id for st in self.containers.values() if st.id]
        if pod is not None:
            for st in self.containers.values():
                if st.id:
                    self.event(pod, "Killing", f"Stopping container {st.name}")
        if grace > 0:  # with no grace, remove_pod's forced removal is the kill: one Docker call, not two
            await asyncio.gather(*(d.stop(cid, grace) for cid in ids), return_exceptions=True)
        known = [self.sandbox, *ids, *(st.prev_id for st in self.containers.values())]
        await d.remove_pod(self.uid, [cid for cid in known if cid], sweep=self.unsure)
        # off the event loop: at a scale-down of hundreds of pods these add up to seconds
        await asyncio.get_running_loop().run_in_executor(None, partial(shutil.rmtree, self.pod_dir, ignore_errors=True))

    async def leave_endpoints(self, limit: float = 2.0) -> None:
        """Wait (briefly) until no Endpoints lists this pod before signalling it, so no
        new connection is routed to a pod that is shutting down. Kubernetes leaves this
        race to the user (a preStop sleep); kubedeck closes it."""
        if not self.ip:
            return
        store = self.agent.ctx.store
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if not any(a.get("ip") == self.ip for ep in store.iter_kind("Endpoints")
                       if ep["metadata"].get("namespace") == self.ns
                       for sub in ep.get("subsets") or [] for a in sub.get("addresses") or []):
                # and out of the kernel's rules (in-cluster Services, NodePorts), which follow
                # the Endpoints one proxy pass later
                await self.agent.proxies_caught_up(deadline - time.monotonic())
                return
            await asyncio.sleep(0.02)

    async def pre_stop(self, pod: dict) -> None:
        from .probes import run_probe

        for c in pod["spec"]["containers"]:
            hook = ((c.get("lifecycle") or {}).get("preStop")) or {}
            st = self.containers.get(c["name"])
            if not hook or not st or not st.id:
                continue
            cid = st.id
            if "sleep" in hook:
                await asyncio.sleep(float(hook["sleep"].get("seconds", 0)))
                continue

            async def exec_fn(cmd, timeout, cid=cid):
                return await self.agent.docker.exec_code(cid, cmd, timeout)
            ports = {p["name"]: p["containerPort"] for p in c.get("ports") or [] if p.get("name")}
            grace = float(pod["spec"].get("terminationGracePeriodSeconds", 30))
            await run_probe({**hook, "timeoutSeconds": grace}, ProbeTarget(self.ip, ports, exec_fn))

    # ---- status ------------------------------------------------------------------
    def write_status(self, pod: dict) -> None:
        status, final = pod_status(pod, self.containers, self.init_done, ip=self.ip, start_time=self.start_time)
        if final:
            self.phase_final = final
        if self.agent.ctx.store.update_status("Pod", self.ns, self.name, status) is not None:
            activity.RING.pod_status(self.ns, self.name, pod["spec"].get("nodeName", ""), status)


def _ts(s: str) -> float:
    from ..controllers.podutil import parse_time

    try:
        return parse_time(s[:19] + "Z")
    except ValueError:
        return 0.0
