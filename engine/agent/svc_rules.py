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

`render` is pure so it can be tested without Docker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TABLE = "kubedeck"


@dataclass
class PortRules:
    protocol: str  # "TCP" or "UDP"
    port: int
    backends: list[tuple[str, int]] = field(default_factory=list)


def render(ports: list[PortRules], *, affinity_seconds: int | None = None, udp_zone: int = 1) -> str:
    """The whole table, as one `nft -f` transaction that replaces the previous one."""
    body = []
    if any(p.protocol == "UDP" for p in ports):
        body += ["  chain raw {",
                 "    type filter hook prerouting priority raw; policy accept;",
                 f"    meta l4proto udp ct zone set {udp_zone}",
                 "  }"]
    pre = []
    for n, p in enumerate(ports):
        if not p.backends:
            continue  # nothing listens on the port: TCP gets a reset, UDP an ICMP error
        proto = p.protocol.lower()
        pre.append(f"    meta l4proto {proto} th dport {p.port} goto p{n}")
        picks = ", ".join(f"{i} : goto p{n}e{i}" for i in range(len(p.backends)))
        body.append(f"  chain p{n} {{")
        if affinity_seconds:
            body += [f"    ip saddr @aff{n}e{i} goto p{n}e{i}" for i in range(len(p.backends))]
        body += [f"    numgen random mod {len(p.backends)} vmap {{ {picks} }}", "  }"]
        for i, (ip, target) in enumerate(p.backends):
            if affinity_seconds:
                body.insert(0, f"  set aff{n}e{i} {{ type ipv4_addr; flags dynamic,timeout; "
                               f"timeout {affinity_seconds}s; }}")
            body.append(f"  chain p{n}e{i} {{")
            if affinity_seconds:
                body.append(f"    update @aff{n}e{i} {{ ip saddr }}")
            body += [f"    meta l4proto {proto} dnat to {ip}:{target}", "  }"]
    body += ["  chain pre {",
             "    type nat hook prerouting priority dstnat; policy accept;",
             *pre,
             "  }",
             "  chain post {",
             "    type nat hook postrouting priority srcnat; policy accept;",
             "    ct status dnat masquerade",
             "  }"]
    # `table` first so that `delete` has something to delete on the first load
    return "\n".join([f"table ip {TABLE} {{}}", f"delete table ip {TABLE}",
                      f"table ip {TABLE} {{", *body, "}", ""])


def render_alias(target: str | None) -> str:
    """An ExternalName Service: every TCP and UDP port forwarded to the target's address
    (as a CNAME would send the client there), or nothing when it does not resolve."""
    rule = [f"    meta l4proto {{ tcp, udp }} dnat to {target}"] if target else []
    return "\n".join([f"table ip {TABLE} {{}}", f"delete table ip {TABLE}", f"table ip {TABLE} {{",
                      "  chain pre {", "    type nat hook prerouting priority dstnat; policy accept;", *rule,
                      "  }", "  chain post {", "    type nat hook postrouting priority srcnat; policy accept;",
                      "    ct status dnat masquerade", "  }", "}", ""])


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
