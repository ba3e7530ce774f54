"""TCP NodePorts forwarded by the host's kernel (engine/kubeproxy/nodeport_kernel.py): the
pods answer from behind real nftables DNAT in the host's network namespace, the rules
follow the Endpoints, and they go with the engine (stop, or `kubedeck down` after a kill).

The pods tell who connected to them: the kernel keeps the client's source port through
its NAT, while the user-space proxy connects from a port of its own."""

from __future__ import annotations

import re

import json
import signal
import socket

from conftest import free_nodeport, wait_for
from e2e_kit import deployment

# answers every connection with "HOSTNAME PEERPORT\n" (AF_INET=2, SOCK_STREAM=1, SO_REUSEADDR=2)
SERVER = r"""
my $h = `hostname`; chomp $h;
socket(my $t, 2, 1, 0) or die "socket: $!";
setsockopt($t, 1, 2, 1);
bind($t, pack("S n x12", 2, 9080)) or die "bind: $!";
listen($t, 64) or die "listen: $!";
while (my $peer = accept(my $c, $t)) { my (undef, $port) = unpack("S n", $peer); syswrite($c, "$h $port\n"); close $c }
"""
WHO = deployment("who", """
containers:
- name: who
  image: kubedeck-test/perl:1
  command: ["perl", "-e"]
  args: [SERVER]
  readinessProbe:
    tcpSocket: {port: 9080}
    periodSeconds: 1
""", replicas="REPLICAS") + """---
apiVersion: v1
kind: Service
metadata: {name: who}
spec:
  type: NodePort
  selector: {app: who}
  ports: [{port: 80, targetPort: 9080, nodePort: NODEPORT}]
"""


def manifest(replicas: int, nodeport: int) -> str:
    return (WHO.replace("[SERVER]", json.dumps([SERVER])).replace("REPLICAS", str(replicas))
            .replace("NODEPORT", str(nodeport)))


def ask(port: int) -> tuple[str, int, int] | None:
    """(pod hostname, the port the pod saw us connect from, our own port), or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            data = b""
            while chunk := s.recv(100):
                data += chunk
            mine = s.getsockname()[1]
    except OSError:
        return None
    host, _, seen = data.decode().strip().partition(" ")
    return (host, int(seen), mine) if seen else None


def helper(engine):
    found = engine.docker.api.containers(all=True, filters={"label": [
        f"io.kubedeck.cluster={engine.name}", "io.kubedeck.role=nodeport-kernel"]})
    return found[0] if found else None


def host_table(engine) -> str:
    """The cluster's table in the host's network namespace, as the helper lists it."""
    from kubedeck.engine.kubeproxy.nodeport_kernel import table_name

    c = helper(engine)
    if c is None:
        return ""
    code, out = engine.docker.containers.get(c["Id"]).exec_run(["/usr/sbin/nft", "list", "table", "ip",
                                                                 table_name(engine.name)])
    return out.decode(errors="replace") if code == 0 else ""


def nodeport_dnats(table: str) -> int:
    """DNAT rules of the NodePorts' endpoint chains (p<port>e<endpoint>) in a host table
    listing; the clusterIP routes' chains (c<n>e<m>) are not counted."""
    return sum(1 for chain in table.split("chain ")[1:] if re.match(r"p\d+e\d+ ", chain) and "dnat to" in chain)


def route_localnet(engine) -> str:
    from kubedeck.engine.kubeproxy.nodeport_kernel import bridge_name

    bridge = bridge_name(engine.docker.api, f"kubedeck-{engine.name}")
    with open(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet") as f:
        return f.read().strip()


def test_local_connections_are_forwarded_by_the_kernel_and_follow_the_endpoints(engine):
    port = free_nodeport()
    engine.write("who.yaml", manifest(2, port))
    pods = {p["metadata"]["name"] for p in wait_for(lambda: engine.running_ready("app=who", 2), 90, what="2 pods")}
    wait_for(lambda: engine.client.status().get("nodePortForwarding") == "kernel", 30, what="kernel NodePorts")
    table = wait_for(lambda: (t := host_table(engine)) and f"dport {port}" in t and nodeport_dnats(t) == 2 and t,
                     20, what="both pods in the host table")
    assert "127.0.0.0/8 drop" in table and route_localnet(engine) == "1"
    answers = [wait_for(lambda: ask(port), 20, what="an answer")]
    answers += [ask(port) for _ in range(40)]
    assert all(a is not None for a in answers)
    assert {host for host, _, _ in answers} == pods  # balanced over both replicas
    assert all(seen == mine for _, seen, mine in answers), "the pod saw another source port: not the kernel's NAT"

    # one pod gone: the rules drop it, new connections all reach the other one
    engine.write("who.yaml", manifest(1, port))
    left = wait_for(lambda: engine.running_ready("app=who", 1), 60, what="one pod left")[0]["metadata"]["name"]
    wait_for(lambda: nodeport_dnats(host_table(engine)) == 1, 20, what="the host table to follow")
    assert {ask(port)[0] for _ in range(20)} == {left}

    # the engine stops: its rules, the helper and route_localnet go with it
    engine.kill(signal.SIGTERM)
    assert helper(engine) is None
    assert route_localnet(engine) == "0"


def test_kubedeck_down_removes_the_rules_a_killed_engine_left(engine):
    from kubedeck.engine.kubeproxy.nodeport_kernel import table_name

    port = free_nodeport()
    engine.write("who.yaml", manifest(1, port))
    wait_for(lambda: engine.running_ready("app=who", 1), 90, what="pod")
    wait_for(lambda: f"dport {port}" in host_table(engine), 30, what="the host table")
    c = helper(engine)
    engine.kill(signal.SIGKILL)
    assert f"dport {port}" in host_table(engine), "a killed engine cannot remove its rules"
    engine.cli("down")
    assert helper(engine) is None
    try:
        engine.docker.api.inspect_container(c["Id"])
        raise AssertionError("the helper container is still there")
    except Exception as e:  # noqa: BLE001
        assert "404" in str(e) or "No such container" in str(e)
    # with the table gone, nothing answers on the port any more (no engine, no listener)
    assert ask(port) is None, f"table {table_name(engine.name)} still forwards"
