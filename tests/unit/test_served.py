"""The journey's last hop, "first request served through the NodePort": the kernel
path's per-endpoint sets (rendered, loaded into a scratch network namespace with the
host's nft and read back), the agent's reading of them, the proxy worker's first-seen
report and the engine's reading of it, and the hop in the journey."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import types

import pytest

from kubedeck.engine import activity
from kubedeck.engine.kubeproxy import nodeport_kernel as nk
from kubedeck.engine.kubeproxy.svc_rules import PortRules, render_host, served_set, served_times, transaction
from kubedeck.engine.present import journey as jr
from kubedeck.engine.proxy import dataplane, wire
from kubedeck.engine.proxy.nodeport import ListenerSpec, NodePortProxy, ServicePort, endpoint_pods
from kubedeck.engine.proxy.worker import Worker

EPS = {"kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
       "subsets": [{"addresses": [
           {"ip": "10.0.0.5", "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "u1"}},
           {"ip": "10.0.0.6", "targetRef": {"kind": "Pod", "name": "web-2", "namespace": "default", "uid": "u2"}}],
           "ports": [{"name": "http", "port": 8080}]}]}

LISTING = """table ip kubedeck_np_x {
	set aff_tcp30080_10_0_0_5_8080_60 {
		type ipv4_addr
		size 65535
		flags dynamic,timeout
		timeout 1m
		elements = { 127.0.0.1 expires 59s990ms }
	}
	set srv_30080_10_0_0_5_8080 {
		type inet_proto
		size 65535
		flags dynamic,timeout
		timeout 1d
		elements = { 6 expires 23h59m57s440ms }
	}
	set srv_30080_10_0_0_6_8080 {
		type inet_proto
		size 65535
		flags dynamic,timeout
		timeout 1d
	}
	set srv_30081_10_0_0_6_80 {
		type inet_proto
		size 65535
		flags dynamic,timeout
		timeout 1d
		elements = { 6 timeout 1d expires 1h }
	}
}
"""


def test_host_rules_remember_each_endpoints_first_connection():
    table = render_host([(PortRules("TCP", 30080, [("10.0.0.5", 8080), ("10.0.0.6", 8080)]), 60)],
                        name="kubedeck_np_x", match="ip daddr 127.0.0.1", bridge="br-x")
    for ip in ("10_0_0_5", "10_0_0_6"):
        name = f"srv_30080_{ip}_8080"
        assert f"set {name} {{ type inet_proto; flags dynamic,timeout; timeout 86400s; }}" in table
    chain = table.split("chain p0e0 {\n")[1].split("\n  }")[0]
    # first the first-seen set, then affinity, then the DNAT (a NAT statement ends the chain)
    assert chain.index("add @srv_30080_10_0_0_5_8080 { meta l4proto }") < chain.index("update @aff") \
        < chain.index("dnat to 10.0.0.5:8080")
    assert served_set(30080, "10.0.0.5", 8080) == "srv_30080_10_0_0_5_8080"


def test_served_times_are_the_elements_insertion_times():
    now = 1_000_000.0
    times = served_times(LISTING, now)
    assert set(times) == {(30080, "10.0.0.5", 8080), (30081, "10.0.0.6", 80)}  # no element: no first yet
    assert times[(30080, "10.0.0.5", 8080)] == pytest.approx(now - 2.56)
    assert times[(30081, "10.0.0.6", 80)] == pytest.approx(now - 23 * 3600)
    assert served_times("Error: No such file or directory", now) == {}


def test_the_kernel_records_the_first_connection_time_and_keeps_it(tmp_path):
    """Real nft in a scratch network namespace: two connections through the DNAT, a reload
    between them; the set gives the first one's time, within the window it was made in."""
    nft = shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin")
    assert nft, "nft is not installed (Debian's nftables): the kernel NodePort path needs it"
    assert shutil.which("unshare"), "unshare (util-linux) is missing"
    port = PortRules("TCP", 30080, [("127.0.0.1", 18080)])
    first = render_host([(port, None)], name="kd_srv", match="ip daddr 127.0.0.1", bridge="br-none")
    second = render_host([(port, None), (PortRules("TCP", 30081, [("127.0.0.1", 18081)]), None)], name="kd_srv",
                         match="ip daddr 127.0.0.1", bridge="br-none")
    (tmp_path / "1.nft").write_text(transaction(first, None, "kd_srv"))
    (tmp_path / "2.nft").write_text(transaction(second, first, "kd_srv"))
    script = textwrap.dedent(f"""
        import json, socket, subprocess, time
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        subprocess.run(["{nft}", "-f", "{tmp_path}/1.nft"], check=True)
        srv = socket.create_server(("127.0.0.1", 18080))
        out = {{}}
        def connect():
            before = time.time()
            c = socket.create_connection(("127.0.0.1", 30080), timeout=2)
            srv.accept()[0].close()
            c.close()
            return before, time.time()
        out["empty"] = subprocess.run(["{nft}", "list", "sets", "table", "ip", "kd_srv"], capture_output=True,
                                      text=True).stdout
        out["first"] = connect()
        time.sleep(0.3)
        subprocess.run(["{nft}", "-f", "{tmp_path}/2.nft"], check=True)  # a reload keeps the element
        out["second"] = connect()
        out["listed"] = time.time()
        out["listing"] = subprocess.run(["{nft}", "list", "sets", "table", "ip", "kd_srv"], capture_output=True,
                                        text=True).stdout
        out["now"] = time.time()
        print(json.dumps(out))
    """)
    r = subprocess.run(["unshare", "-n", sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert served_times(out["empty"], out["now"]) == {}
    # The listing's ages are the kernel's at some moment between `listed` and `now` (a
    # loaded machine may sit between them): the first connection's time lies in between.
    key = (30080, "127.0.0.1", 18080)
    earliest, latest = served_times(out["listing"], out["listed"])[key], served_times(out["listing"], out["now"])[key]
    # the first connection's time (the kernel keeps ms and jiffies: 20 ms of slack), not the second's
    assert earliest <= out["first"][1] + 0.02 and latest >= out["first"][0] - 0.02, (earliest, latest, out)
    assert earliest < out["second"][0] - 0.2


def test_read_interval_backs_off_to_30_seconds():
    assert nk.read_interval(0) == 2.0 and nk.read_interval(50) == 5.0 and nk.read_interval(3600) == 30.0


class FakeApi:
    def __init__(self):
        self.listing, self.calls = "", []

    def exec_create(self, cid, cmd):
        self.calls.append(cmd)
        return {"Id": "x"}

    def exec_start(self, _id, stream=False):
        assert stream  # read as it comes: the first bytes tell when nft listed
        data = self.listing.encode()
        return iter([data[:100], data[100:]])


def host_nodeports(api) -> nk.HostNodePorts:
    hp = nk.HostNodePorts.__new__(nk.HostNodePorts)  # only the served bookkeeping: no Docker, no state dir
    hp.agent = types.SimpleNamespace(docker=types.SimpleNamespace(api=api))
    hp.table, hp.waiting, hp.recorded, hp.next_read = "kubedeck_np_x", {}, {}, 0.0
    return hp


def test_the_agent_records_each_endpoints_first_connection_once():
    ring = activity.RING
    api = FakeApi()
    hp = host_nodeports(api)
    listeners = [(30080, ServicePort("default", "web", "http", 80, "http"))]
    hp._watch(listeners, {("default", "web"): EPS})
    assert set(hp.waiting) == {(30080, "10.0.0.5", 8080), (30080, "10.0.0.6", 8080)}
    seq = ring.last_seq()
    api.listing = LISTING
    hp._read_served("cid")
    served = [a for a in ring.since(seq) if a["verb"] == "served"]
    assert [(a["component"], a["kind"], a["name"], a["detail"]) for a in served] == [
        ("kube-proxy", "Pod", "web-1", "NodePort 30080 of Service web (kernel DNAT)")]
    assert served[0]["start"] == served[0]["end"] < time.time() - 2
    assert list(hp.waiting) == [(30080, "10.0.0.6", 8080)] and hp.next_read > time.monotonic()
    # the next passes: web-1 stays recorded; its IP given to a new pod waits again
    hp._watch(listeners, {("default", "web"): EPS})
    hp._read_served("cid")
    assert not [a for a in ring.since(seq) if a["verb"] == "served"][1:]
    moved = json.loads(json.dumps(EPS).replace('"web-1"', '"web-3"'))
    hp._watch(listeners, {("default", "web"): moved})
    assert hp.waiting[(30080, "10.0.0.5", 8080)][:2] == ("default", "web-3")


def test_the_worker_reports_an_endpoints_first_connection_and_forgets_it_when_it_leaves():
    async def run():
        ours, theirs = wire.pair()
        theirs.setblocking(False)
        w = Worker(theirs)
        w.handle({"op": "put", "obj": EPS}, [])
        connected = w._first_seen("nodeport:127.0.0.1:30080/TCP")
        for backend in [("10.0.0.5", 8080), ("10.0.0.5", 8080), ("10.0.0.6", 8080)]:
            connected(backend)
        one = json.loads(json.dumps(EPS))
        one["subsets"][0]["addresses"].pop(0)  # web-1 leaves (not ready)
        w.handle({"op": "put", "obj": one}, [])
        w.handle({"op": "put", "obj": EPS}, [])
        connected(("10.0.0.5", 8080))
        ours.setblocking(False)
        return [m for m, _ in wire.Reader(ours).read()]
    msgs = asyncio.run(run())
    assert [(m["op"], m["backend"]) for m in msgs] == [
        ("served", ["10.0.0.5", 8080]), ("served", ["10.0.0.6", 8080]), ("served", ["10.0.0.5", 8080])]
    assert all(abs(m["at"] - time.time()) < 5 and m["key"] == "nodeport:127.0.0.1:30080/TCP" for m in msgs)


def test_the_engine_turns_a_worker_report_into_the_pods_served_action():
    store = types.SimpleNamespace(peek=lambda kind, ns, name: EPS if (kind, name) == ("Endpoints", "web") else None)
    proxy = NodePortProxy(store, address="127.0.0.1")
    proxy.listeners[ListenerSpec("127.0.0.1", 30080, "TCP")] = (ServicePort("default", "web", "http", 80, "http"), None)
    assert endpoint_pods(EPS)["10.0.0.6"] == ("default", "web-2")

    async def run():
        dp = dataplane.DataPlane(store)
        dp.on_served = proxy.served
        ours, theirs = wire.pair()
        ours.setblocking(False)
        dp.sock, dp.reader = ours, wire.Reader(ours)
        for pkt in wire.packets({"op": "served", "key": "nodeport:127.0.0.1:30080/TCP", "backend": ["10.0.0.6", 8080],
                                 "at": 1234.5}):
            wire.send_packet(theirs, pkt)
        dp._from_worker()
        theirs.close()
        dp._from_worker()  # EOF: the worker is gone, nothing recorded
        ours.close()
    seq = activity.RING.last_seq()
    asyncio.run(run())
    got = [(a["name"], a["end"], a["detail"]) for a in activity.RING.since(seq)]
    assert got == [("web-2", 1234.5, "NodePort 30080 of Service web (proxy worker)")]


def test_the_journey_ends_with_the_first_request_served():
    t = 1_700_000_000.0

    def act(dt, component, verb, kind, name, detail="", start=None):
        return {"seq": 0, "start": t + (dt if start is None else start), "end": t + dt, "component": component,
                "instance": "", "verb": verb, "kind": kind, "namespace": "default", "name": name, "detail": detail}
    ring = [  # in recording order: the served action is recorded when the agent reads it
        act(0.1, "folder-sync", "apply", "Deployment", "web", "web.yaml", start=0.0),
        act(0.2, "replicaset-controller", "SuccessfulCreate", "ReplicaSet", "web-abc", "Created pod: web-1"),
        act(0.3, "default-scheduler", "Scheduled", "Pod", "web-1", "Successfully assigned default/web-1 to n1"),
        act(0.5, "kube-proxy", "served", "Pod", "web-1", "NodePort 30080 of Service web (proxy worker)"),  # old pod
        act(0.9, "kubelet", "status", "Pod", "web-1", "Ready"),
        act(1.0, "endpoint-controller", "update", "Endpoints", "web"),
        act(1.3, "kube-proxy", "load-rules", "Service", "web", start=1.1),
        act(4.0, "kube-proxy", "load-rules", "Service", "web", start=3.9),
        act(1.5, "kube-proxy", "served", "Pod", "web-1", "NodePort 30080 of Service web (kernel DNAT)"),
    ]
    hops = jr.pod_journey({"metadata": {"name": "web-1", "namespace": "default"}}, jr.from_activity(ring), ["web"])
    assert [h.component for h in hops][-4:] == ["kubelet", "endpoint-controller", "kube-proxy", "kube-proxy"]
    assert hops[-1].what == "first request served through NodePort 30080 of Service web (kernel DNAT)"
    assert hops[-1].at == t + 1.5
    assert jr.render(hops)[-1][:2] == ("+1300 ms", "200 ms")  # since the first hop (SuccessfulCreate)


def test_a_served_report_never_blocks_the_worker():
    async def run():
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        theirs.setblocking(False)
        w = Worker(theirs)
        connected = w._first_seen("k")
        for i in range(5000):  # the engine reads none of them: the buffer fills, reports are dropped
            connected((f"10.0.{i // 250}.{i % 250}", 80))
        ours.close()
        connected(("10.9.9.9", 80))  # the engine gone: dropped too
        return len(w.seen["k"])
    assert asyncio.run(run()) == 5001
