"""Live CPU and MEM for the pods and nodes panes, from `metrics.k8s.io`, as k9s shows them.

`MetricsPoller.run()` lists PodMetrics and NodeMetrics through the app's `ApiClient`
every `interval` seconds (the engine's own sampling period) and calls `on_update()`;
the tables' decorate callbacks read `pod_cells()` and `node_cells()`, so cells change in
place like any other. The pods view gains CPU and MEM after RESTARTS (`with_usage`); the
nodes pane's CPU and MEM become usage/allocatable. Polling is what keeps the engine
sampling: it stops about a minute after the TUI quits. Until an answer (or when the
server has no metrics API) the usage shows as "-".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from kubedeck.engine.client import ApiError
from kubedeck.engine.present import format as fmt
from kubedeck.engine.present.resources import ResourceKind
from kubedeck.engine.quantity import quantity_or_zero

from .api import ApiClient, Disconnected

GROUP_VERSION = "metrics.k8s.io/v1beta1"
INTERVAL = 10.0
Usage = tuple[float, float]  # (cores, bytes)


def _dash(obj: dict, now) -> str:
    return "-"


def with_usage(kind: ResourceKind) -> ResourceKind:
    """The pods view with CPU and MEM after RESTARTS; any other kind as it is."""
    if kind.plural != "pods" or "CPU" in kind.columns:
        return kind
    cols = list(kind.columns)
    at = cols.index("RESTARTS") + 1 if "RESTARTS" in cols else len(cols)
    cols[at:at] = ["CPU", "MEM"]
    return replace(kind, show=tuple(cols), extras={**kind.extras, "CPU": _dash, "MEM": _dash})


def _usage(item: dict) -> Usage | None:
    """A NodeMetrics' usage, or a PodMetrics' containers summed; None if not metrics."""
    if isinstance(item.get("usage"), dict):
        parts = [item["usage"]]
    elif isinstance(item.get("containers"), list):
        parts = [c.get("usage") or {} for c in item["containers"]]
    else:
        return None
    return (sum(quantity_or_zero(p.get("cpu")) for p in parts),
            sum(quantity_or_zero(p.get("memory")) for p in parts))


class MetricsPoller:
    def __init__(self, api: ApiClient, *, on_update: Callable[[], None], interval: float = INTERVAL) -> None:
        self.api = api
        self.on_update = on_update
        self.interval = interval
        self.pods: dict[tuple[str, str], Usage] = {}  # (namespace, name) -> usage
        self.nodes: dict[str, Usage] = {}

    async def run(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(self.interval)

    async def poll(self) -> None:
        try:
            pods, _ = await self.api.list("pods", None, GROUP_VERSION)
            nodes, _ = await self.api.list("nodes", None, GROUP_VERSION)
        except (ApiError, Disconnected):
            pods = nodes = []
        self.pods = {((p.get("metadata") or {}).get("namespace", ""), (p.get("metadata") or {}).get("name", "")): u
                     for p in pods if (u := _usage(p)) is not None}
        self.nodes = {(n.get("metadata") or {}).get("name", ""): u for n in nodes if (u := _usage(n)) is not None}
        self.on_update()

    def pod_cells(self, pod: dict, cells: list[str], headers: tuple[str, ...]) -> list[str]:
        """Fill the CPU and MEM cells of a pods row."""
        meta = pod.get("metadata") or {}
        usage = self.pods.get((meta.get("namespace", ""), meta.get("name", "")))
        if usage is not None and "CPU" in headers and "MEM" in headers:
            cells[headers.index("CPU")] = fmt.fmt_cpu(usage[0])
            cells[headers.index("MEM")] = fmt.fmt_memory(usage[1])
        return cells

    def node_cells(self, node: dict) -> list[str]:
        """The CPU and MEM cells of a node: usage/allocatable."""
        status = node.get("status") or {}
        alloc = status.get("allocatable") or status.get("capacity") or {}
        usage = self.nodes.get((node.get("metadata") or {}).get("name", ""))
        cpu = fmt.fmt_cpu(usage[0]) if usage else "-"
        mem = fmt.fmt_memory(usage[1]) if usage else "-"
        return [f"{cpu}/{fmt.fmt_cpu(quantity_or_zero(alloc.get('cpu')))}",
                f"{mem}/{fmt.fmt_memory(quantity_or_zero(alloc.get('memory')))}"]
