"""The agent's only door to Docker: blocking SDK calls run in a thread pool and are
awaited from the engine loop. Everything created carries the cluster label, and only
objects with that label are ever removed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import AsyncIterator, Callable

import docker
from docker.errors import APIError, ImageNotFound, NotFound
from docker.types import Mount

from .. import activity
from ..labels import L_CLUSTER, L_CONTAINER, L_IMAGE, L_NS, L_POD, L_UID
from ..owned import remove_container
from ..pause import PAUSE_IMAGE, build_context
from .docker_keepalive import share_connections

log = logging.getLogger("kubedeck.docker")


def _name_thread(name: bytes) -> None:
    """The thread's name for the OS (top -H, /proc/PID/task/*/comm); Linux only, best effort."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, name[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


STOP_WORKERS = 64  # container stops waiting out grace periods at once
_current = threading.local()  # the running call's token, for slow() below
LOG_BUFFER = 4 << 20  # unread log bytes a follower may queue before Docker reading pauses


class DockerIO:
    def __init__(self, cluster_name: str, *, workers: int = 16):
        self.cluster = cluster_name
        self.network = f"kubedeck-{cluster_name}"
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="docker")
        # A stop holds its thread for up to the pod's grace period (30 s by default, for a
        # process that ignores SIGTERM): stops get threads of their own, so pods being
        # deleted never hold up another pod's start (16 such stops used to stall them all).
        self.stop_pool = ThreadPoolExecutor(max_workers=STOP_WORKERS, thread_name_prefix="docker-stop")
        self.max_pool_size = workers + STOP_WORKERS  # Docker connections kept for them all
        self.client: docker.DockerClient | None = None
        self.api: docker.APIClient | None = None
        self._images: dict[str, float] = {}  # image -> when it was last seen present
        # calls running on a Docker thread now: token -> when the thread began it (time in
        # the pool's queue is not Docker's); stalled() reads the oldest
        self._running: dict[int, float] = {}
        self._tokens = itertools.count()

    async def call(self, fn: Callable, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(self.pool, partial(self._timed, fn, *args, **kwargs))

    def _timed(self, fn: Callable, *args, **kwargs):
        token = next(self._tokens)
        self._running[token] = time.monotonic()
        _current.token = token
        try:
            return fn(*args, **kwargs)
        finally:
            self._running.pop(token, None)

    def slow(self) -> None:
        """Called on a Docker thread by a call that may take minutes by design (an image
        pull, an exec that runs a user's command): it no longer counts for stalled()."""
        self._running.pop(getattr(_current, "token", None), None)

    def stalled(self) -> float:
        """Seconds the oldest running call has waited for Docker (0 with none running).
        Creates, starts, inspects and removals answer in seconds even under load; one
        waiting for minutes means dockerd stopped answering (a deadlock, a frozen daemon)."""
        oldest = min(self._running.values(), default=None)  # one C-level pass: no lock needed
        return 0.0 if oldest is None else time.monotonic() - oldest

    # ---- setup -------------------------------------------------------------------
    def connect_sync(self) -> None:
        """Reach the daemon; prepare_sync() then makes what pods need."""
        self.client = docker.from_env(timeout=120, max_pool_size=self.max_pool_size)
        # a Unix socket: one pool of kept-alive connections, and no proxy or .netrc
        # lookups at every call (those were ~8 % of the engine's CPU in a scale-up)
        share_connections(self.client.api)
        self.client.ping()
        self.api = self.client.api

    def prepare_sync(self) -> None:
        """The pause image and the cluster's network (created on a first start, ~0.2 s)."""
        try:
            self.client.images.get(PAUSE_IMAGE)
        except ImageNotFound:
            self.slow()  # a build: seconds, more on a loaded machine
            self.client.images.build(fileobj=build_context(), custom_context=True, tag=PAUSE_IMAGE,
                                     labels={L_IMAGE: "pause"}, rm=True)
        nets = self.client.networks.list(names=[self.network])
        if not any(n.name == self.network for n in nets):
            self.client.networks.create(self.network, driver="bridge", labels={L_CLUSTER: self.cluster},
                                        check_duplicate=True)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.stop_pool.shutdown(wait=False, cancel_futures=True)
        if self.client:
            self.client.close()

    # ---- queries -----------------------------------------------------------------
    async def inspect(self, cid: str) -> dict | None:
        return await self.call(self._inspect_sync, cid)

    def ip_of(self, info: dict | None) -> str:
        """The container's IP on the cluster network, from an inspect or a list entry."""
        if not info:
            return ""
        net = (info.get("NetworkSettings") or {}).get("Networks") or {}
        return (net.get(self.network) or {}).get("IPAddress", "")

    def list_ours_sync(self) -> list[dict]:
        return self.api.containers(all=True, filters={"label": f"{L_CLUSTER}={self.cluster}"})

    def volume_path_sync(self, name: str) -> str:
        try:
            vol = self.client.volumes.get(name)
        except NotFound:
            vol = self.client.volumes.create(name, labels={L_CLUSTER: self.cluster})
        return vol.attrs["Mountpoint"]

    # ---- containers --------------------------------------------------------------
    async def create_sandbox(self, *, name: str, hostname: str, labels: dict, aliases: list[str],
                             dns_search: list[str] | None = None, extra_hosts: list[str] | None = None,
                             ) -> tuple[str, dict | None]:
        """(id, inspect) of a started sandbox. The inspect is made on the same Docker
        thread: queued apart, it would wait behind every create of a scale-up."""
        def run() -> tuple[str, dict | None]:
            net_cfg = self.api.create_networking_config(
                {self.network: self.api.create_endpoint_config(aliases=aliases or None)})
            c = self._create(PAUSE_IMAGE, name=name, hostname=hostname, labels=labels,
                             networking_config=net_cfg,
                             host_config=self.api.create_host_config(network_mode=self.network, dns_search=dns_search,
                                                                     extra_hosts=extra_hosts or None,
                                                                     init=False, ipc_mode="shareable"))
            self.api.start(c["Id"])
            return c["Id"], self._inspect_sync(c["Id"])
        return await self.call(run)

    def _inspect_sync(self, cid: str) -> dict | None:
        try:
            return self.api.inspect_container(cid)
        except NotFound:
            return None

    async def ensure_image(self, image: str, policy: str) -> tuple[bool, str]:
        def run() -> tuple[bool, str]:
            if policy != "Always" and time.monotonic() - self._images.get(image, -1e9) < 30:
                return True, ""  # seen a moment ago: spare a Docker round trip per pod
            present = True
            try:
                self.api.inspect_image(image)
                self._images[image] = time.monotonic()
            except ImageNotFound:
                present = False
            if present and policy != "Always":
                return True, ""
            if policy == "Never":
                return (True, "") if present else (False, f'Container image "{image}" is not present with pull policy of Never')
            self.slow()  # a pull takes as long as the image is large
            repo, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
            try:
                self.api.pull(repo, tag=tag or "latest")
                self._images[image] = time.monotonic()
                return True, "pulled"
            except (APIError, Exception) as e:  # noqa: BLE001 - any pull failure is ErrImagePull
                msg = getattr(e, "explanation", None) or str(e)
                return False, f"rpc error: code = Unknown desc = {msg}"
        return await self.call(run)

    async def run_container(self, name: str, *, image: str, entrypoint, command, env: dict, mounts: list[dict],
                            working_dir, labels: dict, sandbox: str | None, tty: bool, stdin: bool,
                            hostname: str | None = None, aliases: list[str] | None = None,
                            dns_search: list[str] | None = None, extra_hosts: list[str] | None = None,
                            **limits) -> tuple[str, str]:
        """Create and start a container: in the sandbox's namespaces, or (sandbox None)
        on the cluster network itself with the pod's hostname, DNS aliases and /etc/hosts
        entries (`extra_hosts`, "name:ip"). Returns (id, its IP when it owns the pod's
        network): the IP is read on the same Docker thread, so that a pod's probes and
        status need not wait for a separate inspect queued behind a scale-up's creates."""
        def run() -> tuple[str, str]:
            hc_kwargs = {k: v for k, v in limits.items() if k in ("nano_cpus", "mem_limit", "memswap_limit",
                                                                 "read_only", "privileged")}
            if sandbox:
                ns_kwargs = dict(network_mode=f"container:{sandbox}", ipc_mode=f"container:{sandbox}")
                extra = {}
            else:
                ns_kwargs = dict(network_mode=self.network, dns_search=dns_search, extra_hosts=extra_hosts or None)
                extra = dict(hostname=hostname, networking_config=self.api.create_networking_config(
                    {self.network: self.api.create_endpoint_config(aliases=aliases or None)}))
            host_config = self.api.create_host_config(
                mounts=[Mount(m["Target"], m["Source"], type=m["Type"], read_only=m["ReadOnly"]) for m in mounts],
                **ns_kwargs, **hc_kwargs)
            c = self._create(image, name=name, **extra, entrypoint=entrypoint, command=command,
                                          environment=env, working_dir=working_dir or None, labels=labels,
                                          host_config=host_config, tty=tty, stdin_open=stdin,
                                          user=limits.get("user"))
            self.api.start(c["Id"])
            return c["Id"], "" if sandbox else self.ip_of(self._inspect_sync(c["Id"]))
        started = time.time()
        cid, ip = await self.call(run)
        activity.record("container-runtime", "run", "Pod", labels.get(L_NS, ""), labels.get(L_POD, ""),
                        start=started, detail=labels.get(L_CONTAINER, name))
        return cid, ip

    def _create(self, image: str, *, name: str, **kwargs) -> dict:
        """Create a container; a leftover of ours of the same name (a crash between create
        and bookkeeping) is removed and the create retried, instead of checking every
        time. Someone else's container of that name stays: NotOurs says whose name it is."""
        try:
            return self.api.create_container(image, name=name, **kwargs)
        except APIError as e:
            if e.status_code != 409:
                raise
            remove_container(self.api, name, self.cluster)
            return self.api.create_container(image, name=name, **kwargs)

    async def exec_code(self, cid: str, cmd: list[str], timeout: float) -> int:
        def run() -> int:
            self.slow()  # the command runs as long as it runs
            ex = self.api.exec_create(cid, cmd, stdout=True, stderr=True)
            self.api.exec_start(ex["Id"])
            return self.api.exec_inspect(ex["Id"]).get("ExitCode") or 0
        try:
            return await asyncio.wait_for(self.call(run), timeout)
        except (NotFound, APIError):
            return 126

    async def stop(self, cid: str, grace: int) -> None:
        try:
            if grace <= 0:
                await self.call(self.api.kill, cid)
            else:
                await asyncio.get_running_loop().run_in_executor(
                    self.stop_pool, partial(self.api.stop, cid, timeout=grace))
        except (NotFound, APIError):
            pass

    async def remove(self, cid: str) -> None:
        try:
            await self.call(self.api.remove_container, cid, force=True)
        except (NotFound, APIError):
            pass

    async def remove_pod(self, uid: str, ids: list[str], *, sweep: bool) -> None:
        """Force-remove a pod's containers: `ids`, those its worker knows of, and with
        `sweep` any other container labelled with the pod's uid. The sweep is a filtered
        list, which dockerd answers by looking at every container: at 500 pods, one per
        pod cost it ~10 % more CPU than the removals themselves, so it runs only when the
        worker may not know them all."""
        def run() -> None:
            found = self.api.containers(all=True, filters={"label": [f"{L_CLUSTER}={self.cluster}",
                                                                    f"{L_UID}={uid}"]}) if sweep else []
            for cid in dict.fromkeys([*ids, *(c["Id"] for c in found)]):
                try:
                    self.api.remove_container(cid, force=True)
                except (NotFound, APIError):
                    pass
        await self.call(run)

    # ---- streams -----------------------------------------------------------------
    def watch_events(self, loop: asyncio.AbstractEventLoop, on_event: Callable[[dict], None],
                     stop: threading.Event, on_health: Callable[[str], None] | None = None,
                     on_connected: Callable[[], None] | None = None) -> threading.Thread:
        """Docker's event stream for our containers, delivered on the loop. It doubles as
        the health check: losing it reports Docker down (once), getting it back, up.
        `on_connected` runs on the loop each time the stream is subscribed (events from
        before it are not in it)."""
        def run() -> None:
            down = False
            while not stop.is_set():
                try:
                    client = docker.from_env(timeout=None)
                    client.ping()
                    if down and on_health:
                        loop.call_soon_threadsafe(on_health, "ok")
                    down = False
                    events = client.api.events(decode=True, filters={"type": "container",
                                                                     "label": f"{L_CLUSTER}={self.cluster}"})
                    if on_connected:  # the request is made: events from now on are in the stream
                        loop.call_soon_threadsafe(on_connected)
                    for ev in events:
                        if stop.is_set():
                            return
                        loop.call_soon_threadsafe(on_event, ev)
                except Exception as e:  # noqa: BLE001 - reconnect when Docker comes back
                    if not down:
                        log.warning("docker event stream lost: %s", e)
                        if on_health:
                            loop.call_soon_threadsafe(on_health, f"Docker is not reachable: {e}")
                    down = True
                    stop.wait(1.0)
        t = threading.Thread(target=run, name="docker-events", daemon=True)
        t.start()
        return t

    def _follow_chunks(self, cid: str, kwargs: dict, holder: dict):
        """Followed log bytes, as much as each read brings. The SDK's stream yields one
        frame at a time through two urllib3 reads per line (~20 us a line); here one
        `read1` takes whatever has arrived and the frames in it are unpacked in a loop.
        Uses SDK internals (docker 7.x), so any surprise falls back to the SDK's stream."""
        try:
            tty = self.api.inspect_container(cid)["Config"]["Tty"]
            params = {"stdout": 1, "stderr": 1, "follow": 1, "timestamps": int(bool(kwargs.get("timestamps"))),
                      "tail": kwargs.get("tail", "all")}
            if kwargs.get("since"):
                params["since"] = kwargs["since"]
            res = self.api._get(self.api._url("/containers/{0}/logs", cid), params=params, stream=True)
        except AttributeError:
            yield from self.api.logs(cid, stream=True, follow=True, **kwargs)
            return
        try:
            self.api._raise_for_status(res)
            fp = res.raw._fp  # http.client.HTTPResponse: read1 undoes the chunked encoding
            holder["sock"] = sock = self.api._get_raw_response_socket(res)
            self.api._disable_socket_timeout(sock)
            if holder.get("cancelled"):  # the consumer left before the socket was known
                return
            pending = b""
            while data := fp.read1(1 << 16):
                if tty:
                    yield data
                    continue
                buf, out, at = pending + data, [], 0
                while len(buf) - at >= 8:  # frame: stream (1), zero (3), length (4, big-endian)
                    end = at + 8 + int.from_bytes(buf[at + 4:at + 8], "big")
                    if end > len(buf):
                        break
                    out.append(buf[at + 8:end])
                    at = end
                pending = buf[at:]
                if out:
                    yield b"".join(out)
        finally:
            res.close()

    async def logs(self, cid: str, *, follow: bool, tail: int | None, timestamps: bool,
                   since: int | None = None) -> AsyncIterator[bytes]:
        """The container's log as bytes, in batches: Docker sends one frame per line, and a
        hand-over to the loop per line capped a chatty pod at ~7,500 lines/s. A reader
        thread appends frames to a buffer and wakes the loop only when it is not already
        awake; the loop takes everything buffered at once. The thread waits while more
        than LOG_BUFFER bytes are unread (a slow client slows the reader, nothing is lost)."""
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        cond = threading.Condition()
        state = {"buf": [], "size": 0, "awake": False, "done": False}
        cancelled = threading.Event()
        holder: dict = {}  # the follow socket, shut down when the reader is no longer wanted

        def hand_over(chunk: bytes | None) -> None:
            with cond:
                if chunk is None:
                    state["done"] = True
                else:
                    state["buf"].append(chunk)
                    state["size"] += len(chunk)
                wake, state["awake"] = not state["awake"], True
            if wake:
                loop.call_soon_threadsafe(ready.set)
            with cond:
                while state["size"] > LOG_BUFFER and not cancelled.is_set():
                    cond.wait(0.5)

        def run() -> None:
            _name_thread(b"docker-logs")
            try:
                kwargs = dict(stdout=True, stderr=True, timestamps=timestamps, tail=tail if tail is not None else "all")
                if since:
                    kwargs["since"] = since
                if follow:
                    for chunk in self._follow_chunks(cid, kwargs, holder):
                        if cancelled.is_set():
                            break
                        hand_over(chunk)
                else:
                    hand_over(self.api.logs(cid, **kwargs))
            except Exception as e:  # noqa: BLE001
                log.debug("log stream ended: %s", e)
            finally:
                if not cancelled.is_set():
                    hand_over(None)

        threading.Thread(target=run, name="docker-logs", daemon=True).start()
        try:
            while True:
                await ready.wait()
                with cond:
                    ready.clear()
                    chunks, done = state["buf"], state["done"]
                    state.update(buf=[], size=0, awake=False)
                    cond.notify_all()
                if chunks:
                    yield b"".join(chunks)
                if done:
                    return
        finally:
            cancelled.set()
            with cond:
                cond.notify_all()
                holder["cancelled"] = True
            sock = holder.get("sock")
            if sock is not None:  # a quiet container: do not leave the thread blocked in recv
                try:
                    getattr(sock, "_sock", sock).shutdown(socket.SHUT_RDWR)  # SocketIO wraps the socket
                except (OSError, AttributeError):
                    pass
