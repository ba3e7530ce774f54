"""TCP NodePorts forwarded by the host's kernel, as kube-proxy does, instead of by the
proxy worker.

Why: through the worker, every request crosses a second TCP connection in user space;
on 2 cores that holds a NodePort to about 0.75x of connecting to the pod directly. DNAT
in the host's kernel forwards as fast as the direct connection (bench/network.py).

How, with nothing but the Docker socket: a helper container in the host's network
namespace with NET_ADMIN (the Service proxy image: pause, nft and dd). The engine loads
one table per cluster into it (svc_rules.render_host, named after the cluster) with
`docker exec nft`, the same loader as the in-cluster proxies (svc_kernel.RuleLoader).
Local connections to 127.0.0.1 leave through the cluster's bridge only with that
bridge's `route_localnet` set: the helper gets the bridge's folder of /proc/sys bind
mounted and sets it with dd, after the rules that guard it are loaded.

The same table DNATs pods' connections to clusterIPs on the bridge (ServiceProxies'
`host_routes`, svc_rules.render_host), and pods' connections to the API's Service
(in_cluster.py) to the API on 127.0.0.1; so the helper runs while there is a TCP NodePort
or such a route, or once a pod has run; route_localnet is set only while there is a TCP
NodePort or the API's route.

The worker's listener stays bound: it holds the port (a port another program has is
still an error on that Service), it serves what the rules do not catch, and it is the
fallback when any of this is refused (the reason is logged once). UDP NodePorts stay in
the worker. KUBEDECK_NODEPORT_PROXY=userspace turns the kernel path off.

Each endpoint's first connection is seen in the kernel too: its chain adds to a set
whose element's age is the time of that connection (svc_rules.served_set). The pass
reads the sets (one `nft list sets`) only while an endpoint waits for its first one,
and less often the longer it waits (`read_interval`): the element keeps the exact time,
so a late read costs only delay. What it finds goes into the activity stream once per
endpoint and pod (`kube-proxy served`, the journey's last hop).

The table goes when the engine stops and when `kubedeck down` runs (remove_host_rules);
an engine that was killed leaves it until the next start replaces it. The table is named
after the cluster, so an engine removes it only when no other process holds the state
dir's lock (engine/lock.py): it is never another engine's.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from docker.errors import APIError, NotFound

from .. import activity, in_cluster
from ..labels import L_CLUSTER, L_ROLE
from ..owned import docker_unreachable, is_ours, remove_container
from ..lock import holder
from ..proxy.nodeport import endpoint_pods, ready_backends
from .svc_kernel import NftRefused, RuleLoader, exec_code
from .svc_proxy_image import DD, NFT
from .svc_rules import PortRules, affinity_set, render_host, served_times

log = logging.getLogger("kubedeck.nodeports")
ROLE = "nodeport-kernel"


def table_name(cluster: str) -> str:
    return "kubedeck_np_" + hashlib.sha1(cluster.encode()).hexdigest()[:10]


def match_for(address: str) -> str | None:
    """The nft match for connections to the listeners' address (None: not IPv4)."""
    if address == "0.0.0.0":
        return "fib daddr type local"
    parts = address.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return f"ip daddr {address}"
    return None


def bridge_name(api, network: str) -> str:
    """The host interface of a Docker bridge network."""
    net = api.inspect_network(network)
    return (net.get("Options") or {}).get("com.docker.network.bridge.name") or "br-" + net["Id"][:12]


def read_interval(waited: float) -> float:
    """Seconds between reads of the served sets when the newest endpoint still waiting
    for its first connection has waited `waited` s: 2 s at first, at most 30 s. A read
    costs the engine ~18 ms of CPU with 500 endpoints (mostly the Docker API calls):
    under 1 % of a core while pods come, 0.06 % once they have settled."""
    return min(30.0, max(2.0, waited / 10))


def set_route_localnet(api, helper: str, on: bool) -> tuple[int, str]:
    """Write the bridge's route_localnet (bind-mounted at /conf) through the helper:
    (dd's exit code, its output)."""
    return exec_code(api, helper, [DD, f"if=/kd/{'one' if on else 'zero'}", "of=/conf/route_localnet",
                                   "conv=notrunc", "status=none"])


def remove_host_rules(api, cluster: str) -> None:
    """Delete the cluster's host table and remove its helper (engine stop, `kubedeck down`).
    The table's deletion and route_localnet's clearing are two execs (~0.1 s each) that
    do not depend on each other: they run at once."""
    for c in api.containers(all=True, filters={"label": [f"{L_CLUSTER}={cluster}",
                                                         f"{L_ROLE}={ROLE}"]}):
        try:
            if c["State"] != "running":
                api.start(c["Id"])
            with ThreadPoolExecutor(2) as pool:
                done = [pool.submit(exec_code, api, c["Id"], [NFT, "delete", "table", "ip", table_name(cluster)]),
                        pool.submit(set_route_localnet, api, c["Id"], False)]
                for f in done:
                    f.result()
        except (APIError, NotFound) as e:
            log.warning("cannot remove the kernel NodePort rules: %s", e)
        try:
            api.remove_container(c["Id"], force=True)
        except (APIError, NotFound):
            pass


class HostNodePorts:
    def __init__(self, agent):
        self.agent = agent
        self.dir: Path = agent.ctx.state_dir / "nodeports_host"  # the loader's folder, /kd
        self.table = table_name(agent.ctx.cluster)
        self.off: str | None = "off" if os.environ.get("KUBEDECK_NODEPORT_PROXY") == "userspace" else None
        self.cluster_off: str | None = None  # why the clusterIP routes are not loaded (nft refused them)
        self.cid: str | None = None
        self.loader: RuleLoader | None = None
        self.localnet = False  # route_localnet is set on the bridge
        self.idle: bool | None = None  # no TCP NodePort (None: not known yet)
        # the API's route for pods (in_cluster.py): "loaded", "unavailable" (no nft, or the
        # rules refused), "idle" (no pod on the node), None (no pass yet)
        self.api_state: str | None = None
        # (nodePort, ip, target port) -> (namespace, pod, Service, since): endpoints the
        # rules send to that have no first connection in the stream yet
        self.waiting: dict[tuple[int, str, int], tuple[str, str, str, float]] = {}
        self.recorded: dict[tuple[int, str, int], tuple[str, str]] = {}  # ... and those that have: the pod
        self.next_read = 0.0
        # sync runs on a Docker thread: close() waits for a pass under way, so no pass can
        # load the table (or start a helper) again after the engine removed it at stop
        self._lock = threading.RLock()
        self.closed = False

    def close(self) -> None:
        """Engine stop: no pass after this one, and the table and helper removed. A pass
        stuck on an unanswering Docker is waited for 5 s at most (the stop goes on)."""
        self.closed = True
        held = self._lock.acquire(timeout=5)
        try:
            self.remove()
        finally:
            if held:
                self._lock.release()

    def describe(self) -> str:
        """How local TCP NodePort connections are forwarded now (`kubedeck status`)."""
        if self.off:
            return "user space" + ("" if self.off == "off" else f" ({self.off})")
        if self.idle:
            return "kernel (no TCP NodePort now)"
        return "kernel" if self.localnet else "user space (kernel rules not loaded yet)"

    def sync(self, image: str | None, listeners: list, endpoints: dict) -> None:
        """One pass, on a Docker thread: `listeners` are the worker's bound TCP NodePorts
        as (port, ServicePort); the in-cluster Services' clusterIP routes come from the
        Service proxies' pass that just ran (ServiceProxies.host_routes)."""
        with self._lock:
            if not self.closed:
                self._sync(image, listeners, endpoints)

    def _sync(self, image: str | None, listeners: list, endpoints: dict) -> None:
        routes = [] if image is None or self.cluster_off else self.agent.services.host_routes
        api = self._api_route(image)
        if self.off:
            listeners = []
        d = self.agent.docker
        if not listeners and not routes and not api:  # no helper while it has nothing to do (nor one a killed engine left)
            if self.idle is not True:
                self.remove()
                self.cid, self.localnet, self.idle = None, False, True
            return
        self.idle = not listeners
        match = match_for(self.agent.ctx.address)
        if listeners and (image is None or match is None):
            return self._turn_off("no nft on the host" if image is None else "the listen address is not IPv4")
        try:
            bridge = bridge_name(d.api, d.network)
            info = self._helper(image, bridge)
            ports = [(PortRules("TCP", port, ready_backends(endpoints.get((sp.namespace, sp.name)),
                                                            sp.port_name, sp.target)), sp.affinity or None)
                     for port, sp in sorted(listeners, key=lambda item: item[0])]
            table = render_host(ports, name=self.table, match=match or "ip daddr 127.0.0.1", bridge=bridge,
                                services=routes, api=api)
            clients = self.agent.ctx.nodeport_clients
            seeds = {affinity_set("tcp", port, backend, sp.affinity): members
                     for port, sp in listeners if sp.affinity for backend, members in clients(sp).items()}
            if not self.loader.load(("nodeports", "host"), info, lambda _zone: table, [], seeds):
                return  # the helper could not be reached: next pass
            self._watch(listeners, endpoints)
            if self.waiting and time.monotonic() >= self.next_read:
                self._read_served(info["Id"])
            if not listeners and not api:  # the clusterIP routes alone need no local routing
                if self.localnet:
                    set_route_localnet(d.api, info["Id"], False)
                    self.localnet = False
                return
            if not self.localnet:
                code, out = set_route_localnet(d.api, info["Id"], True)
                if code != 0:
                    self.api_state = "unavailable" if api else self.api_state
                    return self._turn_off(f"cannot set route_localnet on {bridge} (dd exit {code}: {out})")
                self.localnet = True
                log.info("%s in the kernel (table %s, bridge %s)", "TCP NodePorts forward" if listeners
                         else "pods reach the API", self.table, bridge)
            if api:
                self.api_state = "loaded"
        except NftRefused as e:
            if api:
                self.api_state = "unavailable"
            if listeners:
                self._turn_off(f"nft refused the rules: {e}")
            else:  # the clusterIP routes alone: the proxy containers serve them, as without br_netfilter
                self.cluster_off = f"nft refused the rules: {e}"
                log.warning("in-cluster Services stay on their proxy containers: %s", self.cluster_off)
                self.remove()
                self.cid, self.idle = None, True
        except (APIError, NotFound, OSError) as e:
            if docker_unreachable(e):  # Docker is away: the agent says so; the next pass retries
                log.debug("kernel NodePorts wait for Docker: %s", e)
                return
            self.api_state = "unavailable" if api else self.api_state
            self._turn_off(f"the helper container failed: {e}")

    def _api_route(self, image: str | None) -> tuple[str, int, int] | None:
        """The `kubernetes` Service's DNAT (in_cluster.py), from the node's first pod on."""
        port = self.agent.ctx.api_port
        if image is None or self.cluster_off or port is None or self.api_state == "unavailable":
            self.api_state = "unavailable"
            return None
        if not self.agent.workers and self.api_state != "loaded":  # kept once loaded: the next
            self.api_state = "idle"  # first pod (a scale from 0) need not wait for the helper again
            return None
        return (in_cluster.SERVICE_IP, in_cluster.SERVICE_PORT, port)

    def _watch(self, listeners: list, endpoints: dict) -> None:
        """The endpoints the loaded rules send to, each waiting for its first connection
        unless it is recorded for the same pod already."""
        now, current = time.monotonic(), {}
        for port, sp in listeners:
            eps = endpoints.get((sp.namespace, sp.name))
            pods = endpoint_pods(eps)
            for ip, target in ready_backends(eps, sp.port_name, sp.target):
                if ip in pods:
                    current[(port, ip, target)] = (*pods[ip], sp.name)
        self.recorded = {ep: pod for ep, pod in self.recorded.items() if current.get(ep, ())[:2] == pod}
        waiting = {}
        for ep, (ns, pod, svc) in current.items():
            if ep not in self.recorded:
                old = self.waiting.get(ep)
                waiting[ep] = old if old and old[:2] == (ns, pod) else (ns, pod, svc, now)
        if set(waiting) - set(self.waiting):
            self.next_read = min(self.next_read, now + read_interval(0))  # a new endpoint: read soon
        self.waiting = waiting

    def _read_served(self, cid: str) -> None:
        """One `nft list sets`: the waiting endpoints that got their first connection go
        into the activity stream, with its time."""
        api = self.agent.docker.api
        parts, now = [], time.time()
        try:
            ex = api.exec_create(cid, [NFT, "list", "sets", "table", "ip", self.table])
            for chunk in api.exec_start(ex["Id"], stream=True):
                # nft writes right after its dump: the first bytes' arrival is the listing's
                # time, closer than the exec's end (Docker takes tens of ms to see the exit)
                now = now if parts else time.time()
                parts.append(chunk)
        except (APIError, NotFound) as e:  # the rules still work: try again later
            log.debug("cannot read the served sets: %s", e)
        listing = b"".join(parts).decode(errors="replace")
        for ep, at in served_times(listing, now).items():
            if ep in self.waiting:
                ns, pod, svc, _ = self.waiting.pop(ep)
                self.recorded[ep] = (ns, pod)
                activity.RING.served(ns, pod, at, f"NodePort {ep[0]} of Service {svc} (kernel DNAT)")
        mono = time.monotonic()
        newest = max((w[3] for w in self.waiting.values()), default=mono)
        self.next_read = mono + read_interval(mono - newest)

    def _turn_off(self, why: str) -> None:
        self.off = why
        log.warning("NodePorts stay in the user-space proxy: %s", why)
        try:
            self.remove()
        except (APIError, NotFound):
            pass
        self.cid = None

    def remove(self) -> None:
        """Remove the cluster's table and helper (a Docker thread, or engine stop), unless
        another process holds the state dir: then they are that engine's."""
        other = holder(self.agent.ctx.state_dir)
        if other not in (None, os.getpid()):
            log.warning("engine pid %s holds %s: its NodePort rules stay", other, self.agent.ctx.state_dir)
            return
        remove_host_rules(self.agent.docker.api, self.agent.ctx.cluster)

    def _helper(self, image: str, bridge: str) -> dict:
        """The helper's inspect: the running one of this engine, one left by an earlier
        engine with the same image, or a new one."""
        api, d = self.agent.docker.api, self.agent.docker
        if self.cid:
            try:
                info = api.inspect_container(self.cid)
                if info["State"]["Running"]:
                    return info
            except NotFound:
                pass
        self.dir.mkdir(parents=True, exist_ok=True)
        for name, text in (("one", "1\n"), ("zero", "0\n")):
            (self.dir / name).write_text(text)
        self.loader = self.loader or RuleLoader(api, self.dir.parent, self.table)
        self.localnet = False
        name = f"k8s_nodeports_{d.cluster}"
        try:
            info = api.inspect_container(name)
            if info["State"]["Running"] and info["Config"]["Image"] == image and is_ours(
                    info["Config"].get("Labels"), d.cluster):
                self.cid = info["Id"]
                return info
            remove_container(api, name, d.cluster)  # NotOurs (an APIError) for a stranger's
        except NotFound:
            pass
        c = api.create_container(image, name=name, labels={
            L_CLUSTER: d.cluster, L_ROLE: ROLE},
            host_config=api.create_host_config(
                network_mode="host", cap_add=["NET_ADMIN"], binds={
                    str(self.dir): {"bind": "/kd", "mode": "ro"},
                    f"/proc/sys/net/ipv4/conf/{bridge}": {"bind": "/conf", "mode": "rw"}}))
        api.start(c["Id"])
        self.cid = c["Id"]
        return api.inspect_container(c["Id"])
