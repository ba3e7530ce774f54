"""The nftables rules of a kernel Service proxy (engine/agent/svc_rules.py). The e2e
tests in tests/e2e/test_service_proxies.py load them into real containers; here: their
shape, and when UDP flows must start afresh. Checked with `nft -c` when the host has nft."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from kubedeck.engine.agent.svc_rules import PortRules, render, render_alias, udp_flows_stale
from kubedeck.engine.proxy.nodeport import affinity_seconds

A, B, C = ("10.0.0.2", 8080), ("10.0.0.3", 8080), ("10.0.0.4", 8080)


def test_each_port_is_balanced_over_its_backends():
    text = render([PortRules("TCP", 80, [A, B]), PortRules("UDP", 53, [C])], udp_zone=7)
    assert "meta l4proto tcp th dport 80 goto p0" in text
    assert "numgen random mod 2 vmap { 0 : goto p0e0, 1 : goto p0e1 }" in text
    assert "meta l4proto tcp dnat to 10.0.0.2:8080" in text and "meta l4proto tcp dnat to 10.0.0.3:8080" in text
    assert "meta l4proto udp th dport 53 goto p1" in text and "meta l4proto udp dnat to 10.0.0.4:8080" in text
    assert "meta l4proto udp ct zone set 7" in text
    assert "ct status dnat masquerade" in text
    assert "@aff" not in text
    # one transaction that replaces the table, whether or not it exists yet
    assert text.startswith("table ip kubedeck {}\ndelete table ip kubedeck\n")


def test_a_port_without_backends_gets_no_rule_and_tcp_only_no_zone():
    text = render([PortRules("TCP", 80, [])])
    assert "dport 80" not in text and "chain p0" not in text and "ct zone" not in text


def test_an_external_name_forwards_every_port_to_its_target():
    from kubedeck.engine.agent.services import external_target

    assert "meta l4proto { tcp, udp } dnat to 10.0.0.9" in render_alias("10.0.0.9")
    assert "dnat to" not in render_alias(None)
    svcs = [{"metadata": {"name": "db", "namespace": "data"}, "spec": {"clusterIP": "10.0.0.9"}},
            {"metadata": {"name": "h", "namespace": "data"}, "spec": {"clusterIP": "None"}}]
    assert external_target("db.data.svc.cluster.local.", svcs) == "10.0.0.9"
    assert external_target("DB.data", svcs) == "10.0.0.9"
    assert external_target("h.data.svc", svcs) is None  # headless: no single address
    assert external_target("localhost", svcs) == "127.0.0.1"  # else the host's resolver
    assert external_target("no-such-host.invalid", svcs) is None


def test_client_ip_affinity_remembers_each_client_per_endpoint():
    text = render([PortRules("TCP", 80, [A, B])], affinity_seconds=60)
    assert "set aff0e1 { type ipv4_addr; flags dynamic,timeout; timeout 60s; }" in text
    assert text.index("set aff0e0") < text.index("chain p0 {")  # declared before use
    assert "ip saddr @aff0e0 goto p0e0" in text and "update @aff0e1 { ip saddr }" in text
    assert affinity_seconds({"sessionAffinity": "ClientIP"}) == 10800
    assert affinity_seconds({"sessionAffinity": "ClientIP",
                             "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 30}}}) == 30
    assert affinity_seconds({"sessionAffinity": "None"}) is None


def test_udp_flows_start_afresh_when_an_endpoint_goes_or_the_first_arrives():
    udp = lambda *b: [PortRules("UDP", 53, list(b)), PortRules("TCP", 80, [A])]  # noqa: E731
    assert not udp_flows_stale(None, udp(A))          # first load: nothing to clear
    assert not udp_flows_stale(udp(A), udp(A, B))     # one more endpoint: flows stay
    assert udp_flows_stale(udp(A, B), udp(B))         # an endpoint left
    assert udp_flows_stale(udp(), udp(A))             # flows begun with no endpoint
    tcp_only = [PortRules("TCP", 80, [A])]
    assert not udp_flows_stale(tcp_only, [PortRules("TCP", 80, [B])])  # TCP drains instead


@pytest.mark.skipif(not shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin"), reason="no nft on this host")
def test_nft_accepts_the_rules(tmp_path):
    path = tmp_path / "rules.nft"
    nft = shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin")
    for text in (render([PortRules("TCP", 80, [A, B]), PortRules("UDP", 53, [C])], affinity_seconds=5),
                 render_alias("10.0.0.9"), render_alias(None)):
        path.write_text(text)
        r = subprocess.run(["unshare", "-n", nft, "-f", str(path)], capture_output=True, text=True)
        if r.returncode and "unshare" in r.stderr and "Operation not permitted" in r.stderr:
            pytest.skip("no permission for a network namespace")
        assert r.returncode == 0, r.stderr


class FakeDockerAPI:
    """Just enough of docker's APIClient for ServiceProxies._load_rules."""

    def __init__(self, exit_code: int):
        self.exit_code, self.execs = exit_code, []

    def exec_create(self, cid, cmd):
        self.execs.append((cid, cmd))
        return {"Id": "x"}

    def exec_start(self, _id):
        return b"Error: Could not process rule: Operation not supported"

    def exec_inspect(self, _id):
        return {"ExitCode": self.exit_code}


def proxies(tmp_path, exit_code: int):
    from types import SimpleNamespace

    from kubedeck.engine.agent.services import ServiceProxies

    api = FakeDockerAPI(exit_code)
    agent = SimpleNamespace(cluster=SimpleNamespace(settings=SimpleNamespace(state=tmp_path)),
                            docker=SimpleNamespace(api=api))
    sp = ServiceProxies(agent)
    sp.kernel_image = "kubedeck/svc-proxy:test"
    return sp, api


def load(sp, key, ports):
    sp._load_rules(key, "c1", sp._rules(key, "c1", {}, ports), ports)


def test_rules_load_once_and_the_zone_survives_an_engine_restart(tmp_path):
    sp, api = proxies(tmp_path, 0)
    key = ("default", "dns")
    load(sp, key, [PortRules("UDP", 53, [A, B])])
    load(sp, key, [PortRules("UDP", 53, [A, B])])  # unchanged: no exec
    assert api.execs == [("c1", ["/usr/sbin/nft", "-f", "/kd/rules.nft"])]
    load(sp, key, [PortRules("UDP", 53, [B])])  # A left: zone 2
    assert sp.zone[key] == 2 and "ct zone set 2" in (tmp_path / "services/default_dns/rules.nft").read_text()
    again, _ = proxies(tmp_path, 0)  # a new engine adopting the same container
    load(again, key, [PortRules("UDP", 53, [B])])
    assert again.zone[key] == 2


def test_nft_refusing_the_rules_falls_back_to_nc_relays(tmp_path):
    sp, _ = proxies(tmp_path, 1)
    load(sp, ("default", "web"), [PortRules("TCP", 80, [A])])
    assert sp.kernel_image is None and ("default", "web") not in sp.loaded
