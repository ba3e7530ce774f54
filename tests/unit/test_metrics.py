"""The metrics arithmetic and plumbing without Docker: cgroup files in tmp_path, a fake
node agent, a fake clock, and the metrics.k8s.io handlers on an aiohttp test server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from kubedeck.engine.agent.cgroups import (
    Counters,
    Hierarchy,
    from_docker_stats,
    stat_value,
    working_set,
)
from kubedeck.engine.agent.metrics import MetricsSampler, PodUsage, Usage, rate
from kubedeck.engine.agent.pod_status import CState
from kubedeck.engine.api import metrics_api
from kubedeck.engine.api.metrics_api import MetricsApi, duration
from kubedeck.engine.quantity import cpu_quantity, memory_quantity

CID_A, CID_B, SANDBOX = "a" * 64, "b" * 64, "c" * 64


# ---- arithmetic -----------------------------------------------------------------------

def test_working_set_is_usage_minus_inactive_file_floored_at_zero():
    assert working_set(100 << 20, 30 << 20) == 70 << 20
    assert working_set(10, 10) == 0
    assert working_set(10, 50) == 0


def test_rate_is_cpu_nanoseconds_per_second_with_newest_memory():
    assert rate((10.0, Counters(1_000_000_000, 5)), (12.0, Counters(2_000_000_000, 7))) == Usage(500_000_000, 7)
    assert rate((10.0, Counters(0, 5)), (10.5, Counters(250_000, 5))) == Usage(500_000, 5)
    # a counter that went back (a reset) or a clock that did not move gives no rate
    assert rate((10.0, Counters(9, 1)), (11.0, Counters(3, 1))) is None
    assert rate((10.0, Counters(1, 1)), (10.0, Counters(5, 1))) is None


def test_pod_total_adds_containers_and_sandbox():
    p = PodUsage("u", "default", "p", {"a": Usage(3, 10), "b": Usage(4, 20)}, sandbox=Usage(1, 1))
    assert p.total() == Usage(8, 31)


def test_stat_value_reads_the_named_key_only():
    text = "cache 10\ninactive_file 20\ntotal_inactive_file 30\n"
    assert stat_value(text, "inactive_file") == 20
    assert stat_value(text, "total_inactive_file") == 30
    assert stat_value(text, "missing") == 0


def test_docker_stats_fallback_uses_v1_then_v2_inactive_file():
    v1 = {"cpu_stats": {"cpu_usage": {"total_usage": 42}},
          "memory_stats": {"usage": 1000, "stats": {"total_inactive_file": 300, "inactive_file": 100}}}
    v2 = {"cpu_stats": {"cpu_usage": {"total_usage": 42}}, "memory_stats": {"usage": 1000, "stats": {"inactive_file": 100}}}
    assert from_docker_stats(v1) == Counters(42, 700)
    assert from_docker_stats(v2) == Counters(42, 900)
    assert from_docker_stats({"cpu_stats": {}, "memory_stats": {}}) is None


@pytest.mark.parametrize(("nanocores", "text"), [(0, "0"), (2_000_000_000, "2"), (250_000_000, "250m"),
                                                 (12_000, "12u"), (1_234_567, "1234567n")])
def test_cpu_quantity_is_canonical(nanocores, text):
    assert cpu_quantity(nanocores) == text


@pytest.mark.parametrize(("num", "text"), [(0, "0"), (64 << 20, "64Mi"), (12345 * 1024, "12345Ki"),
                                           (1000, "1000"), (3 << 30, "3Gi")])
def test_memory_quantity_is_canonical(num, text):
    assert memory_quantity(num) == text


def test_window_prints_like_a_go_duration():
    assert duration(10.0) == "10s"
    assert duration(10.0126) == "10.013s"
    assert duration(0.5) == "500ms"


# ---- cgroup files -------------------------------------------------------------------

def _mountinfo(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "mountinfo"
    p.write_text("".join(line + "\n" for line in lines))
    return p


def test_hierarchy_prefers_v1_controllers_in_a_hybrid_layout(tmp_path):
    info = _mountinfo(tmp_path, [
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct",
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
    ])
    assert Hierarchy.detect(info) == Hierarchy(Path("/sys/fs/cgroup/cpu,cpuacct"), Path("/sys/fs/cgroup/memory"),
                                               v2=False)


def test_hierarchy_uses_cgroup2_without_v1_controllers(tmp_path):
    info = _mountinfo(tmp_path, ["25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate",
                                 "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd"])
    assert Hierarchy.detect(info) == Hierarchy(Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup"), v2=True)
    assert Hierarchy.detect(tmp_path / "absent") is None


def _v1_container(root: Path, cid: str, *, cpu_ns: int, usage: int, inactive: int) -> None:
    cpu, mem = root / "cpuacct" / "docker" / cid, root / "memory" / "docker" / cid
    cpu.mkdir(parents=True, exist_ok=True)
    mem.mkdir(parents=True, exist_ok=True)
    (cpu / "cpuacct.usage").write_text(f"{cpu_ns}\n")
    (mem / "memory.usage_in_bytes").write_text(f"{usage}\n")
    (mem / "memory.stat").write_text(f"cache 5\ninactive_file 1\ntotal_inactive_file {inactive}\n")


def test_v1_read_uses_cpuacct_and_total_inactive_file(tmp_path):
    _v1_container(tmp_path, CID_A, cpu_ns=123, usage=5000, inactive=1000)
    h = Hierarchy(tmp_path / "cpuacct", tmp_path / "memory", v2=False)
    dirs = h.find(CID_A)
    assert dirs is not None and h.read(dirs) == Counters(123, 4000)
    assert h.find(CID_B) is None


def test_v2_read_under_the_systemd_driver(tmp_path):
    d = tmp_path / "system.slice" / f"docker-{CID_A}.scope"
    d.mkdir(parents=True)
    (d / "cpu.stat").write_text("usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n")
    (d / "memory.current").write_text("9000\n")
    (d / "memory.stat").write_text("anon 100\nfile 800\ninactive_file 700\n")
    h = Hierarchy(tmp_path, tmp_path, v2=True)
    dirs = h.find(CID_A)
    assert dirs == (d, d)
    assert h.read(dirs) == Counters(2_500_000, 8300)
    (d / "memory.current").unlink()  # the container stopped
    assert h.read(dirs) is None


# ---- the sampler ----------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeDocker:
    """The agent's DockerIO as the sampler uses it: `api.stats` behind `call`."""

    def __init__(self, stats: dict[str, dict]) -> None:
        self.stats, self.asked = stats, []
        self.api = SimpleNamespace(stats=self._stats)

    def _stats(self, cid, stream, one_shot):
        self.asked.append(cid)
        return self.stats[cid]

    async def call(self, fn, *args):
        return fn(*args)


def _agent(docker: FakeDocker | None = None, *, uid="uid-1") -> SimpleNamespace:
    w = SimpleNamespace(uid=uid, ns="default", name="web", sandbox=SANDBOX,
                        containers={"app": CState("app", id=CID_A), "side": CState("side", id=CID_B),
                                    "done": CState("done", id="d" * 64, terminated={"exitCode": 0})})
    return SimpleNamespace(workers={uid: w}, docker=docker or FakeDocker({}))


async def test_sampler_turns_two_readings_into_rates(tmp_path):
    clock = FakeClock()
    h = Hierarchy(tmp_path / "cpuacct", tmp_path / "memory", v2=False)
    for cid in (CID_A, CID_B, SANDBOX):
        _v1_container(tmp_path, cid, cpu_ns=10**9, usage=10 << 20, inactive=0)
    agent = _agent()
    s = MetricsSampler(lambda: agent, hierarchy=h, clock=clock)
    await s.sample()
    assert s.pods == {} and s.timestamp is None  # one reading: no rate yet
    clock.now += 10
    _v1_container(tmp_path, CID_A, cpu_ns=10**9 + 5 * 10**9, usage=80 << 20, inactive=16 << 20)  # half a core
    _v1_container(tmp_path, CID_B, cpu_ns=10**9 + 10**7, usage=8 << 20, inactive=0)  # 1m
    await s.sample()
    pod = s.pods["uid-1"]
    assert pod.containers == {"app": Usage(500_000_000, 64 << 20), "side": Usage(1_000_000, 8 << 20)}
    assert pod.sandbox == Usage(0, 10 << 20)
    assert s.window == 10
    assert agent.docker.asked == []  # every container was found in the cgroup files


async def test_sampler_asks_docker_for_containers_without_cgroup_files(tmp_path):
    clock = FakeClock()

    def stats(cpu):
        return {"cpu_stats": {"cpu_usage": {"total_usage": cpu}},
                "memory_stats": {"usage": 3 << 20, "stats": {"inactive_file": 1 << 20}}}
    docker = FakeDocker({cid: stats(0) for cid in (CID_A, CID_B, SANDBOX)})
    agent = _agent(docker)
    s = MetricsSampler(lambda: agent, hierarchy=Hierarchy(tmp_path, tmp_path, v2=True), clock=clock)
    await s.sample()
    clock.now += 2
    docker.stats[CID_A] = stats(2 * 10**9)
    await s.sample()
    assert s.pods["uid-1"].containers["app"] == Usage(10**9, 2 << 20)
    assert sorted(set(docker.asked)) == sorted([CID_A, CID_B, SANDBOX])


async def test_sampling_runs_only_while_asked(tmp_path):
    h = Hierarchy(tmp_path / "cpuacct", tmp_path / "memory", v2=False)
    for cid in (CID_A, CID_B, SANDBOX):
        _v1_container(tmp_path, cid, cpu_ns=10**9, usage=1 << 20, inactive=0)
    agent = _agent()
    s = MetricsSampler(lambda: agent, hierarchy=h, period=0.01, first_window=0.01, keep=0.05)
    pods = await s.latest(timeout=5)
    assert set(pods) == {"uid-1"}  # the first answer waited for the first rates
    task = s._task
    await asyncio.wait_for(task, 5)  # nobody asks again: the loop ends by itself
    assert s.pods == {} and s.timestamp is None  # and forgets what it read
    pods = await s.latest(timeout=5)
    assert s._task is not task and set(pods) == {"uid-1"}
    await s.close()
    assert s._task.done() and s.pods == {}


async def test_a_first_pass_slower_than_keep_still_answers(tmp_path):
    """The loop ends once nobody asked for `keep` seconds, and forgets what it read; the
    caller that started it must get its rates even when the first pass took longer."""
    class SlowHierarchy(Hierarchy):
        def read(self, dirs):
            time.sleep(0.03)  # three containers: 0.09 s a pass, longer than keep
            return super().read(dirs)
    h = SlowHierarchy(tmp_path / "cpuacct", tmp_path / "memory", v2=False)
    for cid in (CID_A, CID_B, SANDBOX):
        _v1_container(tmp_path, cid, cpu_ns=10**9, usage=1 << 20, inactive=0)
    s = MetricsSampler(lambda: _agent(), hierarchy=h, period=0.01, first_window=0.01, keep=0.05)
    assert set(await s.latest(timeout=5)) == {"uid-1"}
    await s.close()


# ---- the API ------------------------------------------------------------------------

class StaticSampler:
    def __init__(self, pods: dict[str, PodUsage]) -> None:
        self.pods, self.timestamp, self.window = pods, 1_700_000_000.0, 10.5
        self.closed = False

    async def latest(self):
        return self.pods

    async def close(self):
        self.closed = True


def _pod(store, name: str, labels: dict, node: str = "kubedeck") -> dict:
    return store.create({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": name, "namespace": "default", "labels": labels},
                         "spec": {"nodeName": node, "containers": [{"name": "app", "image": "busybox"},
                                                                    {"name": "side", "image": "busybox"}]}})


@pytest.fixture
async def api(cluster):
    for node in ("kubedeck", "kubedeck-m2"):
        cluster.store.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node, "labels": {"n": node}}})
    web1 = _pod(cluster.store, "web-1", {"app": "web"})
    _pod(cluster.store, "db-1", {"app": "db"})
    _pod(cluster.store, "idle", {"app": "idle"})  # no sample yet: absent
    db = cluster.store.peek("Pod", "default", "db-1")
    usage = {web1["metadata"]["uid"]: PodUsage(web1["metadata"]["uid"], "default", "web-1",
                                               {"side": Usage(2_000_000, 4 << 20), "app": Usage(250_000_000, 12345 * 1024)},
                                               sandbox=Usage(1000, 1 << 20)),
             db["metadata"]["uid"]: PodUsage(db["metadata"]["uid"], "default", "db-1", {"app": Usage(10**9, 1 << 30)})}
    app = web.Application()
    sampler = StaticSampler(usage)
    MetricsApi(cluster.store, lambda: None, sampler=sampler).install(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()
    assert sampler.closed  # the app's cleanup stops the sampler


async def test_pod_metrics_list_has_metrics_server_shape(api):
    r = await api.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods")
    body = await r.json()
    assert body["kind"] == "PodMetricsList" and body["apiVersion"] == "metrics.k8s.io/v1beta1"
    assert [i["metadata"]["name"] for i in body["items"]] == ["db-1", "web-1"]
    web1 = body["items"][1]
    assert web1["kind"] == "PodMetrics" and web1["metadata"]["labels"] == {"app": "web"}
    assert web1["timestamp"] == "2023-11-14T22:13:20Z" and web1["window"] == "10.5s"
    assert web1["containers"] == [{"name": "app", "usage": {"cpu": "250m", "memory": "12345Ki"}},
                                  {"name": "side", "usage": {"cpu": "2m", "memory": "4Mi"}}]


async def test_pod_metrics_honour_selectors_and_get(api):
    r = await api.get("/apis/metrics.k8s.io/v1beta1/pods", params={"labelSelector": "app in (web,idle)"})
    assert [i["metadata"]["name"] for i in (await r.json())["items"]] == ["web-1"]
    r = await api.get("/apis/metrics.k8s.io/v1beta1/pods", params={"fieldSelector": "metadata.name=db-1"})
    assert [i["metadata"]["name"] for i in (await r.json())["items"]] == ["db-1"]
    r = await api.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/db-1")
    assert (await r.json())["containers"] == [{"name": "app", "usage": {"cpu": "1", "memory": "1Gi"}}]
    r = await api.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/idle")
    assert r.status == 404 and (await r.json())["message"] == 'podmetrics.metrics.k8s.io "idle" not found'
    r = await api.get("/apis/metrics.k8s.io/v1beta1/pods", params={"labelSelector": "app in (web"})
    assert r.status == 400


async def test_node_metrics_sum_the_nodes_pods(api):
    r = await api.get("/apis/metrics.k8s.io/v1beta1/nodes")
    body = await r.json()
    assert body["kind"] == "NodeMetricsList"
    node = next(i for i in body["items"] if i["metadata"]["name"] == "kubedeck")
    # web-1: 250m + 2m + 1000n, 12345Ki + 4Mi + 1Mi; db-1: 1 core, 1Gi
    assert node["usage"] == {"cpu": cpu_quantity(1_252_001_000),
                             "memory": memory_quantity((12345 << 10) + (5 << 20) + (1 << 30))}
    empty = next(i for i in body["items"] if i["metadata"]["name"] == "kubedeck-m2")
    assert empty["usage"] == {"cpu": "0", "memory": "0"}
    r = await api.get("/apis/metrics.k8s.io/v1beta1/nodes", params={"labelSelector": "n=kubedeck-m2"})
    assert [i["metadata"]["name"] for i in (await r.json())["items"]] == ["kubedeck-m2"]
    r = await api.get("/apis/metrics.k8s.io/v1beta1/nodes/kubedeck")
    assert (await r.json())["usage"] == node["usage"]
    r = await api.get("/apis/metrics.k8s.io/v1beta1/nodes/nope")
    assert r.status == 404


async def test_discovery_documents_list_both_resources(api):
    r = await api.get("/apis/metrics.k8s.io/v1beta1")
    doc = await r.json()
    assert {(x["name"], x["kind"], x["namespaced"]) for x in doc["resources"]} == {
        ("nodes", "NodeMetrics", False), ("pods", "PodMetrics", True)}
    assert metrics_api.api_group()["preferredVersion"]["groupVersion"] == "metrics.k8s.io/v1beta1"
    agg = metrics_api.aggregated_group()
    assert [r["resource"] for r in agg["versions"][0]["resources"]] == ["nodes", "pods"]
