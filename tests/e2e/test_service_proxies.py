"""In-cluster Service proxies: UDP and TCP through the kernel (nftables) proxy, flows
moving off a removed endpoint, open connections draining, sessionAffinity, and the
busybox nc fallback. The pods speak through perl's socket builtins (busybox has no UDP
server or client); see tests/images/build.sh for the kubedeck-test/perl:1 image."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import wait_for
from e2e_kit import CLIENT as BUSYBOX_CLIENT, SVC as WEB_SVC, WEB, container, deployment, exec_in

# Answers every UDP datagram on 9053 and every line on a TCP connection to 9080 with
# its hostname. AF_INET=2, SOCK_STREAM=1, SOCK_DGRAM=2, SOL_SOCKET=1, SO_REUSEADDR=2.
SERVER = r"""
my $h = `hostname`; chomp $h;
socket(my $u, 2, 2, 0) or die "udp socket: $!";
bind($u, pack("S n x12", 2, 9053)) or die "udp bind: $!";
socket(my $t, 2, 1, 0) or die "tcp socket: $!";
setsockopt($t, 1, 2, 1);
bind($t, pack("S n x12", 2, 9080)) or die "tcp bind: $!";
listen($t, 16) or die "listen: $!";
$SIG{CHLD} = 'IGNORE';
while (1) {
    my $rin = ''; vec($rin, fileno($u), 1) = 1; vec($rin, fileno($t), 1) = 1;
    select(my $r = $rin, undef, undef, undef) > 0 or next;
    if (vec($r, fileno($u), 1)) { my $peer = recv($u, my $m, 512, 0); send($u, $h, 0, $peer); }
    if (vec($r, fileno($t), 1) and accept(my $c, $t)) {
        if (!fork) { while (my $l = <$c>) { syswrite($c, "$h\n") } exit }
        close $c;
    }
}
"""
# UDP client: HOST PORT N FRESH. Sends N datagrams 100 ms apart, printing each answer
# (or "timeout" after 2 s without one); FRESH=1 uses a new socket (a new flow) per
# datagram, 0 one socket.
UDP_CLIENT = r"""
$| = 1;
my ($host, $port, $n, $fresh) = @ARGV;
my $a = gethostbyname($host) or die "cannot resolve $host\n";
my $to = pack("S n a4 x8", 2, $port, $a);
my $s;
for my $i (1 .. $n) {
    if ($fresh or !$s) { close $s if $s; socket($s, 2, 2, 0) or die "socket: $!"; }
    send($s, "ping", 0, $to) or die "send: $!";
    my $rin = ''; vec($rin, fileno($s), 1) = 1;
    if (select(my $r = $rin, undef, undef, 2) > 0) { recv($s, my $m, 512, 0); print "$m\n"; }
    else { print "timeout\n"; }
    select(undef, undef, undef, 0.1);
}
"""
# TCP client: HOST PORT. One connection: a line, an answer, then after /tmp/go
# exists another line and answer on the same connection.
TCP_CLIENT = r"""
$| = 1;
my ($host, $port) = @ARGV;
my $a = gethostbyname($host) or die "cannot resolve $host\n";
socket(my $s, 2, 1, 0) or die "socket: $!";
connect($s, pack("S n a4 x8", 2, $port, $a)) or die "connect: $!";
syswrite($s, "one\n"); print scalar <$s>;
select(undef, undef, undef, 0.1) until -e "/tmp/go";
syswrite($s, "two\n"); print scalar(<$s>) // "closed\n";
"""
# TCP client: HOST PORT. One connection, one line, prints the answer.
TCP_ONCE = r"""
my ($host, $port) = @ARGV;
my $a = gethostbyname($host) or die "cannot resolve $host\n";
socket(my $s, 2, 1, 0) or die "socket: $!";
connect($s, pack("S n a4 x8", 2, $port, $a)) or die "connect: $!";
syswrite($s, "one\n"); print scalar <$s>;
"""
ECHO = deployment("echo", """
terminationGracePeriodSeconds: 60
containers:
- name: echo
  image: kubedeck-test/perl:1
  command: ["perl", "-e"]
  args: [SERVER]
""", replicas=2) + """---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports:
  - {name: dns, port: 53, targetPort: 9053, protocol: UDP}
  - {name: tcp, port: 80, targetPort: 9080}
"""
CLIENT = """
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers:
  - {name: c, image: "kubedeck-test/perl:1", command: ["sleep", "3600"]}
"""


def echo_manifest() -> str:
    return ECHO.replace("[SERVER]", json.dumps([SERVER]))  # a JSON string is a YAML string


def perl(engine, pod: str, script: str, *args, background: str | None = None) -> str:
    """Run a perl script in the pod; with background=FILE, start it there and return."""
    cmd = 'perl -e "$SCRIPT" "$@"' + (f" >{background} 2>&1 &" if background else "")
    code, out = container(engine, pod).exec_run(["sh", "-c", cmd, "sh", *map(str, args)],
                                                environment={"SCRIPT": script})
    if code != 0:  # not an assert: inside wait_for a failed attempt (a name not resolvable yet) is "not yet"
        raise RuntimeError(f"perl in {pod} exited {code}: {out.decode(errors='replace')}")
    return out.decode(errors="replace")


def lines_of(engine, pod: str, path: str) -> list[str]:
    return exec_in(engine, pod, f"cat {path}").splitlines()


def start_echo(engine) -> set[str]:
    engine.write("echo.yaml", echo_manifest())
    engine.write("client.yaml", CLIENT)
    pods = wait_for(lambda: engine.running_ready("app=echo", 2), 90, what="2 echo pods")
    wait_for(lambda: engine.client.get("Pod", "default", "client")["status"]["phase"] == "Running", 60)
    return {p["metadata"]["name"] for p in pods}


def udp_answered(engine, pod: str, names: set[str]) -> None:
    """Four UDP pings from `pod` to the echo Service, all answered by its pods (each
    waits 2 s for its answer, which a machine under full load can still miss: retried)."""
    wait_for(lambda: (lambda got: got <= names and got)(set(perl(engine, pod, UDP_CLIENT, "echo", 53, 4, 1).split())),
             30, what=f"{pod}'s UDP pings all answered by the echo pods")


def test_udp_and_tcp_through_the_kernel_proxy(engine):
    names = start_echo(engine)
    # UDP on the Service port (53 -> 9053), balanced: each fresh socket is a new flow
    for host in ("echo", "echo.default.svc.cluster.local"):
        seen = wait_for(lambda host=host: set(perl(engine, "client", UDP_CLIENT, host, 53, 20, 1).split()) >= names
                        and True, 30, what=f"both echo pods answering UDP at {host}:53")
        assert seen
    assert "timeout" not in perl(engine, "client", UDP_CLIENT, "echo", 53, 10, 1)
    proxy = [c for c in engine.containers() if c.labels.get("io.kubedeck.role") == "service-proxy"]
    assert [c.attrs["Config"]["Image"].split(":")[0] for c in proxy] == ["kubedeck/svc-proxy"]

    # one UDP flow sending steadily, one TCP connection held open
    perl(engine, "client", UDP_CLIENT, "echo", 53, 900, 0, background="/tmp/udp")
    perl(engine, "client", TCP_CLIENT, "echo", 80, background="/tmp/tcp")
    udp_first = wait_for(lambda: (lambda ls: len(ls) >= 5 and ls)(lines_of(engine, "client", "/tmp/udp")), 30,
                         what="the UDP flow answered")
    assert len(set(udp_first)) == 1 and udp_first[0] in names, udp_first  # a flow sticks to one pod
    tcp_pod = wait_for(lambda: lines_of(engine, "client", "/tmp/tcp"), 30, what="the TCP answer")[0]
    assert tcp_pod in names

    # their pods leave the endpoints at once (terminating, still running for 60 s)
    gone = {udp_first[0], tcp_pod}
    for pod in gone:
        engine.client.delete("Pod", "default", pod)
    # the UDP flow moves to a ready pod although the old one still answers
    moved = wait_for(lambda: (lambda ls: ls and ls[-1] not in gone | {"timeout"} and ls[-1])(
        lines_of(engine, "client", "/tmp/udp")), 60, what="the UDP flow reaching a ready pod")
    assert moved not in gone
    # the open TCP connection drains: still answered by its terminating pod
    exec_in(engine, "client", "touch /tmp/go")
    tcp = wait_for(lambda: (lambda ls: len(ls) == 2 and ls)(lines_of(engine, "client", "/tmp/tcp")), 30,
                   what="the second answer on the held TCP connection")
    assert tcp == [tcp_pod, tcp_pod]


def test_session_affinity_client_ip(engine):
    names = start_echo(engine)
    affine = echo_manifest().replace("  selector: {app: echo}\n  ports:",
                                     "  selector: {app: echo}\n  sessionAffinity: ClientIP\n  ports:")
    engine.write("echo.yaml", affine)
    wait_for(lambda: engine.client.get("Service", "default", "echo")["spec"].get("sessionAffinity") == "ClientIP",
             30, what="the Service updated")

    def answers() -> list[str]:
        return perl(engine, "client", UDP_CLIENT, "echo", 53, 12, 1).split()
    # every fresh flow from this client lands on the same pod
    sticky = wait_for(lambda: (lambda a: len(set(a)) == 1 and "timeout" not in a and a)(answers()), 30,
                      what="all flows on one pod")
    assert sticky[0] in names
    # a third pod joins: the rules change, and the client keeps its pod
    engine.write("echo.yaml", affine.replace("replicas: 2", "replicas: 3"))
    wait_for(lambda: engine.running_ready("app=echo", 3), 90, what="3 echo pods")
    wait_for(lambda: "10800s" in (engine.state / "services/default_echo/rules.nft").read_text()
             and (engine.state / "services/default_echo/rules.nft").read_text().count("dnat to") == 6, 30,
             what="the rules with 3 endpoints loaded")
    got = answers()
    assert set(got) == {sticky[0]}, (sticky[0], got)
    engine.write("echo.yaml", echo_manifest())  # affinity off again: balanced
    assert wait_for(lambda: set(answers()) >= names and True, 30, what="both pods again")


def test_external_name_and_a_pod_reaching_its_own_service(engine):
    names = start_echo(engine)
    engine.write("alias.yaml", """
        apiVersion: v1
        kind: Service
        metadata: {name: alias}
        spec: {type: ExternalName, externalName: echo.default.svc.cluster.local}
        """)
    # every port of the alias reaches the target Service, as a CNAME would
    assert wait_for(lambda: perl(engine, "client", TCP_ONCE, "alias", 80).strip() in names, 30,
                    what="TCP through the ExternalName")
    assert set(perl(engine, "client", UDP_CLIENT, "alias", 53, 4, 1).split()) <= names
    assert not engine.client.get("Service", "default", "alias")["spec"].get("clusterIP")
    # hairpin: a pod of the Service reaches the Service, and so sometimes itself
    pod = sorted(names)[0]
    assert wait_for(lambda: set(perl(engine, pod, UDP_CLIENT, "echo", 53, 20, 1).split()) == names, 30,
                    what=f"{pod} reaching both pods through its own Service")


def test_a_restarted_engine_keeps_the_proxies_and_their_rules(engine):
    names = start_echo(engine)
    udp_answered(engine, "client", names)
    folder = engine.state / "services/default_echo"
    proxy = [c.id for c in engine.containers() if c.labels.get("io.kubedeck.role") == "service-proxy"]
    ip = engine.client.get("Service", "default", "echo")["spec"]["clusterIP"]
    # both pods are in the loaded rules (the UDP check above may be answered before the
    # second pod's rules are written, on a loaded machine)
    ips = [engine.client.get("Pod", "default", n)["status"]["podIP"] for n in names]
    wait_for(lambda: all(f"dnat to {a}:" in (folder / "rules.nft").read_text() for a in ips), 30,
             what="both echo pods in the loaded rules")
    before = (folder / "rules.nft").stat().st_mtime_ns
    engine.kill()
    engine.start()
    # a new pod's containers wait for the restarted engine's first proxy pass
    engine.write("client2.yaml", CLIENT.replace("name: client}", "name: client2}"))
    wait_for(lambda: engine.client.get("Pod", "default", "client2")["status"]["phase"] == "Running", 60)
    # the proxy was adopted, not replaced, and its rules were not reloaded
    assert [c.id for c in engine.containers() if c.labels.get("io.kubedeck.role") == "service-proxy"] == proxy
    assert engine.client.get("Service", "default", "echo")["spec"]["clusterIP"] == ip
    assert (folder / "rules.nft").stat().st_mtime_ns == before
    udp_answered(engine, "client2", names)
    # it still follows the endpoints, changing the rules in place (what was loaded is known)
    gone = sorted(names)[0]
    gone_ip = engine.client.get("Pod", "default", gone)["status"]["podIP"]
    engine.client.delete("Pod", "default", gone)
    wait_for(lambda: f"dnat to {gone_ip}:" not in (folder / "rules.nft").read_text(), 30,
             what="the rules reloaded without the deleted pod")
    assert (folder / "next.nft").read_text().startswith("table ip kubedeck {}\nflush table ip kubedeck\n")


def test_nc_fallback_proxies_tcp(make_engine, monkeypatch):
    monkeypatch.setenv("KUBEDECK_SERVICE_PROXY", "nc")
    engine = make_engine()
    engine.write("web.yaml", WEB + "---\n" + WEB_SVC + "---\n" + BUSYBOX_CLIENT)
    names = {p["metadata"]["name"] for p in wait_for(lambda: engine.running_ready("app=web", 2), 60,
                                                     what="web pods")}
    wait_for(lambda: engine.client.get("Pod", "default", "client")["status"]["phase"] == "Running", 60)
    got = wait_for(lambda: {exec_in(engine, "client", "wget -qO- http://web/") for _ in range(12)} >= names
                   and True, 30, what="both replicas through the nc proxy")
    assert got
    proxy = [c for c in engine.containers() if c.labels.get("io.kubedeck.role") == "service-proxy"]
    assert [c.attrs["Config"]["Image"] for c in proxy] == ["busybox:1.36"]


def test_pods_reach_a_service_by_the_hosts_dnat_and_a_pod_of_it_by_the_proxy(engine):
    """A pod's TCP connection to a clusterIP is DNAT-ed on the host's bridge (br_netfilter,
    nodeport_kernel.py's table): the proxy container's conntrack never sees it. A pod of
    the Service itself still goes through the proxy, which masquerades (hairpin)."""
    bridge_nf = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
    assert bridge_nf.exists() and bridge_nf.read_text().strip() == "1", \
        "br_netfilter is off (Docker turns it on): the host cannot see the bridge's packets"
    names = start_echo(engine)
    ip = engine.client.get("Service", "default", "echo")["spec"]["clusterIP"]
    client_ip = engine.client.get("Pod", "default", "client")["status"]["podIP"]
    rules = engine.state / "nodeports_host" / "rules.nft"
    wait_for(lambda: rules.exists() and f"ip daddr {ip} tcp dport 80 goto" in rules.read_text(), 30,
             what="the clusterIP route in the host's table")
    proxy = next(c for c in engine.containers() if c.labels.get("io.kubedeck.role") == "service-proxy")

    def tracked_by_proxy(src: str) -> int:
        code, out = proxy.exec_run(["/usr/bin/dd", "if=/proc/net/nf_conntrack", "status=none"])
        assert code == 0, out
        return out.decode().count(f"src={src} dst={ip} ")

    for _ in range(5):
        assert perl(engine, "client", TCP_ONCE, "echo", 80).strip() in names
    assert tracked_by_proxy(client_ip) == 0
    pod = sorted(names)[0]
    pod_ip = engine.client.get("Pod", "default", pod)["status"]["podIP"]
    assert perl(engine, pod, TCP_ONCE, "echo", 80).strip() in names
    assert tracked_by_proxy(pod_ip) >= 1
