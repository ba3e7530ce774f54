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
        if not p.backends:
            continue  # nothing listens on the port: TCP gets a reset, UDP an ICMP error
        proto = p.protocol.lower()
        pre.append(f"    meta l4proto {proto} th dport {p.port} goto p{n}")
        picks = ", ".join(f"{i} : goto p{n}e{i}" for i in range(len(p.backends)))
        # affinity sets are named after their backend, not its position, so that a reload
        # keeps them (and the clients they remember) for the endpoints that stay
        aff = [f"aff_{proto}{p.port}_{ip.replace('.', '_')}_{target}_{affinity_seconds}"
               for ip, target in p.backends] if affinity_seconds else []
        sets += [f"  set {name} {{ type ipv4_addr; flags dynamic,timeout; timeout {affinity_seconds}s; }}"
                 for name in aff]
        body.append(f"  chain p{n} {{")
        body += [f"    ip saddr @{name} goto p{n}e{i}" for i, name in enumerate(aff)]
        body += [f"    numgen random mod {len(p.backends)} vmap {{ {picks} }}", "  }"]
        for i, (ip, target) in enumerate(p.backends):
            body.append(f"  chain p{n}e{i} {{")
            if aff:
                body.append(f"    update @{aff[i]} {{ ip saddr }}")
            body += [f"    meta l4proto {proto} dnat to {ip}:{target}", "  }"]
    return _table(sets + body, pre)


def render_alias(target: str | None) -> str:
    """An ExternalName Service: every TCP and UDP port forwarded to the target's address
    (as a CNAME would send the client there), or nothing when it does not resolve."""
    return _table([], [f"    meta l4proto {{ tcp, udp }} dnat to {target}"] if target else [])


def _table(body: list[str], pre: list[str]) -> str:
    return "\n".join([f"table ip {TABLE} {{", *body,
                      "  chain pre {", "    type nat hook prerouting priority dstnat; policy accept;", *pre, "  }",
                      "  chain post {", "    type nat hook postrouting priority srcnat; policy accept;",
                      "    ct status dnat masquerade", "  }",
                      "}", ""])


def transaction(table: str, loaded: str | None) -> str:
    """One `nft -f` file that makes the table `table`, atomically. Given the table that is
    loaded now, it empties every chain, drops the chains and sets that are gone and
    declares the rest: affinity sets keep their members. Without it, the whole table is
    replaced (`table` first so that `delete` has something to delete on a first load)."""
    if loaded is None:
        return f"table ip {TABLE} {{}}\ndelete table ip {TABLE}\n" + table
    lines = [f"table ip {TABLE} {{}}", f"flush table ip {TABLE}"]
    for kind in ("chain", "set"):
        now = set(re.findall(rf"^  {kind} (\S+) {{", table, re.M))
        lines += [f"delete {kind} ip {TABLE} {name}"
                  for name in re.findall(rf"^  {kind} (\S+) {{", loaded, re.M) if name not in now]
    return "\n".join(lines) + "\n" + table


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
