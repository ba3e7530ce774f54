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
  with `docker exec nft` (svc_kernel.py) whenever the endpoints change. TCP and UDP,
  sessionAffinity; ExternalName Services too.
- nc (the fallback when the host has no nft, when nft refuses the very first rules, or
  with KUBEDECK_SERVICE_PROXY=nc): busybox,
  `nc -ll -e` forking a relay per connection, scripts and endpoint files in a
  bind-mounted directory of the state dir (nc_relay.py). TCP only.

With kernel proxies, a Service's TCP ports (without ClientIP affinity) are also handed
to the host's NodePort helper (`host_routes`, nodeport_kernel.py), which DNATs pods'
connections to the clusterIP on the bridge itself, so they never cross the proxy
container (svc_rules.render_host says how). KUBEDECK_SERVICE_HOST_DNAT=0 turns that off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

from docker.errors import APIError, BuildError, ImageNotFound, NotFound

from .. import in_cluster
from ..labels import L_CLUSTER, L_HASH, L_IMAGE, L_ROLE, L_SERVICE
from ..owned import remove_container
from ..proxy.nodeport import affinity_seconds, ready_backends
from . import nc_relay, svc_proxy_image
from .svc_kernel import NameCache, NftRefused, RuleLoader
from .svc_rules import PortRules, render, render_alias

log = logging.getLogger("kubedeck.services")
HOST_DNAT = os.environ.get("KUBEDECK_SERVICE_HOST_DNAT", "1") != "0"



def service_names(name: str, ns: str) -> list[str]:
    """DNS aliases of a Service. The bare `name` is not one: pods find it through their
    search path (PodWorker.dns_search), so it resolves in the pod's own namespace."""
    return [f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.cluster.local"]


def needs_proxy(svc: dict) -> bool:
    """Does the Service get a cluster IP, and so a proxy container? (ExternalName
    Services get one too, with the kernel proxies, but no IP.)"""
    spec = svc["spec"]
    return spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None" and bool(spec.get("ports"))


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
        self.root: Path = agent.ctx.state_dir / "services"
        self.known: dict[tuple[str, str], tuple[str, str]] = {}  # (ns, name) -> (container id, hash)
        self.kernel_image: str | None = None  # None: nc proxies
        self.kernel_ok = False  # nft has loaded rules at least once: a later refusal is one Service's
        self.rules: RuleLoader | None = None
        self.names = NameCache()
        # (Service, message) of rules nft refused in the last pass, for Events from the loop
        self.failures: list[tuple[dict, str]] = []
        self.said: set[tuple] = set()  # ports already warned about
        # (clusterIP, TCP port) of the last pass that the host may DNAT itself (svc_rules.render_host)
        self.host_routes: list[tuple[str, PortRules]] = []

    def _dir(self, ns: str, name: str) -> Path:
        return self.root / f"{ns}_{name}"

    def adopt_sync(self) -> None:
        api = self.agent.docker.api
        for c in api.containers(all=True, filters={"label": [f"{L_CLUSTER}={self.agent.ctx.cluster}",
                                                            L_SERVICE]}):
            ns, _, name = c["Labels"][L_SERVICE].partition("/")
            self.known[(ns, name)] = (c["Id"], c["Labels"].get(L_HASH, ""))
        self.kernel_image = self._kernel_image()
        self.rules = RuleLoader(api, self.root)

    def _kernel_image(self) -> str | None:
        if os.environ.get("KUBEDECK_SERVICE_PROXY", "kernel") == "nc":
            return None
        client = self.agent.docker.client
        try:
            tag, ctx = svc_proxy_image.context()
            try:
                client.images.get(tag)
            except ImageNotFound:
                self.agent.docker.slow()  # a build: seconds, more on a loaded machine
                client.images.build(fileobj=ctx, custom_context=True, tag=tag, rm=True,
                                    labels={L_IMAGE: "svc-proxy"})
                self._drop_old_images(tag)
            return tag
        except (svc_proxy_image.Unavailable, APIError, BuildError) as e:
            log.warning("in-cluster Services fall back to busybox nc proxies (TCP only): %s", e)
            return None

    def _drop_old_images(self, keep: str) -> None:
        """Builds for an older nft; Docker refuses to remove one a container still uses."""
        for image in self.agent.docker.client.images.list(svc_proxy_image.REPO):
            if (image.labels or {}).get(L_IMAGE) != "svc-proxy":
                continue  # an image someone else tagged in our repository: not ours to drop
            for tag in image.tags:
                if tag != keep and tag.startswith(svc_proxy_image.REPO + ":"):
                    try:
                        self.agent.docker.client.images.remove(tag)
                    except APIError:
                        pass

    def _ports(self, svc: dict, eps: dict | None) -> list[PortRules]:
        protocols = ("TCP", "UDP") if self.kernel_image else ("TCP",)
        out = []
        for p in svc["spec"]["ports"]:
            if p.get("protocol", "TCP") not in protocols:
                said = (svc["metadata"].get("uid"), p["port"], p.get("protocol"), protocols)
                if said not in self.said:  # once, not every pass
                    self.said.add(said)
                    log.warning("Service %s/%s: port %s/%s is not forwarded inside the cluster (%s)",
                                svc["metadata"]["namespace"], svc["metadata"]["name"], p["port"], p.get("protocol"),
                                "TCP only without nft" if self.kernel_image is None else "TCP and UDP only")
                continue
            out.append(PortRules(p.get("protocol", "TCP"), int(p["port"]),
                                 ready_backends(eps, p.get("name", ""), p.get("targetPort"))))
        return out

    def reconcile_sync(self, services: list[dict], endpoints: dict) -> dict[tuple[str, str], str]:
        """Make proxy containers match the Services; returns (ns, name) -> proxy IP."""
        d = self.agent.docker
        kernel = self.kernel_image
        self.failures = []
        routes: list[tuple[str, PortRules]] = []
        want = {}
        for svc in services:
            spec = svc["spec"]
            if spec.get("type") == "ExternalName":
                if not (self.kernel_image and spec.get("externalName")):
                    continue
            elif not needs_proxy(svc) or in_cluster.is_master(svc["metadata"]["namespace"], svc["metadata"]["name"]):
                continue  # the API's Service is the host's own DNAT (nodeport_kernel.py)
            want[(svc["metadata"]["namespace"], svc["metadata"]["name"])] = svc
        ips = {}
        for key in list(self.known):
            if key not in want:
                self._remove(key)
        if self.root.is_dir():  # folders of gone Services (also those deleted while the engine was down)
            keep = {self._dir(*key).name for key in want}
            for folder in self.root.iterdir():
                if folder.name not in keep:
                    shutil.rmtree(folder, ignore_errors=True)
        for key, svc in want.items():
            alias = svc["spec"].get("type") == "ExternalName"
            ports = [] if alias else self._ports(svc, endpoints.get(key))
            # kernel proxies take new ports with new rules; nc ones need a new run.sh
            shape = [self.kernel_image, alias] if self.kernel_image else \
                [nc_relay.IMAGE, [(p.protocol, p.port) for p in ports]]
            h = hashlib.sha1(json.dumps(shape).encode()).hexdigest()[:12]
            if not self.kernel_image:
                nc_relay.write_endpoints(self._dir(*key), ports)
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
            if self.kernel_image:
                if alias:
                    target = external_target(svc["spec"]["externalName"], services, self.names)
                    self._load(svc, key, info, lambda _zone, t=target: render_alias(t), [])
                    continue  # no clusterIP in Kubernetes either: the name is the point
                spec = svc["spec"]
                self._load(svc, key, info, lambda zone, ports=ports, spec=spec: render(
                    ports, affinity_seconds=affinity_seconds(spec), udp_zone=zone), ports)
            ips[key] = d.ip_of(info)
            if self.kernel_image and not affinity_seconds(spec) and ips[key]:
                routes += [(ips[key], p) for p in ports if p.protocol == "TCP" and p.backends]
        if kernel and not self.kernel_image:  # fell back to nc during this pass: redo them all
            return self.reconcile_sync(services, endpoints)
        self.host_routes = routes if HOST_DNAT and self.kernel_image else []
        return ips

    def _load(self, svc: dict, key, info: dict, make_table, ports: list[PortRules]) -> None:
        try:
            if self.rules.load(key, info, make_table, ports):
                self.kernel_ok = True
        except NftRefused as e:
            if self.kernel_ok:  # nft works: this Service's rules are the trouble; retried next pass
                log.error("Service %s/%s: nft refused its proxy rules (%s)", *key, e)
                self.failures.append((svc, f"in-cluster proxy rules refused by nft: {e}"))
                return
            # the very first load failed (a kernel without nf_tables, no NET_ADMIN...): that
            # holds for every Service, so all proxies become nc relays (their hash changes)
            log.error("Service %s/%s: nft could not load the proxy rules (%s); in-cluster Services "
                      "fall back to busybox nc relays (TCP only)", *key, e)
            self.kernel_image = None

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
            image, command, extra = nc_relay.IMAGE, ["sh", "/kd/run.sh"], {"init": True}
            nc_relay.write_run_script(self._dir(ns, name), ports)
        cname = f"k8s_svc_{name}_{ns}_{d.cluster}"
        try:
            remove_container(d.api, cname, d.cluster)  # only ours: NotOurs for a stranger's
            net = d.api.create_networking_config({d.network: d.api.create_endpoint_config(
                aliases=service_names(name, ns))})
            c = d.api.create_container(
                image, name=cname, command=command, networking_config=net,
                labels={L_CLUSTER: d.cluster, L_SERVICE: f"{ns}/{name}", L_HASH: h,
                        L_ROLE: "service-proxy"},
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
        if self.rules:
            self.rules.forget(key)
        if cid:
            try:
                self.agent.docker.api.remove_container(cid, force=True)
            except (APIError, NotFound):
                pass


def external_target(name: str, services: list[dict], names: NameCache) -> str | None:
    """The address an ExternalName points at: a Service of the cluster by its DNS name
    (not a headless or ExternalName one: they have no single address), else whatever the
    host resolves it to."""
    name = name.rstrip(".").lower()
    for svc in services:
        meta, spec = svc["metadata"], svc["spec"]
        if name in service_names(meta["name"], meta["namespace"]):
            ip = spec.get("clusterIP")
            return ip if ip and ip != "None" and spec.get("type") != "ExternalName" else None
    return names.lookup(name)
