"""Resource usage of the pods' containers, for `metrics.k8s.io` and the TUI.

The sampler reads every running container of the node agent's pods (app containers
and sandboxes) about every `period` seconds: cumulative CPU time and the memory working
set, from the cgroup files (`cgroups.py`) or, for a container whose cgroup is not found,
from Docker's one-shot stats on the agent's Docker threads. CPU usage is a rate between
two readings of the same container, as metrics-server computes it from the kubelet's
cumulative counters: `(cpu_ns now - cpu_ns before) / seconds between` = nanocores; the
window is the time between the readings. Memory is the newest working set.

Sampling is on demand: `latest()` marks interest and starts the loop when it is not
running; the loop stops (and forgets its readings) `keep` seconds after the last
question, so an engine nobody asks pays nothing. After such a stop the first two
readings are `first_window` seconds apart, so the first answer comes in about a second
instead of a period. File reads run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .cgroups import Counters, Hierarchy, from_docker_stats

log = logging.getLogger("kubedeck.metrics")

PERIOD = 10.0  # seconds between readings while someone asks (metrics-server's default is 15)
FIRST_WINDOW = 1.0  # seconds between the first two readings after an idle spell
KEEP = 60.0  # stop sampling this long after the last question
Reading = tuple[float, Counters]  # (monotonic seconds, counters)


@dataclass(frozen=True)
class Usage:
    cpu_nanocores: int
    memory_bytes: int


@dataclass
class PodUsage:
    """One pod's latest usage: its app containers by name, and its sandbox if it has one."""

    uid: str
    namespace: str
    name: str
    containers: dict[str, Usage] = field(default_factory=dict)
    sandbox: Usage | None = None

    def total(self) -> Usage:
        parts = [*self.containers.values(), *([self.sandbox] if self.sandbox else [])]
        return Usage(sum(u.cpu_nanocores for u in parts), sum(u.memory_bytes for u in parts))


def rate(before: Reading, now: Reading) -> Usage | None:
    """CPU nanocores between two readings of one container, with the newer working set;
    None when the clock or the counter did not move forward (a reused id, a reset)."""
    (t0, c0), (t1, c1) = before, now
    if t1 <= t0 or c1.cpu_ns < c0.cpu_ns:
        return None
    return Usage(round((c1.cpu_ns - c0.cpu_ns) / (t1 - t0)), c1.memory_ws)


@dataclass(frozen=True)
class _Target:
    uid: str
    namespace: str
    name: str
    containers: tuple[tuple[str, str], ...]  # (container name, container id)
    sandbox: str | None


class MetricsSampler:
    """On-demand sampler over the node agent's pods; `agent()` returns the agent or None."""

    def __init__(self, agent: Callable[[], object | None], *, period: float = PERIOD,
                 first_window: float = FIRST_WINDOW, keep: float = KEEP,
                 hierarchy: Hierarchy | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.agent = agent
        self.clock = clock  # for the rates; tests pass a fake one
        self.period, self.first_window, self.keep = period, first_window, keep
        self.hierarchy = hierarchy if hierarchy is not None else Hierarchy.detect()
        #: uid -> usage, from the newest pass that had rates
        self.pods: dict[str, PodUsage] = {}
        #: wall-clock time of that pass and the seconds its rates span
        self.timestamp: float | None = None
        self.window: float = 0.0
        self._readings: dict[str, Reading] = {}
        self._dirs: dict[str, tuple | None] = {}  # container id -> its cgroup dirs (None: ask Docker)
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()
        self._asked = 0.0

    def peek(self) -> dict[str, tuple[float, float]]:
        """The newest usage by pod uid, as (cpu cores, memory bytes) of its app containers
        (what metrics-server reports and the HPA reads), without waiting: marks interest
        like `latest`, so an idle sampler starts and the next call has rates."""
        loop = asyncio.get_running_loop()
        self._asked = loop.time()
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()
            self._task = loop.create_task(self._run(), name="metrics-sampler")
            self._task.add_done_callback(_log_failure)
        return {uid: (sum(c.cpu_nanocores for c in u.containers.values()) / 1e9,
                      float(sum(c.memory_bytes for c in u.containers.values())))
                for uid, u in self.pods.items() if u.containers}

    async def latest(self, *, timeout: float = 5.0) -> dict[str, PodUsage]:
        """Usage by pod uid. Marks interest (sampling runs while asked), and after an
        idle spell waits, at most `timeout` seconds, for the first rates."""
        self.peek()
        if not self._ready.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._ready.wait()), timeout)
        return self.pods

    async def close(self) -> None:
        """Stop sampling now (engine shutdown)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self.sample()
            await asyncio.sleep(self.first_window)
            while True:
                await self.sample()
                if not self._ready.is_set():
                    # the callers waiting for these first rates read them after this task
                    # yields: a slow first pass must not end the loop (and clear them) first
                    self._ready.set()
                    self._asked = max(self._asked, loop.time())
                if loop.time() - self._asked > self.keep:
                    return
                await asyncio.sleep(self.period)
        finally:  # stale numbers are never served after a pause
            self._readings.clear()
            self.pods, self.timestamp = {}, None

    async def sample(self) -> None:
        """One pass: read every running container, turn two readings into rates."""
        agent = self.agent()
        if agent is None:
            self.pods, self.timestamp = {}, None
            return
        targets = _targets(agent)
        ids = [cid for t in targets for _, cid in t.containers] + [t.sandbox for t in targets if t.sandbox]
        readings, missing = await asyncio.to_thread(self._read_files, ids)
        if missing:
            found = await asyncio.gather(*(agent.docker.call(_read_docker, agent.docker.api, cid, self.clock)
                                           for cid in missing))
            readings.update({cid: r for cid, r in zip(missing, found) if r is not None})
        usage = {cid: u for cid, now in readings.items()
                 if cid in self._readings and (u := rate(self._readings[cid], now)) is not None}
        windows = [readings[cid][0] - self._readings[cid][0] for cid in usage]
        self._readings = readings
        if not usage:
            return
        pods = {}
        for t in targets:
            p = PodUsage(t.uid, t.namespace, t.name, sandbox=usage.get(t.sandbox or ""))
            p.containers = {name: usage[cid] for name, cid in t.containers if cid in usage}
            if p.containers:
                pods[t.uid] = p
        self.pods, self.timestamp, self.window = pods, time.time(), max(windows)

    def _read_files(self, ids: list[str]) -> tuple[dict[str, Reading], list[str]]:
        """(readings from cgroup files, ids to ask Docker for); runs in a thread."""
        self._dirs = {cid: self._dirs[cid] if cid in self._dirs else self._find(cid) for cid in ids}
        out, missing = {}, []
        for cid in ids:
            dirs = self._dirs[cid]
            counters = self.hierarchy.read(dirs) if dirs else None
            if counters is None:
                missing.append(cid)
            else:
                out[cid] = (self.clock(), counters)
        return out, missing

    def _find(self, cid: str) -> tuple | None:
        return self.hierarchy.find(cid) if self.hierarchy is not None else None


def _targets(agent) -> list[_Target]:
    """The running containers of the agent's pods; read on the loop, where workers change."""
    out = []
    for w in list(agent.workers.values()):
        running = tuple((name, st.id) for name, st in w.containers.items() if st.id and not st.terminated)
        if running:
            out.append(_Target(w.uid, w.ns, w.name, running, w.sandbox))
    return out


def _read_docker(api, cid: str, clock: Callable[[], float]) -> Reading | None:
    """One container's counters from Docker (one-shot stats: no wait for a second CPU
    reading); its time is the middle of the call. Runs on a Docker thread."""
    from docker.errors import InvalidVersion

    start = clock()
    try:
        try:
            stats = api.stats(cid, stream=False, one_shot=True)
        except InvalidVersion:  # API older than 1.41
            stats = api.stats(cid, stream=False)
    except Exception as e:  # noqa: BLE001 - gone, or Docker unreachable: no reading this pass
        log.debug("no stats for %s: %s", cid[:12], e)
        return None
    counters = from_docker_stats(stats)
    return ((start + clock()) / 2, counters) if counters else None


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("metrics sampler failed", exc_info=task.exception())
