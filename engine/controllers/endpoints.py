"""Endpoints controller: each Service with a selector gets an Endpoints object listing
its pods, ready ones under `addresses` and the rest under `notReadyAddresses`, and the
same as EndpointSlices (discovery.k8s.io/v1, one per port set, `conditions.ready`), which
is what newer clients read. Terminating pods leave at once. Hand-made Endpoints of
selector-less Services are never touched. Also fills Service defaults the API server
would (clusterIP, nodePort).

Keyed by Service. A Pod event wakes the Services of its namespace that select it now or
listed it last time (the event carries only the new labels); an event on a managed
Endpoints or EndpointSlice wakes its Service, so a hand edit is undone and the objects
of a deleted Service are removed.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import random
from typing import Iterable

from .. import activity
from ..manifests.semantic_base import NODE_PORT_RANGE
from ..selectors import matches_selector, resolve_target_port
from ..store import Store, StoreError, WatchEvent
from .base import Controller, Key, key_for
from .podutil import is_ready, is_terminating

MANAGED = "endpoints.kubernetes.io/managed-by"
SLICE_MANAGED, SLICE_SERVICE = "endpointslice.kubernetes.io/managed-by", "kubernetes.io/service-name"


def _managed_service(obj: dict) -> Key | None:
    """The Service a kubedeck-managed Endpoints or EndpointSlice belongs to."""
    m = obj["metadata"]
    labels = m.get("labels") or {}
    if obj.get("kind") == "Endpoints" and labels.get(MANAGED) == "kubedeck":
        return key_for("Service", m.get("namespace"), m["name"])
    if obj.get("kind") == "EndpointSlice" and labels.get(SLICE_MANAGED) == "kubedeck":
        return key_for("Service", m.get("namespace"), labels.get(SLICE_SERVICE, ""))
    return None


class EndpointsController(Controller):
    kinds = ("Service",)
    batch_seconds = 0.02  # a rollout's pod events rewrite a big Endpoints once per batch, not per event
    component = "endpoint-controller"

    def __init__(self, store: Store, *, lb_address: str, node_port_range: tuple[int, int] | None = None):
        super().__init__(store)
        #: what LoadBalancer Services report as their ingress IP (the NodePort listeners' address)
        self.lb_address = lb_address
        #: where an unset nodePort is picked from (`serve --service-node-port-range`), both ends included
        self.node_port_range = node_port_range or NODE_PORT_RANGE
        self._net = ipaddress.ip_network("10.96.0.0/16")
        self._members: dict[Key, set[str]] = {}  # Service -> uids of the pods it listed

    def keys(self) -> Iterable[Key]:
        yield from super().keys()
        for kind in ("Endpoints", "EndpointSlice"):  # the leftovers of Services deleted while stopped
            for obj in self.store.iter_kind(kind):
                if (svc := _managed_service(obj)) is not None:
                    yield svc

    def related(self, ev: WatchEvent) -> Iterable[Key]:
        obj = ev.object
        if obj.get("kind") in ("Endpoints", "EndpointSlice"):
            svc = _managed_service(obj)
            return [svc] if svc else []
        if obj.get("kind") != "Pod":
            return []
        meta = obj["metadata"]
        labels = meta.get("labels") or {}
        out = []
        for svc in self.store.list("Service", meta.get("namespace") or "default", copy_=False):
            k = key_for("Service", svc["metadata"]["namespace"], svc["metadata"]["name"])
            sel = svc["spec"].get("selector")
            if (sel and matches_selector(sel, labels)) or meta.get("uid") in self._members.get(k, ()):
                out.append(k)
        return out

    def reconcile(self, key: Key) -> None:
        svc = self.store.peek(*key)
        if svc is not None:
            self._defaults(svc)
            svc = self.store.peek(*key)
        sel = svc["spec"].get("selector") if svc is not None else None
        if not sel:  # deleted, or selector-less: what kubedeck made for it goes
            self._members.pop(key, None)
            self._remove(key[1], key[2])
            return
        ns = key[1]
        mine = [p for p in self.store.list("Pod", ns, copy_=False)
                if (p.get("status") or {}).get("podIP") and not is_terminating(p)
                and matches_selector(sel, p["metadata"].get("labels") or {})]
        self._members[key] = {p["metadata"]["uid"] for p in mine}
        self._write(svc, mine)

    def _remove(self, ns: str, name: str) -> None:
        ep = self.store.peek("Endpoints", ns, name)
        doomed = [ep] if ep is not None and _managed_service(ep) else []
        doomed += [s for s in self.store.list("EndpointSlice", ns, copy_=False)
                   if _managed_service(s) == key_for("Service", ns, name)]
        for obj in doomed:
            try:
                self.store.delete(obj["kind"], ns, obj["metadata"]["name"])
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
        meta = body["metadata"]
        if live is None:
            self.store.create(body)
            activity.record(self.component, "create", body["kind"], meta["namespace"], meta["name"])
        elif any(live.get(f) != body[f] for f in fields) or live["metadata"].get("labels") != body["metadata"]["labels"]:
            new = copy.deepcopy(live)
            new.update({f: body[f] for f in fields})
            new["metadata"]["labels"] = body["metadata"]["labels"]
            self.store.update(new, check_rv=False)
            activity.record(self.component, "update", body["kind"], meta["namespace"], meta["name"])

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
                    lo, hi = self.node_port_range
                    free = [n for n in range(lo, hi + 1) if n not in used]
                    if not free:  # the reconcile's error becomes an Event, and it is retried
                        raise ValueError(f"no free nodePort left in the range {lo}-{hi}")
                    p["nodePort"] = random.choice(free)
                    used.add(p["nodePort"])
        for p in cs.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
        if cs != spec:
            self.store.update(changed, check_rv=False)
        if cs["type"] == "LoadBalancer":
            lb = {"loadBalancer": {"ingress": [{"ip": self.lb_address}]}}
            self.store.update_status("Service", svc["metadata"]["namespace"], svc["metadata"]["name"], lb)
