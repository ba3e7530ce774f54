"""Live CPU and MEM in the TUI's pods and nodes panes, from a fake metrics.k8s.io."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubedeck.engine.present.resources import VIEWS
from kubedeck.tui.app import KubedeckApp
from kubedeck.tui.metrics import with_usage
from kubedeck.tui.widgets.resource_table import ResourceTable
from tui_fake_api import NOW, TOKEN, FakeApi, dataset, wait_for


@dataclass
class MetricsApi(FakeApi):
    """The fake API plus metrics-server's two lists."""

    metrics: dict[str, list[dict]] = field(default_factory=dict)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        prefix = "/apis/metrics.k8s.io/v1beta1/"
        if request.path.startswith(prefix):
            plural = request.path.rsplit("/", 1)[1]
            kind = "PodMetricsList" if plural == "pods" else "NodeMetricsList"
            return web.json_response({"kind": kind, "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {},
                                      "items": self.metrics.get(plural, [])})
        return await super()._handle(request)


def pod_metrics(name: str, *usage: tuple[str, str]) -> dict:
    return {"metadata": {"name": name, "namespace": "default"}, "window": "10s",
            "containers": [{"name": f"c{i}", "usage": {"cpu": cpu, "memory": mem}} for i, (cpu, mem) in enumerate(usage)]}


@pytest.fixture
async def api():
    fake = MetricsApi()
    dataset(fake)
    fake.metrics = {"pods": [pod_metrics("web-1", ("250000000n", "10Mi"), ("1500000n", "2048Ki"))],
                    "nodes": [{"metadata": {"name": "node-1"}, "usage": {"cpu": "1500m", "memory": "2Gi"}}]}
    await fake.start()
    yield fake
    await fake.stop()


def cell(table: ResourceTable, uid: str, column: str) -> str:
    return str(table.get_cell(uid, column))


def test_pods_view_gains_cpu_and_mem_after_restarts():
    kind = with_usage(VIEWS["pods"])
    cols = kind.columns
    assert cols[cols.index("RESTARTS") + 1:cols.index("RESTARTS") + 3] == ("CPU", "MEM")
    assert with_usage(kind) is kind and with_usage(VIEWS["deployments"]) is VIEWS["deployments"]


async def test_pod_and_node_cells_show_live_usage(api, tmp_path):
    app = KubedeckApp(api_url=api.url, token=TOKEN, now=lambda: NOW, config_dir=tmp_path, status_interval=0.2)
    async with app.run_test(size=(140, 34)) as pilot:
        main = app.query_one("#main", ResourceTable)
        nodes = app.query_one("#nodes", ResourceTable)
        await wait_for(pilot, lambda: main.row_count == 4 and cell(main, "uid-default-web-1", "CPU") == "252m",
                       message="web-1 usage")
        assert cell(main, "uid-default-web-1", "MEM") == "12Mi"  # both containers summed
        assert cell(main, "uid-default-web-2", "CPU") == "-"  # no metrics for it
        await wait_for(pilot, lambda: nodes.row_count == 1 and cell(nodes, "uid-node-1", "CPU") == "1500m/4",
                       message="node usage")
        assert cell(nodes, "uid-node-1", "MEM") == "2Gi/8Gi"
        # the next poll moves the cells in place
        api.metrics["pods"] = [pod_metrics("web-1", ("1", "64Mi")), pod_metrics("web-2", ("5m", "1Mi"))]
        await app.metrics.poll()
        await wait_for(pilot, lambda: cell(main, "uid-default-web-1", "CPU") == "1"
                       and cell(main, "uid-default-web-2", "MEM") == "1Mi", message="new usage")
        # another view and back: the columns stay
        app.run_command("deploy")
        await wait_for(pilot, lambda: main.kind.plural == "deployments")
        app.run_command("pods")
        await wait_for(pilot, lambda: main.kind.plural == "pods" and main.row_count == 4)
        assert cell(main, "uid-default-web-1", "MEM") == "64Mi"


async def test_without_a_metrics_api_usage_is_a_dash(tmp_path):
    fake = FakeApi()
    dataset(fake)
    await fake.start()
    try:
        app = KubedeckApp(api_url=fake.url, token=TOKEN, now=lambda: NOW, config_dir=tmp_path, status_interval=0.2)
        async with app.run_test(size=(140, 34)) as pilot:
            nodes = app.query_one("#nodes", ResourceTable)
            main = app.query_one("#main", ResourceTable)
            await wait_for(pilot, lambda: nodes.row_count == 1 and main.row_count == 4
                           and cell(nodes, "uid-node-1", "PODS") == "3")
            assert cell(nodes, "uid-node-1", "CPU") == "-/4"
            assert cell(main, "uid-default-web-1", "CPU") == "-"
    finally:
        await fake.stop()
