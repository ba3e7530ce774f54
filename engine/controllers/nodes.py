"""Node lifecycle: the virtual nodes, their conditions and taints, and evictions.

Desired nodes come from `<state>/cluster.yaml` when it exists, else `serve --nodes N`:

    nodes:
    - name: kubedeck
      cpu: "4"
      memory: 8Gi
      labels: {disk: ssd}
      taints: [{key: dedicated, value: db, effect: NoSchedule}]
    podEvictionTimeoutSeconds: 5

Keyed by Node (each configured name, and each existing node); a reconcile (level-triggered):
- creates the configured Node objects that are missing (sized from this machine unless
  cpu/memory say otherwise; labels and taints from the file on creation), and deletes
  nodes kubedeck made that the configuration no longer names;
- sets conditions: a node carrying the annotation `kubedeck.io/stopped: "true"`
  (`kubedeck node stop`) is Ready=Unknown/NodeStatusUnknown and tainted
  `node.kubernetes.io/unreachable` NoSchedule+NoExecute, as the node lifecycle
  controller does when a kubelet stops posting status; otherwise Ready=True.
  MemoryPressure follows the machine's available memory. A cordoned node
  (spec.unschedulable) carries `node.kubernetes.io/unschedulable:NoSchedule`;
- evicts (deletes with grace 0) pods on a node with a NoExecute taint they do not
  tolerate: pods without a matching toleration after the eviction timeout (default 5 s:
  Kubernetes' admission adds 300 s), pods with tolerationSeconds after those seconds;
- deletes pods bound to a node that no longer exists (the pod GC's job).

A pod's event wakes its node when that node is gone or has a NoExecute taint; an
eviction still waiting requeues the node for the moment it is due. The resync runs
every second, since two inputs live outside the store: cluster.yaml (read again when its
mtime changes) and the machine's available memory.
"""

from __future__ import annotations

import copy
import logging
import os
import platform
from pathlib import Path
from typing import Iterable

import yaml

from ..clock import Clock, iso
from ..labels import A_MANAGED_NODE as MANAGED
from ..labels import A_STOPPED as STOPPED
from ..store import Store, StoreError, WatchEvent
from .base import Controller, Key, Objects, key_for
from .podutil import is_terminating, parse_time, set_condition

log = logging.getLogger("kubedeck.controllers")

UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
OUR_TAINTS = (UNREACHABLE, UNSCHEDULABLE)
DEFAULT_EVICTION_SECONDS = 5.0
LOW_MEMORY_BYTES = 100 * 1024 * 1024  # kubelet's default memory.available<100Mi


def machine_capacity() -> dict:
    cpus = os.cpu_count() or 1
    try:
        mem_kib = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem_kib = 4 * 1024 * 1024
    return {"cpu": str(cpus), "memory": f"{mem_kib}Ki", "pods": "110", "ephemeral-storage": "100Gi"}


def memory_available() -> int | None:
    try:
        return next(int(line.split()[1]) * 1024 for line in open("/proc/meminfo")
                    if line.startswith("MemAvailable"))
    except (OSError, StopIteration, ValueError):
        return None


def _read(path: str, default: str) -> str:
    try:
        return open(path).read().strip() or default
    except OSError:
        return default


def node_info(name: str) -> dict:
    """status.nodeInfo with every field the API schema requires."""
    import uuid

    os_image = "linux"
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                os_image = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {"machineID": _read("/etc/machine-id", "kubedeck"),
            "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.kubedeck")),
            "bootID": _read("/proc/sys/kernel/random/boot_id", "unknown"),
            "kernelVersion": platform.release(), "osImage": os_image,
            "containerRuntimeVersion": "docker", "kubeletVersion": "v1.30.0-kubedeck",
            "kubeProxyVersion": "v1.30.0-kubedeck", "operatingSystem": "linux",
            "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())}


def node_names(count: int) -> list[str]:
    # minikube's habit: the first node is the cluster's name, then -m02, -m03 ...
    return ["kubedeck"] + [f"kubedeck-m{i:02d}" for i in range(2, count + 1)]


def load_config(state, count: int) -> dict:
    """The cluster configuration: cluster.yaml in the state dir, else `count` default nodes."""
    path = state / "cluster.yaml"
    conf: dict = {}
    if path.exists():
        try:
            conf = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            log.error("%s: %s (using --nodes %d)", path, e, count)
            conf = {}
    nodes = conf.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        nodes = [{"name": n} for n in node_names(count)]
    elif isinstance(nodes, list):
        names = node_names(len(nodes))
        nodes = [dict(n, name=n.get("name") or names[i]) if isinstance(n, dict) else {"name": str(n)}
                 for i, n in enumerate(nodes)]
    return {"nodes": nodes,
            "evictionSeconds": float(conf.get("podEvictionTimeoutSeconds", DEFAULT_EVICTION_SECONDS))}


def tolerating(pod: dict, taint: dict) -> dict | None:
    """The toleration of `pod` matching `taint`, or None."""
    for t in pod["spec"].get("tolerations") or []:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t["key"] == taint.get("key")):
            return t
        if t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return t
    return None


class NodeController(Controller):
    kinds = ("Node",)
    resync_seconds = 1.0
    component = "node-controller"

    def __init__(self, store: Store, objects: Objects, clock: Clock, *, state_dir: Path, count: int):
        """`state_dir` holds cluster.yaml; `count` is `serve --nodes`, used without it."""
        super().__init__(store)
        self.objects = objects
        self.clock = clock
        self.state_dir = state_dir
        self.count = count
        self._conf: dict | None = None
        self._conf_mtime: float | None = None

    def config(self) -> dict:
        path = self.state_dir / "cluster.yaml"
        try:
            mtime = path.stat().st_mtime
        except OSError:
            mtime = None
        if self._conf is None or mtime != self._conf_mtime:
            self._conf = load_config(self.state_dir, self.count)
            self._conf_mtime = mtime
        return self._conf

    def keys(self) -> Iterable[Key]:
        names = {n["name"] for n in self.config()["nodes"]}
        names.update(n["metadata"]["name"] for n in self.store.iter_kind("Node"))
        return [key_for("Node", "", n) for n in sorted(names)]

    def related(self, ev: WatchEvent) -> Iterable[Key]:
        obj = ev.object
        name = obj.get("kind") == "Pod" and ev.type != "DELETED" and obj["spec"].get("nodeName")
        if not name:
            return ()
        node = self.store.peek("Node", "", name)
        if node is None or any(t.get("effect") == "NoExecute" for t in node["spec"].get("taints") or []):
            return [key_for("Node", "", name)]
        return ()

    def reconcile(self, key: Key) -> float | None:
        name = key[2]
        conf = self.config()
        want = next((n for n in conf["nodes"] if n["name"] == name), None)
        node = self.store.peek("Node", "", name)
        if node is None and want is not None:
            node = self.store.create(self._new_node(want))
        elif node is not None and want is None and (node["metadata"].get("labels") or {}).get(MANAGED) == "true":
            self.store.delete("Node", "", name)
            node = None
        if node is None:
            self._delete_pods_of_gone_node(name)
            return None
        node = self._sync_node(node, memory_available())
        return self._evict(node, conf["evictionSeconds"])

    def _new_node(self, want: dict) -> dict:
        name = want["name"]
        cap = machine_capacity()
        if want.get("cpu") is not None:
            cap["cpu"] = str(want["cpu"])
        if want.get("memory") is not None:
            cap["memory"] = str(want["memory"])
        if want.get("pods") is not None:
            cap["pods"] = str(want["pods"])
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": {"x86_64": "amd64", "aarch64": "arm64"}.get(
                      platform.machine(), platform.machine()),
                  MANAGED: "true", **{str(k): str(v) for k, v in (want.get("labels") or {}).items()}}
        spec: dict = {}
        if want.get("taints"):
            spec["taints"] = [dict(t) for t in want["taints"]]
        return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
                "spec": spec,
                "status": {"capacity": cap, "allocatable": dict(cap), "conditions": [],
                           "nodeInfo": node_info(name),
                           "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                         {"type": "Hostname", "address": name}]}}

    def _sync_node(self, node: dict, mem_avail: int | None) -> dict:
        """Write the node's taints and conditions; returns the node as stored."""
        now = iso(self.clock.now())
        meta = node["metadata"]
        stopped = (meta.get("annotations") or {}).get(STOPPED) == "true"
        # spec: taints kubedeck manages (others are the user's and left alone)
        taints = [t for t in node["spec"].get("taints") or [] if t.get("key") not in OUR_TAINTS]
        old = {(t.get("key"), t.get("effect")): t for t in node["spec"].get("taints") or []}
        add = []
        if node["spec"].get("unschedulable"):
            add.append((UNSCHEDULABLE, "NoSchedule"))
        if stopped:
            add += [(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")]
        for key, effect in add:
            t = old.get((key, effect)) or {"key": key, "effect": effect}
            if effect == "NoExecute" and "timeAdded" not in t:
                t = {**t, "timeAdded": now}
            taints.append(t)
        if taints != (node["spec"].get("taints") or []):
            new = copy.deepcopy(node)
            if taints:
                new["spec"]["taints"] = taints
            else:
                new["spec"].pop("taints", None)
            node = self.store.update(new, check_rv=False)
        # status: conditions as the kubelet and node lifecycle controller report them
        st = copy.deepcopy(node.get("status") or {})
        conds = st.get("conditions") or []
        if stopped:
            msg = "Kubelet stopped posting node status."
            conds = set_condition(conds, "Ready", "Unknown", "NodeStatusUnknown", msg, now)
            conds = set_condition(conds, "MemoryPressure", "Unknown", "NodeStatusUnknown", msg, now)
        else:
            conds = set_condition(conds, "Ready", "True", "KubeletReady",
                                  "kubedeck node agent is posting ready status", now)
            low = mem_avail is not None and mem_avail < LOW_MEMORY_BYTES
            conds = set_condition(conds, "MemoryPressure", "True" if low else "False",
                                  "KubeletHasInsufficientMemory" if low else "KubeletHasSufficientMemory",
                                  "kubelet has insufficient memory available" if low
                                  else "kubelet has sufficient memory available", now)
        info = st.get("nodeInfo") or {}
        if any(k not in info for k in ("machineID", "systemUUID", "bootID", "kubeProxyVersion")):
            st["nodeInfo"] = {**node_info(meta["name"]), **info}  # nodes stored by older versions
        if conds != st.get("conditions") or st.get("nodeInfo") != (node.get("status") or {}).get("nodeInfo"):
            for c in conds:
                c.setdefault("lastHeartbeatTime", c.get("lastTransitionTime"))
            was = next((c for c in st.get("conditions") or [] if c["type"] == "Ready"), None)
            st["conditions"] = conds
            node = self.store.update_status("Node", "", meta["name"], st) or node
            if was and was["status"] == "True" and stopped:
                self.objects.record_event(node, "NodeNotReady", f"Node {meta['name']} status is now: NodeNotReady",
                                          component="node-controller")
            elif was and was["status"] != "True" and not stopped:
                self.objects.record_event(node, "NodeReady", f"Node {meta['name']} status is now: NodeReady",
                                          component="kubelet")
        return node

    def _pods_on(self, name: str) -> list[dict]:
        return [p for p in self.store.iter_kind("Pod") if p["spec"].get("nodeName") == name]

    def _delete_pods_of_gone_node(self, name: str) -> None:
        """Pods bound to a node that is gone: the pod GC deletes them."""
        for pod in self._pods_on(name):
            try:
                self.store.delete("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])
            except StoreError:
                pass

    def _evict(self, node: dict, default_seconds: float) -> float | None:
        """Evict the pods whose NoExecute taints are due; seconds until the next one is."""
        taints = [t for t in node["spec"].get("taints") or [] if t.get("effect") == "NoExecute"]
        if not taints:
            return None
        now = self.clock.now()
        waits = []
        for pod in self._pods_on(node["metadata"]["name"]):
            if is_terminating(pod):
                continue
            meta = pod["metadata"]
            for taint in taints:
                tol = tolerating(pod, taint)
                if tol is not None and tol.get("tolerationSeconds") is None:
                    continue  # tolerated forever
                wait = float(tol["tolerationSeconds"]) if tol is not None else default_seconds
                due = parse_time(taint.get("timeAdded")) + wait
                if due > now:
                    waits.append(due - now)
                    continue
                try:
                    self.objects.delete("Pod", meta["namespace"], meta["name"], grace=0)
                except StoreError:
                    continue
                self.objects.record_event(pod, "TaintManagerEviction",
                                          f"Marking for deletion Pod {meta['namespace']}/{meta['name']}",
                                          component="taint-eviction-controller")
                break
        return min(waits) if waits else None
