"""nftables rules that make a Service proxy container forward in the kernel.

The in-cluster proxy of a Service (see services.py) is a container whose IP is the
Service's clusterIP. With these rules loaded in its own network namespace it relays no
bytes itself: a new connection or UDP flow arriving on a Service `port` is DNAT-ed to
one ready endpoint's targetPort (picked at random, or sticky per client IP with
`sessionAffinity: ClientIP`), and masqueraded so the answers come back through the
proxy, where conntrack rewrites them. This is kube-proxy's nftables mode, confined to
a container the engine created: nothing on the host changes.

Reloading the rules never breaks an established TCP connection (its NAT binding lives
in conntrack), which is how connections to a pod that stops being ready drain. UDP has
no end of flow, so a client sending steadily would stay bound to a gone pod; kube-proxy
deletes those conntrack entries. Here there is no conntrack tool, so UDP flows are
kept in a conntrack zone, and the zone changes when an endpoint is removed (or a port
gets its first one): every UDP flow then starts afresh on a ready pod.

Everything here is pure so it can be tested without Docker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TABLE = "kubedeck"


@dataclass
class PortRules:
    protocol: str  # "TCP" or "UDP"
    port: int
    backends: list[tuple[str, int]] = field(default_factory=list)


def render(ports: list[PortRules], *, affinity_seconds: int | None = None, udp_zone: int = 1) -> str:
    """The table's contents (see `transaction` for loading them)."""
    body, sets = [], []
    if any(p.protocol == "UDP" for p in ports):
        # ICMP too, so that a port-unreachable answer finds its UDP flow and reaches the client
        body += ["  chain raw {",
                 "    type filter hook prerouting priority raw; policy accept;",
                 f"    meta l4proto {{ udp, icmp }} ct zone set {udp_zone}",
                 "  }"]
    pre = []
    for n, p in enumerate(ports):
        pre += _port_chains(n, p, affinity_seconds, sets, body)
    return _table(sets + body, pre)


def render_host(ports: list[tuple[PortRules, int | None]], *, name: str, match: str, bridge: str,
                services: list[tuple[str, PortRules]] = (), api: tuple[str, int, int] | None = None) -> str:
    """A cluster's TCP NodePorts, in the host's own network namespace (nodeport_kernel.py):
    a local connection to `match` (`ip daddr 127.0.0.1`) on a nodePort is DNAT-ed to a ready
    endpoint (per port: PortRules and its ClientIP affinity seconds, or None).

    `services` (clusterIP, TCP PortRules) are the in-cluster Services' short cut: a pod's
    connection to a clusterIP crosses the host's bridge, whose packets the host's netfilter
    sees (br_netfilter, as kube-proxy needs it), so it is DNAT-ed right there and bridged
    straight to the endpoint; conntrack un-NATs the answers on their way back. The proxy
    container then sees nothing of it: no second trip over the bridge, no masquerade, no
    forwarding in its namespace. Without br_netfilter the chain never runs and the proxy
    container serves as before. A pod that is itself an endpoint of the port goes to the
    proxy container (`return`), which masquerades: DNAT to itself would need hairpin mode.

    A packet from 127.0.0.1 may leave through the cluster's bridge only with the bridge's
    `route_localnet` set, and is masqueraded there to the bridge's address. `route_localnet`
    would also let a container reach the host's 127.0.0.1 (CVE-2020-8558): the `guard`
    chain drops anything that arrives from the bridge addressed to 127.0.0.0/8, before NAT
    (answers to our DNAT are addressed to the bridge's IP until conntrack rewrites them).

    `api` (virtual IP, port, API port) is the `kubernetes` Service (in_cluster.py): a pod's
    connection to it reaches the host by the pod's default route and is DNAT-ed to the API
    on 127.0.0.1, which the bridge's `route_localnet` lets through (after the guard, which
    runs before NAT, so nothing else from the bridge reaches 127.0.0.0/8)."""
    body, sets, pre = ["  chain guard {",
                       "    type filter hook prerouting priority -300; policy accept;",
                       f'    iifname "{bridge}" ip daddr 127.0.0.0/8 drop',
                       "  }"], [], []
    for n, (p, affinity) in enumerate(ports):
        pre += [f"{match} {rule.strip()}" for rule in _port_chains(n, p, affinity, sets, body, served=True)]
    cluster = []
    for n, (ip, p) in enumerate(services):
        if p.protocol != "TCP" or not p.backends:
            continue
        body += [f"  chain c{n} {{", "    ip saddr { %s } return" % ", ".join(sorted({b[0] for b in p.backends})),
                 "    numgen random mod %d vmap { %s }" % (len(p.backends), ", ".join(
                     f"{i} : goto c{n}e{i}" for i in range(len(p.backends)))), "  }"]
        body += [f"  chain c{n}e{i} {{\n    meta l4proto tcp dnat to {bip}:{target}\n  }}"
                 for i, (bip, target) in enumerate(p.backends)]
        cluster.append(f'    iifname "{bridge}" ip daddr {ip} tcp dport {p.port} goto c{n}')
    if api:
        cluster.append(f'    iifname "{bridge}" ip daddr {api[0]} tcp dport {api[1]} dnat to 127.0.0.1:{api[2]}')
    if cluster:
        body += ["  chain svc {", "    type nat hook prerouting priority dstnat; policy accept;", *cluster, "  }"]
    return _table(sets + body, [f"    {rule}" for rule in pre], name=name, hook="output", priority="-100",
                  post=f'oifname "{bridge}" ip saddr 127.0.0.0/8 ct status dnat masquerade')


def _port_chains(n: int, p: PortRules, affinity_seconds: int | None, sets: list, body: list, *,
                 served: bool = False) -> list[str]:
    """Adds port `n`'s chains to `body` (and its affinity sets to `sets`); returns the rule
    that sends the port's new connections to them (none while it has no endpoint).
    `served`: each endpoint also gets a set that remembers its first connection (see
    `served_set`)."""
    if not p.backends:
        return []  # nothing listens on the port: TCP gets a reset, UDP an ICMP error
    proto = p.protocol.lower()
    picks = ", ".join(f"{i} : goto p{n}e{i}" for i in range(len(p.backends)))
    # affinity sets are named after their backend, not its position, so that a reload
    # keeps them (and the clients they remember) for the endpoints that stay
    aff = [affinity_set(proto, p.port, b, affinity_seconds) for b in p.backends] if affinity_seconds else []
    sets += [f"  set {name} {{ type ipv4_addr; flags dynamic,timeout; timeout {affinity_seconds}s; }}"
             for name in aff]
    body.append(f"  chain p{n} {{")
    body += [f"    ip saddr @{name} goto p{n}e{i}" for i, name in enumerate(aff)]
    body += [f"    numgen random mod {len(p.backends)} vmap {{ {picks} }}", "  }"]
    for i, (ip, target) in enumerate(p.backends):
        body.append(f"  chain p{n}e{i} {{")
        if served:
            name = served_set(p.port, ip, target)
            sets.append(f"  set {name} {{ type inet_proto; flags dynamic,timeout; timeout {SERVED_TIMEOUT}s; }}")
            body.append(f"    add @{name} {{ meta l4proto }}")
        if aff:
            body.append(f"    update @{aff[i]} {{ ip saddr }}")
        body += [f"    meta l4proto {proto} dnat to {ip}:{target}", "  }"]
    return [f"    meta l4proto {proto} th dport {p.port} goto p{n}"]


def affinity_set(proto: str, port: int, backend: tuple[str, int], seconds: int) -> str:
    """The set of the clients that stick to `backend` on `port` (ClientIP affinity)."""
    return f"aff_{proto}{port}_{backend[0].replace('.', '_')}_{backend[1]}_{seconds}"


SERVED_TIMEOUT = 86400


def served_set(port: int, ip: str, target: int) -> str:
    """The set that remembers when NodePort `port` first sent a connection to endpoint
    `ip`:`target`. The endpoint's chain sees only a connection's first packet (NAT chains
    do) and `add` never refreshes an element's timeout, so the set's one element (the
    protocol) carries its insertion time: `timeout - expires` ago. Named after the
    endpoint, like the affinity sets: a reload keeps it, a gone endpoint's set is deleted
    (a pod back with the same IP starts afresh). The agent reads the sets (`served_times`)
    instead of counting packets: one read gives the exact time, whenever it happens."""
    return f"srv_{port}_{ip.replace('.', '_')}_{target}"


_DURATION = re.compile(r"(\d+)(ms|d|h|m|s)")
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_SERVED = re.compile(r"set srv_(\d+)_(\d+_\d+_\d+_\d+)_(\d+) \{[^}]*?timeout (\S+)\s+elements = \{ \S+ (?:timeout \S+ )?expires (\S+)")


def _seconds(text: str) -> float:
    return sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))


def served_times(listing: str, now: float) -> dict[tuple[int, str, int], float]:
    """From `nft list sets table ...` taken at `now`: (nodePort, endpoint IP, target port)
    -> when its first connection came, for the `served_set`s that have their element."""
    return {(int(port), ip.replace("_", "."), int(target)): now - (_seconds(timeout) - _seconds(expires))
            for port, ip, target, timeout, expires in _SERVED.findall(listing)}


def render_alias(target: str | None) -> str:
    """An ExternalName Service: every TCP and UDP port forwarded to the target's address
    (as a CNAME would send the client there), or nothing when it does not resolve."""
    return _table([], [f"    meta l4proto {{ tcp, udp }} dnat to {target}"] if target else [])


def _table(body: list[str], pre: list[str], *, name: str = TABLE, hook: str = "prerouting",
           priority: str = "dstnat", post: str = "ct status dnat masquerade") -> str:
    return "\n".join([f"table ip {name} {{", *body,
                      "  chain pre {", f"    type nat hook {hook} priority {priority}; policy accept;", *pre, "  }",
                      "  chain post {", "    type nat hook postrouting priority srcnat; policy accept;",
                      f"    {post}", "  }",
                      "}", ""])


def transaction(table: str, loaded: str | None, name: str = TABLE,
                seeds: dict[str, list[tuple[str, float]]] | None = None) -> str:
    """One `nft -f` file that makes the table `table`, atomically. Given the table that is
    loaded now, it empties every chain, drops the chains and sets that are gone and
    declares the rest: affinity sets keep their members. Without it, the whole table is
    replaced (`table` first so that `delete` has something to delete on a first load).

    `seeds` (set name -> (client IP, seconds left)) fill the affinity sets this load
    creates: the clients the proxy worker served before the kernel took the port over
    stay on their endpoint (a set that is loaded already knows its clients)."""
    new_sets = set(_declared("set", table)) - set(_declared("set", loaded or ""))
    added = [f"add element ip {name} {s} {{ " + ", ".join(f"{ip} timeout {max(1, int(left))}s" for ip, left in members)
             + " }" for s, members in sorted((seeds or {}).items()) if members and s in new_sets]
    if loaded is None:
        return "\n".join([f"table ip {name} {{}}", f"delete table ip {name}", table.rstrip("\n"), *added, ""])
    lines = [f"table ip {name} {{}}", f"flush table ip {name}"]
    for kind in ("chain", "set"):
        now = set(_declared(kind, table))
        lines += [f"delete {kind} ip {name} {old}" for old in _declared(kind, loaded) if old not in now]
    return "\n".join([*lines, table.rstrip("\n"), *added, ""])


def _declared(kind: str, table: str) -> list[str]:
    """The names of the chains or sets (`kind`) a table's text declares."""
    return re.findall(rf"^  {kind} (\S+) {{", table, re.M)


def udp_flows_stale(old: list[PortRules] | None, new: list[PortRules]) -> bool:
    """Must UDP flows start afresh (a new conntrack zone)? As kube-proxy clears conntrack:
    when a UDP endpoint went away, or a UDP port that had none gets one (flows that began
    while it had none are bound to nothing and would stay so while the client sends)."""
    if old is None:
        return False
    now = {(p.port, b) for p in new if p.protocol == "UDP" for b in p.backends}
    if any((p.port, b) not in now for p in old if p.protocol == "UDP" for b in p.backends):
        return True
    had = {p.port for p in old if p.protocol == "UDP" and p.backends}
    return any(p.protocol == "UDP" and p.backends and p.port not in had for p in new)
