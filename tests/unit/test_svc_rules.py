"""The nftables rules of a kernel Service proxy (engine/kubeproxy/svc_rules.py). The e2e
tests in tests/e2e/test_service_proxies.py load them into real containers; here: their
shape, and when UDP flows must start afresh. Checked with `nft -c` when the host has nft."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from kubedeck.engine.kubeproxy.svc_rules import PortRules, render, render_alias, transaction, udp_flows_stale
from kubedeck.engine.proxy.nodeport import affinity_seconds

A, B, C = ("10.0.0.2", 8080), ("10.0.0.3", 8080), ("10.0.0.4", 8080)


def test_each_port_is_balanced_over_its_backends():
    text = render([PortRules("TCP", 80, [A, B]), PortRules("UDP", 53, [C])], udp_zone=7)
    assert "meta l4proto tcp th dport 80 goto p0" in text
    assert "numgen random mod 2 vmap { 0 : goto p0e0, 1 : goto p0e1 }" in text
    assert "meta l4proto tcp dnat to 10.0.0.2:8080" in text and "meta l4proto tcp dnat to 10.0.0.3:8080" in text
    assert "meta l4proto udp th dport 53 goto p1" in text and "meta l4proto udp dnat to 10.0.0.4:8080" in text
    assert "meta l4proto { udp, icmp } ct zone set 7" in text
    assert "ct status dnat masquerade" in text
    assert "@aff" not in text


def test_a_port_without_backends_gets_no_rule_and_tcp_only_no_zone():
    text = render([PortRules("TCP", 80, [])])
    assert "dport 80" not in text and "chain p0" not in text and "ct zone" not in text


def test_an_external_name_forwards_every_port_to_its_target():
    from kubedeck.engine.kubeproxy.services import external_target
    from kubedeck.engine.kubeproxy.svc_kernel import NameCache

    assert "meta l4proto { tcp, udp } dnat to 10.0.0.9" in render_alias("10.0.0.9")
    assert "dnat to" not in render_alias(None)
    svcs = [{"metadata": {"name": "db", "namespace": "data"}, "spec": {"clusterIP": "10.0.0.9"}},
            {"metadata": {"name": "h", "namespace": "data"}, "spec": {"clusterIP": "None"}}]
    names = NameCache()
    assert external_target("db.data.svc.cluster.local.", svcs, names) == "10.0.0.9"
    assert external_target("DB.data", svcs, names) == "10.0.0.9"
    assert external_target("h.data.svc", svcs, names) is None  # headless: no single address
    assert external_target("localhost", svcs, names) is None  # the proxy's own loopback: refused
    assert external_target("no-such-host.invalid", svcs, names) is None
    names.known["gone.example"] = ("10.0.0.7", 0.0)  # expired, and the lookup fails now:
    assert names.lookup("gone.example") == "10.0.0.7"  # the last good address stays


def test_client_ip_affinity_remembers_each_client_per_endpoint():
    text = render([PortRules("TCP", 80, [A, B])], affinity_seconds=60)
    b_set = "aff_tcp80_10_0_0_3_8080_60"  # named after the endpoint, so a reload keeps it
    assert f"set {b_set} {{ type ipv4_addr; flags dynamic,timeout; timeout 60s; }}" in text
    assert text.index(f"set {b_set}") < text.index("chain p0 {")  # declared before use
    assert f"ip saddr @{b_set} goto p0e1" in text and f"update @{b_set} {{ ip saddr }}" in text
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
def test_nft_accepts_the_transactions(tmp_path):
    """Every table shape, loaded whole and then changed in place, in a scratch network
    namespace of this host (the e2e tests load them into real proxy containers)."""
    nft = shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin")
    tables = [render([PortRules("TCP", 80, [A, B]), PortRules("UDP", 53, [C])], affinity_seconds=5),
              render([PortRules("TCP", 80, [B])], affinity_seconds=5, udp_zone=2),
              render([PortRules("TCP", 80, [A, B]), PortRules("UDP", 53, [C])]),
              render_alias("10.0.0.9"), render_alias(None)]
    script = ""
    for i, table in enumerate(tables):
        (tmp_path / f"{i}.nft").write_text(transaction(table, tables[i - 1] if i else None))
        script += f"{nft} -f {tmp_path / f'{i}.nft'} && "
    r = subprocess.run(["unshare", "-n", "sh", "-c", script + f"{nft} list table ip kubedeck"],
                       capture_output=True, text=True)
    if r.returncode and "unshare" in r.stderr and "Operation not permitted" in r.stderr:
        pytest.skip("no permission for a network namespace")
    assert r.returncode == 0, r.stderr
    assert "dnat to 10.0.0.9" in render_alias("10.0.0.9") and "dnat" not in r.stdout.split("chain pre")[1].split("}")[0]


def test_a_change_keeps_the_affinity_sets_of_endpoints_that_stay():
    old = render([PortRules("TCP", 80, [A, B])], affinity_seconds=60)
    new = render([PortRules("TCP", 80, [B])], affinity_seconds=60)
    text = transaction(new, old)
    assert text.startswith("table ip kubedeck {}\nflush table ip kubedeck\n")
    assert "delete set ip kubedeck aff_tcp80_10_0_0_2_8080_60" in text    # A's clients forget A
    assert "delete set ip kubedeck aff_tcp80_10_0_0_3_8080_60" not in text  # B's keep B
    assert "delete chain ip kubedeck p0e1" in text and "delete chain ip kubedeck p0\n" not in text
    assert transaction(new, None).startswith("table ip kubedeck {}\ndelete table ip kubedeck\n")


class FakeDockerAPI:
    """Just enough of docker's APIClient for loading rules: each exec answers with the
    next exit code (None first means "still finishing"), and records the file it ran."""

    def __init__(self, root, *codes):
        self.root, self.codes, self.files = root, list(codes), []

    def exec_create(self, cid, cmd):
        assert cmd == ["/usr/sbin/nft", "-f", "/kd/next.nft"]
        self.files.append(next(self.root.glob("services/*/next.nft")).read_text())
        return {"Id": "x"}

    def exec_start(self, _id):
        return b"Error: Could not process rule: Operation not supported"

    def exec_inspect(self, _id):
        code = self.codes[0] if len(self.codes) == 1 else self.codes.pop(0)
        return {"ExitCode": code}


def info(started="t1"):
    return {"Id": "c1", "State": {"StartedAt": started, "Running": True}}


def udp(*backends):
    return [PortRules("UDP", 53, list(backends))]


def load(loader, ports, started="t1"):
    from kubedeck.engine.kubeproxy.svc_rules import render as r

    return loader.load(("default", "dns"), info(started), lambda zone: r(ports, udp_zone=zone), ports)


def test_rules_load_when_they_change_and_survive_an_engine_restart(tmp_path):
    from kubedeck.engine.kubeproxy.svc_kernel import RuleLoader

    api = FakeDockerAPI(tmp_path, 0)
    loader = RuleLoader(api, tmp_path / "services")
    assert load(loader, udp(A, B))
    assert load(loader, udp(A, B)) and len(api.files) == 1      # unchanged: no exec
    assert "delete table" in api.files[0]
    load(loader, udp(B))                                         # A left: UDP flows to a new zone
    assert "flush table" in api.files[1] and "ct zone set 2" in api.files[1]
    again = RuleLoader(api, tmp_path / "services")               # a restarted engine, same proxy
    load(again, udp(B))
    assert len(api.files) == 2
    load(again, udp())                                           # B left while... zone 3
    assert "ct zone set 3" in api.files[2]
    load(again, udp(), started="t2")                             # the proxy restarted: all of it
    assert "delete table" in api.files[3] and "ct zone set 1" in api.files[3]


def test_a_refused_change_is_retried_whole_and_a_late_exit_code_is_waited_for(tmp_path):
    from kubedeck.engine.kubeproxy.svc_kernel import RuleLoader

    loader = RuleLoader(FakeDockerAPI(tmp_path, 0), tmp_path / "services")
    load(loader, udp(A))
    loader.api = api = FakeDockerAPI(tmp_path, None, 1, 0)  # still running, then refused, then ok
    assert load(loader, udp(A, B))
    assert "flush table" in api.files[0] and "delete table" in api.files[1]


def proxies(tmp_path, *codes):
    from types import SimpleNamespace

    from kubedeck.engine.kubeproxy.services import ServiceProxies
    from kubedeck.engine.kubeproxy.svc_kernel import RuleLoader

    agent = SimpleNamespace(ctx=SimpleNamespace(state_dir=tmp_path))
    sp = ServiceProxies(agent)
    sp.kernel_image = "kubedeck/svc-proxy:test"
    sp.rules = RuleLoader(FakeDockerAPI(tmp_path, *codes), tmp_path / "services")
    return sp


SVC = {"metadata": {"name": "dns", "namespace": "default"}, "spec": {}}


def test_nft_refusing_the_first_rules_falls_back_to_nc_relays(tmp_path):
    sp = proxies(tmp_path, 1)
    sp._load(SVC, ("default", "dns"), info(), lambda zone: render(udp(A)), udp(A))
    assert sp.kernel_image is None


def test_once_nft_works_a_refusal_is_that_services_alone(tmp_path):
    sp = proxies(tmp_path, 0)
    sp._load(SVC, ("default", "dns"), info(), lambda zone: render(udp(A)), udp(A))
    sp.rules.api.codes = [1]
    sp._load(SVC, ("default", "dns"), info("t2"), lambda zone: render(udp(B)), udp(B))
    assert sp.kernel_image == "kubedeck/svc-proxy:test"
    assert sp.failures and sp.failures[0][0] is SVC and "refused" in sp.failures[0][1]


def test_host_nodeport_table_guards_localhost_and_loads_in_a_scratch_namespace(tmp_path):
    """The NodePort table of the host (nodeport_kernel.py): local connections to the
    listen address are DNAT-ed, only they are masqueraded out of the bridge, and anything
    arriving from the bridge for 127.0.0.0/8 is dropped (route_localnet's CVE-2020-8558)."""
    from kubedeck.engine.kubeproxy.svc_rules import render_host

    first = render_host([(PortRules("TCP", 30080, [A, B]), None), (PortRules("TCP", 30081, [C]), 60)],
                        name="kubedeck_np_test", match="ip daddr 127.0.0.1", bridge="br-test")
    assert "ip daddr 127.0.0.1 meta l4proto tcp th dport 30080 goto p0" in first
    assert 'iifname "br-test" ip daddr 127.0.0.0/8 drop' in first
    assert 'oifname "br-test" ip saddr 127.0.0.0/8 ct status dnat masquerade' in first
    assert "type nat hook output priority -100" in first and "type nat hook prerouting" not in first
    assert "timeout 60s" in first  # the second port's ClientIP affinity
    second = render_host([(PortRules("TCP", 30080, []), None)], name="kubedeck_np_test",
                         match="fib daddr type local", bridge="br-test")
    assert "dport 30080" not in second  # no endpoint: no DNAT (the closed port answers)
    nft = shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin")
    if not nft:
        pytest.skip("no nft on this host")
    (tmp_path / "1.nft").write_text(transaction(first, None, "kubedeck_np_test"))
    (tmp_path / "2.nft").write_text(transaction(second, first, "kubedeck_np_test"))
    r = subprocess.run(["unshare", "-n", "sh", "-c", f"{nft} -f {tmp_path}/1.nft && {nft} -f {tmp_path}/2.nft && "
                        f"{nft} list table ip kubedeck_np_test"], capture_output=True, text=True)
    if r.returncode and "unshare" in r.stderr and "Operation not permitted" in r.stderr:
        pytest.skip("no permission for a network namespace")
    assert r.returncode == 0, r.stderr
    assert "127.0.0.0/8 drop" in r.stdout and "dnat to" not in r.stdout


def loaded_host_table(tmp_path, table: str) -> str:
    """The host table loaded by the real nft in a scratch network namespace, listed back."""
    nft = shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin")
    assert nft, "no nft on this host (Debian: apt-get install nftables)"
    (tmp_path / "t.nft").write_text(transaction(table, None, "kubedeck_np_test"))
    r = subprocess.run(["unshare", "-n", "sh", "-c", f"{nft} -f {tmp_path}/t.nft && {nft} list table ip kubedeck_np_test"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_host_table_dnats_cluster_ips_on_the_bridge(tmp_path):
    """In-cluster Services' clusterIP routes in the host table: only TCP ports with
    endpoints, only from the cluster's bridge, and a pod that is an endpoint of the port
    itself is left to the proxy container (return before the DNAT)."""
    from kubedeck.engine.kubeproxy.svc_rules import render_host

    routes = [("10.9.0.2", PortRules("TCP", 80, [A, B])), ("10.9.0.3", PortRules("UDP", 53, [C])),
              ("10.9.0.4", PortRules("TCP", 81, []))]
    table = render_host([], name="kubedeck_np_test", match="ip daddr 127.0.0.1", bridge="br-test", services=routes)
    assert 'iifname "br-test" ip daddr 10.9.0.2 tcp dport 80 goto c0' in table
    assert "10.9.0.3" not in table and "10.9.0.4" not in table
    assert "type nat hook prerouting priority dstnat" in table
    assert f"ip saddr {{ {A[0]}, {B[0]} }} return" in table.replace(f"{{ {B[0]}, {A[0]} }}", f"{{ {A[0]}, {B[0]} }}")
    assert table.index(" return") < table.index(f"dnat to {A[0]}:{A[1]}")
    assert "chain svc" not in render_host([], name="kubedeck_np_test", match="ip daddr 127.0.0.1", bridge="br-test")
    assert loaded_host_table(tmp_path, table).count("dnat to") == 2


def test_host_table_routes_pods_to_the_api_on_localhost(tmp_path):
    """The `kubernetes` Service (in_cluster.py): from the bridge, 10.96.0.1:443 is DNAT-ed
    to the API on 127.0.0.1, in the prerouting chain, which runs after the guard that
    drops what the bridge sends to 127.0.0.0/8 itself."""
    from kubedeck.engine.kubeproxy.svc_rules import render_host

    table = render_host([], name="kubedeck_np_test", match="ip daddr 127.0.0.1", bridge="br-test",
                        api=("10.96.0.1", 443, 41234))
    assert 'iifname "br-test" ip daddr 10.96.0.1 tcp dport 443 dnat to 127.0.0.1:41234' in table
    assert "priority -300" in table and "type nat hook prerouting priority dstnat" in table
    assert "dnat to 127.0.0.1:41234" in loaded_host_table(tmp_path, table)


def test_a_load_seeds_the_affinity_sets_it_creates(tmp_path):
    """The clients the proxy worker served stay on their endpoint when the kernel takes the
    port over: the sets a load creates get them, sets already loaded keep their own."""
    from kubedeck.engine.kubeproxy.svc_rules import affinity_set

    first = render([PortRules("TCP", 80, [A])], affinity_seconds=60)
    second = render([PortRules("TCP", 80, [A, B])], affinity_seconds=60)
    seeds = {affinity_set("tcp", 80, A, 60): [("10.1.0.5", 30.4)], affinity_set("tcp", 80, B, 60): [("10.1.0.6", 59.9)],
             affinity_set("tcp", 81, C, 60): [("10.1.0.7", 10)]}  # not in the table: dropped
    text = transaction(first, None, seeds=seeds)
    assert f"add element ip kubedeck {affinity_set('tcp', 80, A, 60)} {{ 10.1.0.5 timeout 30s }}" in text
    assert "10.1.0.6" not in text and "10.1.0.7" not in text
    again = transaction(second, first, seeds=seeds)
    assert "10.1.0.5" not in again  # A's set is loaded: it knows its clients
    assert f"add element ip kubedeck {affinity_set('tcp', 80, B, 60)} {{ 10.1.0.6 timeout 59s }}" in again
    nft = shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin")
    assert nft, "no nft on this host (Debian: apt-get install nftables)"
    (tmp_path / "1.nft").write_text(text)
    (tmp_path / "2.nft").write_text(again)
    r = subprocess.run(["unshare", "-n", "sh", "-c", f"{nft} -f {tmp_path}/1.nft && {nft} -f {tmp_path}/2.nft && "
                        f"{nft} list table ip kubedeck"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "10.1.0.5" in r.stdout and "10.1.0.6" in r.stdout
