"""The controller manager: level-triggered reconcile passes.

Every pass runs each controller over the whole store (desired vs observed, then act).
A store event wakes the loop at once (bursts are coalesced for a few ms); a periodic
resync every second covers time-based conditions (minReadySeconds, deadlines) and any
event that was missed. Controllers only write when something differs, so the loop
settles. A controller that raises is logged and the others go on.
"""

from __future__ import annotations

import asyncio
import logging

from .deployment import DeploymentController
from .endpoints import EndpointsController
from .cronjob import CronJobController
from .gc import GarbageCollector
from .nodes import NodeController
from .replicaset import ReplicaSetController
from .scheduler import Scheduler
from .workloads import DaemonSetController, JobController, StatefulSetController

log = logging.getLogger("kubedeck.controllers")
RESYNC_SECONDS = 1.0
COALESCE_SECONDS = 0.005


class ControllerManager:
    def __init__(self, cluster):
        self.c = cluster
        self.controllers = [NodeController(cluster), DeploymentController(cluster),
                            ReplicaSetController(cluster), StatefulSetController(cluster),
                            DaemonSetController(cluster), CronJobController(cluster), JobController(cluster),
                            Scheduler(cluster), EndpointsController(cluster), GarbageCollector(cluster)]
        self._wake = asyncio.Event()

    async def _pump(self) -> None:
        async for ev in self.c.store.watch():
            if ev.object.get("kind") != "Event":
                self._wake.set()

    def run_once(self) -> None:
        for ctl in self.controllers:
            try:
                ctl.reconcile()
            except Exception:  # noqa: BLE001 - one controller's bug must not stop the rest
                log.exception("%s failed", type(ctl).__name__)

    async def run(self) -> None:
        pump = self.c.spawn(self._pump(), "controller-watch")
        try:
            while True:
                self._wake.clear()
                self.run_once()
                try:
                    await asyncio.wait_for(self._wake.wait(), RESYNC_SECONDS)
                    await asyncio.sleep(COALESCE_SECONDS)
                except asyncio.TimeoutError:
                    pass
        finally:
            pump.cancel()
