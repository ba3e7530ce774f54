"""In-cluster Service names: one small proxy container per Service.

Docker's embedded DNS on the cluster network is our cluster DNS. Each Service with a
cluster IP gets a proxy container whose network aliases are the Service's names
(`web.default`, `web.default.svc`, `web.default.svc.cluster.local`; a bare `web` is found
through the pod's DNS search path, so it means the Service in the pod's namespace), listening
on every Service `port` and forwarding each connection to a ready endpoint's
`targetPort` (so 80 -> 8080 works). Its IP becomes the Service's clusterIP, so
`WEB_SERVICE_HOST` points at it too.

The proxy needs no binary of ours: it is busybox (`nc -ll -e` forks a relay per
connection) with scripts from a bind-mounted directory in the state dir. The engine
rewrites the endpoint files there whenever Endpoints change, so traffic moves off a
pod as soon as it stops being ready, with no container restart. Headless Services get
no proxy: their names are aliases on the pods themselves (see PodWorker.aliases).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from docker.errors import APIError, NotFound

from ..proxy.nodeport import ready_backends

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

    def _dir(self, ns: str, name: str) -> Path:
        return self.root / f"{ns}_{name}"

    def adopt_sync(self) -> None:
        api = self.agent.docker.api
        for c in api.containers(all=True, filters={"label": [f"io.kubedeck.cluster={self.agent.cluster.name}",
                                                            L_SERVICE]}):
            ns, _, name = c["Labels"][L_SERVICE].partition("/")
            self.known[(ns, name)] = (c["Id"], c["Labels"].get(L_HASH, ""))

    def reconcile_sync(self, services: list[dict], endpoints: dict) -> dict[tuple[str, str], str]:
        """Make proxy containers match the Services; returns (ns, name) -> proxy IP."""
        d = self.agent.docker
        want = {}
        for svc in services:
            spec = svc["spec"]
            if spec.get("clusterIP") == "None" or spec.get("type") == "ExternalName" or not spec.get("ports"):
                continue
            want[(svc["metadata"]["namespace"], svc["metadata"]["name"])] = svc
        ips = {}
        for key in list(self.known):
            if key not in want:
                self._remove(key)
        for key, svc in want.items():
            ports = [int(p["port"]) for p in svc["spec"]["ports"] if p.get("protocol", "TCP") == "TCP"]
            h = hashlib.sha1(json.dumps(ports).encode()).hexdigest()[:12]
            self._write_endpoints(key, svc, endpoints.get(key))
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
            ips[key] = d.ip_of(info)
        return ips

    def _write_endpoints(self, key, svc: dict, eps: dict | None) -> None:
        base = self._dir(*key)
        base.mkdir(parents=True, exist_ok=True)
        ports = [p for p in svc["spec"]["ports"] if p.get("protocol", "TCP") == "TCP"]
        for i, p in enumerate(ports):
            lines = "".join(f"{ip} {port}\n" for ip, port in ready_backends(eps, p.get("name", ""), p.get("targetPort")))
            path = base / f"ep-{i}"
            if not path.exists() or path.read_text() != lines:
                tmp = base / f".ep-{i}.tmp"
                tmp.write_text(lines)
                os.replace(tmp, path)
            route = base / f"route-{i}"
            if not route.exists():
                route.write_text(ROUTE.replace("{i}", str(i)))
                route.chmod(0o755)

    def _create(self, key, ports: list[int], h: str) -> str | None:
        d = self.agent.docker
        ns, name = key
        run = "".join(f"nc -ll -p {port} -e /kd/route-{i} &\n" for i, port in enumerate(ports)) + "wait\n"
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
                PROXY_IMAGE, name=cname, command=["sh", "/kd/run.sh"], networking_config=net,
                labels={"io.kubedeck.cluster": d.cluster, L_SERVICE: f"{ns}/{name}", L_HASH: h,
                        "io.kubedeck.role": "service-proxy"},
                host_config=d.api.create_host_config(network_mode=d.network, binds={
                    str(self._dir(ns, name)): {"bind": "/kd", "mode": "ro"}}, init=True))
            d.api.start(c["Id"])
        except (APIError, NotFound) as e:
            log.error("Service %s/%s: cannot start its in-cluster proxy (%s): %s", ns, name, PROXY_IMAGE, e)
            return None
        self.known[key] = (c["Id"], h)
        return c["Id"]

    def _remove(self, key) -> None:
        cid, _ = self.known.pop(key, (None, None))
        if cid:
            try:
                self.agent.docker.api.remove_container(cid, force=True)
            except (APIError, NotFound):
                pass
