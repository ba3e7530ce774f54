"""The x-ray's model: which box of the Kubernetes diagram each action belongs to, the
boxes' counters, and what each component is (the `?` text).

Pure (no Textual): the TUI's `tui/xray.py` draws it. The diagram is the one every
introduction to Kubernetes draws: a control plane (API server, etcd, scheduler,
controller manager), one box per node (kubelet, container runtime, kube-proxy), and the
Ingress controller in front; kubedeck adds the folder sync, which is `kubectl apply` of
your folder. Actions are journey.py's dicts (from the activity stream or from Events).
A store write counts twice: for etcd (the write) and for the API server (the watch
events it fanned out: the write's `detail` is how many watchers got it).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

CONTROL_PLANE = ("folder", "apiserver", "etcd", "scheduler", "controllers", "ingress")
NODE_PARTS = ("kubelet", "runtime", "proxy")

# short enough for a border title at 100 columns (six boxes of 16)
TITLES = {"folder": "folder", "apiserver": "API server", "etcd": "etcd", "scheduler": "scheduler",
          "controllers": "ctrl mgr", "ingress": "Ingress", "kubelet": "kubelet",
          "runtime": "runtime", "proxy": "kube-proxy"}

NAMES = {"folder": "folder sync (kubectl apply)", "apiserver": "API server", "etcd": "etcd (the store)",
         "scheduler": "scheduler", "controllers": "controller manager", "ingress": "Ingress controller",
         "kubelet": "kubelet", "runtime": "container runtime", "proxy": "kube-proxy"}

EXPLAIN = {
    "folder": "In Kubernetes you run `kubectl apply -f` to send your manifests to the API server. "
              "kubedeck watches your folder and applies each saved file itself, with kubectl's three-way merge.",
    "apiserver": "The API server is the cluster's only entry point: it authenticates, validates and stores "
                 "objects, and streams changes to every watcher. kubedeck serves the same REST API (aiohttp, "
                 "HTTPS) in its own process, so kubectl and k9s work unchanged.",
    "etcd": "etcd is the key-value database that holds every object and its resourceVersion; nothing else "
            "keeps state. kubedeck keeps objects in memory, written through to SQLite in the state dir.",
    "scheduler": "The scheduler picks a node for each new pod (requests, nodeSelector, taints) and binds it; "
                 "it starts nothing itself. kubedeck runs the same decision as the default-scheduler in-process.",
    "controllers": "The controller manager runs control loops (Deployment, ReplicaSet, StatefulSet, Job, "
                   "Endpoints, garbage collection) that move the cluster towards what objects ask for. "
                   "kubedeck runs the same level-driven controllers, one work queue each, in its process.",
    "ingress": "An Ingress controller is a reverse proxy that routes HTTP(S) by host and path to Services, "
               "as Ingress objects say. kubedeck drives the host's nginx, as ingress-nginx does (its own proxy "
               "where there is no nginx), on localhost (8080/8443 by default).",
    "kubelet": "The kubelet is the agent on each node: it starts the pods bound to its node, runs their "
               "probes and reports their status. kubedeck's node agent does it, one worker per pod.",
    "runtime": "The container runtime (containerd, CRI-O) pulls images and runs containers for the kubelet. "
               "kubedeck uses Docker for it, through the Docker SDK.",
    "proxy": "kube-proxy programs each node so a Service's virtual IP and NodePorts reach ready pods. "
             "kubedeck loads the same kind of nftables rules into a small proxy container per Service.",
}


def node_box(node: str, part: str) -> str:
    return f"{part}@{node}"


def boxes_of(action: dict, pod_nodes: dict[tuple[str, str], str], nodes: list[str]) -> list[str]:
    """The boxes an action counts in. `pod_nodes`: (namespace, pod) -> node name."""
    comp = action["component"]
    if comp == "etcd":
        return ["etcd", "apiserver"]
    if comp == "folder-sync":
        return ["folder"]
    if comp == "default-scheduler":
        return ["scheduler"]
    if comp == "ingress-controller":
        return ["ingress"]
    if comp in ("kubelet", "container-runtime"):
        node = action.get("instance") or (pod_nodes.get((action["namespace"], action["name"]))
                                          if action["kind"] == "Pod" else action["name"] if action["kind"] == "Node"
                                          else None)
        if not node:
            return []
        return [node_box(node, "kubelet" if comp == "kubelet" else "runtime")]
    if comp == "kube-proxy":  # every node's kube-proxy programs every Service
        return [node_box(n, "proxy") for n in nodes]
    if comp.endswith("-controller") or comp in ("garbage-collector", "kubedeck"):
        return ["controllers"]
    return []


@dataclass
class Box:
    recent: deque = field(default_factory=lambda: deque(maxlen=200))  # actions, newest last
    total: int = 0
    weight: int = 0  # the API server's watch events: a write counts for its watchers

    def per_minute(self, now: float) -> int:
        return sum(1 for a in self.recent if a["at"] >= now - 60)


class Model:
    """Counters per box, fed with actions in time order."""

    def __init__(self) -> None:
        self.boxes: dict[str, Box] = {}

    def add(self, actions: list[dict], pod_nodes: dict[tuple[str, str], str], nodes: list[str]) -> None:
        for a in actions:
            for b in boxes_of(a, pod_nodes, nodes):
                box = self.boxes.setdefault(b, Box())
                box.recent.append(a)
                box.total += 1
                if b == "apiserver" and isinstance(a.get("detail"), int):
                    box.weight += a["detail"]

    def box(self, name: str) -> Box:
        return self.boxes.get(name) or Box()


def describe_action(a: dict) -> str:
    """One line for an action in a box's list."""
    what = f"{a['kind']} {a['namespace'] + '/' if a['namespace'] else ''}{a['name']}".strip()
    if a["component"] == "etcd":
        return f"{a['verb'].lower()} {what} (to {a['detail']} watchers)"
    detail = f": {a['detail']}" if a.get("detail") not in ("", None) else ""
    took = a["at"] - a.get("start", a["at"])
    return f"{a['verb']} {what}{detail}" + (f" ({took * 1000:.0f} ms)" if took > 0.0005 else "")
