"""Endpoints controller: each Service with a selector gets an Endpoints object listing
its pods, ready ones under `addresses` and the rest under `notReadyAddresses`, and the
same as EndpointSlices (discovery.k8s.io/v1, one per port set, `conditions.ready`), which
is what newer clients read. Terminating pods leave at once. Hand-made Endpoints of
selector-less Services are never touched. Also fills Service defaults the API server
would (clusterIP, nodePort).
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import random

from ..store import StoreError
from ..selectors import matches_selector
from .podutil import is_ready, is_terminating

MANAGED = "endpoints.kubernetes.io/managed-by"
SLICE_MANAGED, SLICE_SERVICE = "endpointslice.kubernetes.io/managed-by", "kubernetes.io/service-name"
NODEPORT_RANGE = (30000, 32767)


def resolve_target_port(pod: dict, target) -> int | None:
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for c in pod["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target:
                return int(p["containerPort"])
    return None


class EndpointsController:
    def __init__(self, cluster):
        self.c = cluster
        self.store = cluster.store
        self._net = ipaddress.ip_network("10.96.0.0/16")

    def reconcile(self) -> None:
        services = list(self.store.iter_kind("Service"))
        for svc in services:
            self._defaults(svc)
        services = list(self.store.iter_kind("Service"))
        pods = [p for p in self.store.iter_kind("Pod") if (p.get("status") or {}).get("podIP")]
        names = set()
        for svc in services:
            sel = svc["spec"].get("selector")
            if not sel:
                continue
            ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
            names.add((ns, name))
            mine = [p for p in pods if p["metadata"]["namespace"] == ns and not is_terminating(p)
                    and matches_selector(sel, p["metadata"].get("labels") or {})]
            self._write(svc, mine)
        for kind, label in (("Endpoints", MANAGED), ("EndpointSlice", SLICE_MANAGED)):
            for ep in self.store.iter_kind(kind):
                m = ep["metadata"]
                owner = (m["namespace"], (m.get("labels") or {}).get(SLICE_SERVICE, m["name"]))
                if (m.get("labels") or {}).get(label) == "kubedeck" and owner not in names:
                    try:
                        self.store.delete(kind, m["namespace"], m["name"])
                    except StoreError:
                        pass

    def _write(self, svc: dict, pods: list[dict]) -> None:
        subsets: dict[tuple, dict] = {}
        for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
            ports = []
            for sp in svc["spec"].get("ports") or []:
                tp = resolve_target_port(pod, sp.get("targetPort", sp.get("port")))
                if tp is None:
                    continue
                port = {"port": tp, "protocol": sp.get("protocol", "TCP")}
                if sp.get("name"):
                    port["name"] = sp["name"]
                ports.append(port)
            if not ports:
                continue
            key = tuple((p.get("name", ""), p["port"], p["protocol"]) for p in ports)
            sub = subsets.setdefault(key, {"ports": ports})
            addr = {"ip": pod["status"]["podIP"], "nodeName": pod["spec"].get("nodeName"),
                    "targetRef": {"kind": "Pod", "name": pod["metadata"]["name"],
                                  "namespace": pod["metadata"]["namespace"], "uid": pod["metadata"]["uid"]}}
            if pod["spec"].get("hostname"):
                addr["hostname"] = pod["spec"]["hostname"]
            sub.setdefault("addresses" if is_ready(pod) else "notReadyAddresses", []).append(addr)
        body = {"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": svc["metadata"]["name"], "namespace": svc["metadata"]["namespace"],
                             "labels": {**(svc["metadata"].get("labels") or {}), MANAGED: "kubedeck"}},
                "subsets": list(subsets.values())}
        self._put(body, ("subsets",))
        self._write_slices(svc, body["subsets"])

    def _put(self, body: dict, fields: tuple[str, ...]) -> None:
        """Create, or update `fields` and labels when they differ."""
        live = self.store.peek(body["kind"], body["metadata"]["namespace"], body["metadata"]["name"])
        if live is None:
            self.store.create(body)
        elif any(live.get(f) != body[f] for f in fields) or live["metadata"].get("labels") != body["metadata"]["labels"]:
            new = copy.deepcopy(live)
            new.update({f: body[f] for f in fields})
            new["metadata"]["labels"] = body["metadata"]["labels"]
            self.store.update(new, check_rv=False)

    def _write_slices(self, svc: dict, subsets: list[dict]) -> None:
        """One EndpointSlice per port set (at least one, empty when no pod matches)."""
        meta = svc["metadata"]
        ns, name = meta["namespace"], meta["name"]
        stem = f"{name}-{hashlib.sha1(meta.get('uid', name).encode()).hexdigest()[:5]}"
        wanted = []
        for i, sub in enumerate(subsets or [{}]):
            endpoints = []
            for key, ready in (("addresses", True), ("notReadyAddresses", False)):
                for a in sub.get(key) or []:
                    ep = {"addresses": [a["ip"]], "conditions": {"ready": ready, "serving": ready, "terminating": False},
                          "nodeName": a.get("nodeName"), "targetRef": a["targetRef"]}
                    if a.get("hostname"):
                        ep["hostname"] = a["hostname"]
                    endpoints.append(ep)
            body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": stem if i == 0 else f"{stem}-{i}", "namespace": ns,
                                 "labels": {SLICE_SERVICE: name, SLICE_MANAGED: "kubedeck"},
                                 "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name,
                                                      "uid": meta.get("uid", ""), "controller": True,
                                                      "blockOwnerDeletion": True}]},
                    "addressType": "IPv4", "ports": sub.get("ports") or [], "endpoints": endpoints}
            wanted.append(body["metadata"]["name"])
            self._put(body, ("ports", "endpoints"))
        i = len(wanted)
        while self.store.peek("EndpointSlice", ns, f"{stem}-{i}"):  # port sets that went away
            self.store.delete("EndpointSlice", ns, f"{stem}-{i}")
            i += 1

    def _defaults(self, svc: dict) -> None:
        spec = svc["spec"]
        changed = copy.deepcopy(svc)
        cs = changed["spec"]
        cs.setdefault("type", "ClusterIP")
        if cs["type"] == "ExternalName":  # a name only, as in Kubernetes (also after a type change)
            cs.pop("clusterIP", None)
            cs.pop("clusterIPs", None)
        elif not cs.get("clusterIP"):
            used = {s["spec"].get("clusterIP") for s in self.store.iter_kind("Service")}
            while True:
                ip = str(self._net[random.randint(10, self._net.num_addresses - 2)])
                if ip not in used:
                    break
            cs["clusterIP"] = ip
            cs["clusterIPs"] = [ip]
        if cs["type"] in ("NodePort", "LoadBalancer"):
            used = {p.get("nodePort") for s in self.store.iter_kind("Service")
                    for p in s["spec"].get("ports") or []}
            for p in cs.get("ports") or []:
                if not p.get("nodePort"):
                    free = [n for n in range(*NODEPORT_RANGE) if n not in used]
                    p["nodePort"] = random.choice(free)
                    used.add(p["nodePort"])
        for p in cs.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
        if cs != spec:
            self.store.update(changed, check_rv=False)
        if cs["type"] == "LoadBalancer":
            lb = {"loadBalancer": {"ingress": [{"ip": self.c.settings.address}]}}
            self.store.update_status("Service", svc["metadata"]["namespace"], svc["metadata"]["name"], lb)
