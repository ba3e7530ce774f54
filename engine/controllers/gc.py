"""Garbage collector and node lifecycle.

GC: an object whose every ownerReference names an owner that no longer exists (same
uid) is deleted, which cascades level by level: Deployment -> ReplicaSets -> Pods.
Foreground propagation is not modelled separately: dependents go right after the owner.

Nodes: makes the configured virtual Node objects, sized from this machine, Ready.
"""

from __future__ import annotations

import os
import platform

from ..store import StoreError

OWNED_KINDS = ("ReplicaSet", "Pod", "Endpoints", "Job", "ControllerRevision", "PersistentVolumeClaim")


class GarbageCollector:
    def __init__(self, cluster):
        self.c = cluster
        self.store = cluster.store

    def reconcile(self) -> None:
        uids = {o["metadata"].get("uid") for k in self.store.kinds() for o in self.store.iter_kind(k)}
        for kind in OWNED_KINDS:
            for obj in self.store.iter_kind(kind):
                refs = obj["metadata"].get("ownerReferences") or []
                if refs and not any(r.get("uid") in uids for r in refs):
                    meta = obj["metadata"]
                    if meta.get("deletionTimestamp"):
                        continue
                    try:
                        self.c.delete_object(kind, meta.get("namespace", ""), meta["name"])
                    except StoreError:
                        pass


def machine_capacity() -> dict:
    cpus = os.cpu_count() or 1
    try:
        mem_kib = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem_kib = 4 * 1024 * 1024
    return {"cpu": str(cpus), "memory": f"{mem_kib}Ki", "pods": "110", "ephemeral-storage": "100Gi"}


def node_names(count: int) -> list[str]:
    # minikube's habit: the first node is the cluster's name, then -m02, -m03 ...
    return ["kubedeck"] + [f"kubedeck-m{i:02d}" for i in range(2, count + 1)]


class NodeController:
    def __init__(self, cluster):
        self.c = cluster
        self.store = cluster.store
        self._made = False

    def reconcile(self) -> None:
        if self._made:
            return
        cap = machine_capacity()
        for name in node_names(self.c.settings.nodes):
            if self.store.peek("Node", "", name):
                continue
            self.store.create({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {
                    "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": {"x86_64": "amd64", "aarch64": "arm64"}.get(
                        platform.machine(), platform.machine())}},
                "spec": {},
                "status": {"capacity": cap, "allocatable": dict(cap),
                           "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                           "message": "kubedeck node agent is posting ready status"},
                                          {"type": "MemoryPressure", "status": "False",
                                           "reason": "KubeletHasSufficientMemory"}],
                           "nodeInfo": {"containerRuntimeVersion": "docker", "kubeletVersion": "v1.30.0-kubedeck",
                                        "operatingSystem": "linux", "architecture": platform.machine()},
                           "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                         {"type": "Hostname", "address": name}]}})
        self._made = True
