"""In-cluster Service names: one small proxy container per Service.

Docker's embedded DNS on the cluster network is our cluster DNS. Each Service with a
cluster IP gets a proxy container whose network aliases are the Service's names
(`web.default`, `web.default.svc`, `web.default.svc.cluster.local`; a bare `web` is found
through the pod's DNS search path, so it means the Service in the pod's namespace). Its
IP becomes the Service's clusterIP, so `WEB_SERVICE_HOST` points at it too. Headless
Services get no proxy: their names are aliases on the pods themselves (see
PodWorker.aliases).

Two kinds of proxy, both forwarding a Service `port` to a ready endpoint's `targetPort`
(so 80 -> 8080 works) and following Endpoints with no container restart:
- kernel (the default): the image of svc_proxy_image.py, with NET_ADMIN in its own
  network namespace only; the engine loads nftables DNAT rules (svc_rules.py) into it
  with `docker exec nft` whenever the endpoints change. TCP and UDP, sessionAffinity.
- nc (the fallback when the host has no nft, or KUBEDECK_SERVICE_PROXY=nc): busybox,
  `nc -ll -e` forking a relay per connection, scripts and endpoint files in a
  bind-mounted directory of the state dir. TCP only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
from pathlib import Path

from docker.errors import APIError, BuildError, ImageNotFound, NotFound

from ..proxy.nodeport import affinity_seconds, ready_backends
from . import svc_proxy_image
from .svc_rules import PortRules, render, render_alias, udp_flows_stale

log = logging.getLogger("kubedeck.services")
PROXY_IMAGE = os.environ.get("KUBEDECK_PROXY_IMAGE", "busybox:1.36")
L_SERVICE, L_HASH = "io.kubedeck.service", "io.kubedeck.service-hash"

ROUTE = """#!/bin/sh
# pick a random ready endpoint for this Service port and relay the connection to it
set -- $(awk -v r=$RANDOM 'NF {a[n++]=$0} END {if (n) print a[r % n]}' /kd/ep-{i})
[ -n "$1" ] || exit 1
exec nc -w 3 "$1" "$2"
"""


def service_names(name: str, ns: str) -> list[str]:
    """DNS aliases of a Service. The bare `name` is not one: pods find it through their
    search path (PodWorker.dns_search), so it resolves in the pod's own namespace."""
    return [f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.cluster.local"]


def service_env(services: list[dict]) -> dict[str, str]:
    """Kubernetes' docker-links style variables for the Services that exist now."""
    env: dict[str, str] = {}
    for svc in services:
        ip = svc["spec"].get("clusterIP")
        ports = svc["spec"].get("ports") or []
        if not ip or ip == "None" or not ports:
            continue
        base = svc["metadata"]["name"].upper().replace("-", "_")
        env[f"{base}_SERVICE_HOST"] = ip
        env[f"{base}_SERVICE_PORT"] = str(ports[0]["port"])
        env[f"{base}_PORT"] = f"tcp://{ip}:{ports[0]['port']}"
        for p in ports:
            proto = p.get("protocol", "TCP")
            pre = f"{base}_PORT_{p['port']}_{proto}"
            env[pre] = f"{proto.lower()}://{ip}:{p['port']}"
            env[pre + "_PROTO"] = proto.lower()
            env[pre + "_PORT"] = str(p["port"])
            env[pre + "_ADDR"] = ip
            if p.get("name"):
                env[f"{base}_SERVICE_PORT_{p['name'].upper().replace('-', '_')}"] = str(p["port"])
    return env


class ServiceProxies:
    def __init__(self, agent):
        self.agent = agent
        self.root: Path = agent.cluster.settings.state / "services"
        self.known: dict[tuple[str, str], tuple[str, str]] = {}  # (ns, name) -> (container id, hash)
        self.kernel_image: str | None = None  # None: nc proxies
        # kernel proxies: what is loaded in each, and the UDP conntrack zone it uses
        self.loaded: dict[tuple[str, str], tuple[str, str, list[PortRules]]] = {}  # key -> (cid, text, ports)
        self.zone: dict[tuple[str, str], int] = {}

    def _dir(self, ns: str, name: str) -> Path:
        return self.root / f"{ns}_{name}"

    def adopt_sync(self) -> None:
        api = self.agent.docker.api
        for c in api.containers(all=True, filters={"label": [f"io.kubedeck.cluster={self.agent.cluster.name}",
                                                            L_SERVICE]}):
            ns, _, name = c["Labels"][L_SERVICE].partition("/")
            self.known[(ns, name)] = (c["Id"], c["Labels"].get(L_HASH, ""))
        self.kernel_image = self._kernel_image()

    def _kernel_image(self) -> str | None:
        if os.environ.get("KUBEDECK_SERVICE_PROXY", "kernel") == "nc":
            return None
        client = self.agent.docker.client
        try:
            tag, ctx = svc_proxy_image.context()
            try:
                client.images.get(tag)
            except ImageNotFound:
                client.images.build(fileobj=ctx, custom_context=True, tag=tag, rm=True,
                                    labels={"io.kubedeck.image": "svc-proxy"})
            return tag
        except (svc_proxy_image.Unavailable, APIError, BuildError) as e:
            log.warning("in-cluster Services fall back to busybox nc proxies (TCP only): %s", e)
            return None

    def _ports(self, svc: dict, eps: dict | None) -> list[PortRules]:
        protocols = ("TCP", "UDP") if self.kernel_image else ("TCP",)
        return [PortRules(p.get("protocol", "TCP"), int(p["port"]),
                          ready_backends(eps, p.get("name", ""), p.get("targetPort")))
                for p in svc["spec"]["ports"] if p.get("protocol", "TCP") in protocols]

    def reconcile_sync(self, services: list[dict], endpoints: dict) -> dict[tuple[str, str], str]:
        """Make proxy containers match the Services; returns (ns, name) -> proxy IP."""
        d = self.agent.docker
        kernel = self.kernel_image
        want = {}
        for svc in services:
            spec = svc["spec"]
            if spec.get("type") == "ExternalName":
                if not (self.kernel_image and spec.get("externalName")):
                    continue
            elif spec.get("clusterIP") == "None" or not spec.get("ports"):
                continue
            want[(svc["metadata"]["namespace"], svc["metadata"]["name"])] = svc
        ips = {}
        for key in list(self.known):
            if key not in want:
                self._remove(key)
        for key, svc in want.items():
            alias = svc["spec"].get("type") == "ExternalName"
            ports = [] if alias else self._ports(svc, endpoints.get(key))
            kind = self.kernel_image or PROXY_IMAGE
            h = hashlib.sha1(json.dumps([kind, alias, [(p.protocol, p.port) for p in ports]]).encode()).hexdigest()[:12]
            if not self.kernel_image:
                self._write_endpoints(key, ports)
            cid, old_h = self.known.get(key, (None, None))
            info = None
            if cid:
                try:
                    info = d.api.inspect_container(cid)
                except NotFound:
                    info = None
            if info is None or old_h != h or not info["State"]["Running"]:
                if cid:
                    self._remove(key)
                cid = self._create(key, ports, h)
                if not cid:
                    continue
                info = d.api.inspect_container(cid)
            if alias:  # no clusterIP in Kubernetes either: the name is the point
                self._load_rules(key, cid, render_alias(external_target(svc["spec"]["externalName"], services)))
                continue
            if self.kernel_image:
                self._load_rules(key, cid, self._rules(key, cid, svc["spec"], ports), ports)
            ips[key] = d.ip_of(info)
        if kernel and not self.kernel_image:  # fell back to nc during this pass: redo them all
            return self.reconcile_sync(services, endpoints)
        return ips

    def _write_endpoints(self, key, ports: list[PortRules]) -> None:
        base = self._dir(*key)
        base.mkdir(parents=True, exist_ok=True)
        for i, p in enumerate(ports):
            _write_if_changed(base / f"ep-{i}", "".join(f"{ip} {port}\n" for ip, port in p.backends))
            route = base / f"route-{i}"
            if not route.exists():
                route.write_text(ROUTE.replace("{i}", str(i)))
                route.chmod(0o755)

    def _rules(self, key, cid: str, spec: dict, ports: list[PortRules]) -> str:
        old_cid, _, old_ports = self.loaded.get(key, (None, None, None))
        zone = self.zone.get(key) or _zone_in(self._dir(*key) / "rules.nft")  # a restarted engine keeps it
        if old_cid == cid and udp_flows_stale(old_ports, ports):
            zone = zone % 65535 + 1
        self.zone[key] = zone
        return render(ports, affinity_seconds=affinity_seconds(spec), udp_zone=zone)

    def _load_rules(self, key, cid: str, text: str, ports: list[PortRules] | None = None) -> None:
        """Load a proxy's DNAT rules when they changed (one `nft -f`)."""
        old_cid, old_text, _ = self.loaded.get(key, (None, None, None))
        if old_cid == cid and old_text == text:
            return
        base = self._dir(*key)
        base.mkdir(parents=True, exist_ok=True)
        _write_if_changed(base / "rules.nft", text)
        api = self.agent.docker.api
        try:
            ex = api.exec_create(cid, ["/usr/sbin/nft", "-f", "/kd/rules.nft"])
            out = api.exec_start(ex["Id"]).decode(errors="replace").strip()
            code = api.exec_inspect(ex["Id"])["ExitCode"]
        except (APIError, NotFound) as e:  # the container went away: the next pass recreates it
            log.warning("Service %s/%s: cannot reach its proxy to load rules: %s", *key, e)
            return
        if code != 0:
            # nft itself refused (a kernel without nf_tables, no NET_ADMIN...): that holds for
            # every Service, so all proxies become nc relays (their hash changes next pass)
            log.error("Service %s/%s: nft could not load the proxy rules (exit %s): %s; in-cluster "
                      "Services fall back to busybox nc relays (TCP only)", *key, code, out)
            self.kernel_image = None
            return
        self.loaded[key] = (cid, text, ports or [])

    def _create(self, key, ports: list[PortRules], h: str) -> str | None:
        d = self.agent.docker
        ns, name = key
        self._dir(ns, name).mkdir(parents=True, exist_ok=True)
        if self.kernel_image:
            image, command = self.kernel_image, None
            extra = {"cap_add": ["NET_ADMIN"], "sysctls": {
                "net.ipv4.ip_forward": "1",
                # answers go back out the interface they came in on: no ICMP redirects
                "net.ipv4.conf.all.send_redirects": "0", "net.ipv4.conf.default.send_redirects": "0"}}
        else:
            image, command, extra = PROXY_IMAGE, ["sh", "/kd/run.sh"], {"init": True}
            run = "".join(f"nc -ll -p {p.port} -e /kd/route-{i} &\n" for i, p in enumerate(ports)) + "wait\n"
            (self._dir(ns, name) / "run.sh").write_text("#!/bin/sh\n" + run)
        cname = f"k8s_svc_{name}_{ns}_{d.cluster}"
        try:
            try:
                d.api.remove_container(cname, force=True)
            except NotFound:
                pass
            net = d.api.create_networking_config({d.network: d.api.create_endpoint_config(
                aliases=service_names(name, ns))})
            c = d.api.create_container(
                image, name=cname, command=command, networking_config=net,
                labels={"io.kubedeck.cluster": d.cluster, L_SERVICE: f"{ns}/{name}", L_HASH: h,
                        "io.kubedeck.role": "service-proxy"},
                host_config=d.api.create_host_config(network_mode=d.network, binds={
                    str(self._dir(ns, name)): {"bind": "/kd", "mode": "ro"}}, **extra))
            d.api.start(c["Id"])
        except (APIError, NotFound) as e:
            log.error("Service %s/%s: cannot start its in-cluster proxy (%s): %s", ns, name, image, e)
            return None
        self.known[key] = (c["Id"], h)
        return c["Id"]

    def _remove(self, key) -> None:
        cid, _ = self.known.pop(key, (None, None))
        self.loaded.pop(key, None)
        if cid:
            try:
                self.agent.docker.api.remove_container(cid, force=True)
            except (APIError, NotFound):
                pass


def external_target(name: str, services: list[dict]) -> str | None:
    """The address an ExternalName points at: a Service of the cluster by its DNS name,
    else whatever the host resolves it to."""
    name = name.rstrip(".").lower()
    for svc in services:
        meta, spec = svc["metadata"], svc["spec"]
        if name in service_names(meta["name"], meta["namespace"]):
            ip = spec.get("clusterIP")
            return ip if ip and ip != "None" and spec.get("type") != "ExternalName" else None
    try:
        return socket.gethostbyname(name)
    except OSError:
        return None


def _zone_in(rules: Path) -> int:
    try:
        m = re.search(r"ct zone set (\d+)", rules.read_text())
    except OSError:
        m = None
    return int(m.group(1)) if m else 1


def _write_if_changed(path: Path, text: str) -> None:
    """Replace a file atomically, so a reader never sees half of it."""
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
