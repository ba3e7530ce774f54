"""`metrics.k8s.io/v1beta1` as metrics-server serves it: PodMetrics and NodeMetrics.

What kubectl (`top pods`, `top nodes`) and the TUI read. Usage comes from the node
agent's on-demand sampler (`agent/metrics.py`), joined here with the store's pods and
nodes for names, labels and selectors. Objects have metrics-server's shape: metadata
(name, namespace, labels of the pod or node, creationTimestamp = now, as
metrics-server sets it), `timestamp` (the newest reading), `window` (the span of the
rate) and usage as canonical quantities (`"1234567n"`, `"12345Ki"`).

A node is a label on the shared Docker host, so its usage is the sum of its pods'
containers and sandboxes, not the host's (several nodes would each count the whole
machine, and everything else running on it). A pod (or node) without a rate yet is
absent from lists and a 404 on get, as with metrics-server. Only get and list: like
metrics-server, no watch.

Wiring (server.py, discovery.py): `MetricsApi(store, agent).install(app)`, and
`api_group()` / `aggregated_group()` into `/apis`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from ..agent.metrics import MetricsSampler, PodUsage, Usage
from ..quantity import cpu_quantity, memory_quantity
from ..selectors import parse_selector_string
from ..store import Store
from .fields import parse_field_selector
from .status import fail

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
PREFIX = f"/apis/{GROUP_VERSION}"
_RESOURCES = (("nodes", "NodeMetrics", False), ("pods", "PodMetrics", True))
_VERBS = ["get", "list"]


def resource_list() -> dict:
    """`GET /apis/metrics.k8s.io/v1beta1` (served by `install` too)."""
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION,
            "resources": [{"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind,
                           "verbs": _VERBS} for plural, kind, namespaced in _RESOURCES]}


def api_group() -> dict:
    """The group's entry in `/apis` (APIGroupList `groups`)."""
    version = {"groupVersion": GROUP_VERSION, "version": VERSION}
    return {"name": GROUP, "versions": [version], "preferredVersion": version}


def aggregated_group() -> dict:
    """The group's item in `/apis` aggregated discovery (same shape in v2 and v2beta1)."""
    resources = [{"resource": plural, "responseKind": {"group": GROUP, "version": VERSION, "kind": kind},
                  "scope": "Namespaced" if namespaced else "Cluster", "singularResource": "",
                  "verbs": _VERBS} for plural, kind, namespaced in _RESOURCES]
    return {"metadata": {"name": GROUP, "creationTimestamp": None},
            "versions": [{"version": VERSION, "freshness": "Current", "resources": resources}]}


def duration(seconds: float) -> str:
    """A window as Go prints a Duration, to the millisecond: "10.013s", "1s", "500ms"."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


def _usage(u: Usage) -> dict:
    return {"cpu": cpu_quantity(u.cpu_nanocores), "memory": memory_quantity(u.memory_bytes)}


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class MetricsApi:
    """Handlers over the store and a sampler of the agent (`agent()` may return None)."""

    def __init__(self, store: Store, agent: Callable[[], object | None], *,
                 sampler: MetricsSampler | None = None) -> None:
        self.store = store
        self.sampler = sampler or MetricsSampler(agent)

    def install(self, app: web.Application) -> None:
        """Add the routes (aiohttp resolves the most specific path first, so they win
        over a catch-all `/apis/{rest}` whatever the order) and stop sampling on cleanup."""
        router = app.router
        router.add_get(PREFIX, self.discover)
        router.add_get(f"{PREFIX}/pods", self.pods)
        router.add_get(f"{PREFIX}/namespaces/{{namespace}}/pods", self.pods)
        router.add_get(f"{PREFIX}/namespaces/{{namespace}}/pods/{{name}}", self.pod)
        router.add_get(f"{PREFIX}/nodes", self.nodes)
        router.add_get(f"{PREFIX}/nodes/{{name}}", self.node)
        app.on_cleanup.append(self._cleanup)

    async def _cleanup(self, app: web.Application) -> None:
        await self.sampler.close()

    async def discover(self, request: web.Request) -> web.Response:
        return web.json_response(resource_list())

    # ---- pods ----------------------------------------------------------------------
    async def pods(self, request: web.Request) -> web.Response:
        query = _list_query(request, "Pod", "podmetrics")
        if isinstance(query, web.Response):
            return query
        sel, where = query
        usage = await self.sampler.latest()
        now = time.time()
        items = [self._pod_metrics(pod, usage[pod["metadata"]["uid"]], now)
                 for pod in self.store.list("Pod", request.match_info.get("namespace"), sel, where=where,
                                            copy_=False)
                 if pod["metadata"].get("uid") in usage]
        return web.json_response({"kind": "PodMetricsList", "apiVersion": GROUP_VERSION,
                                  "metadata": {}, "items": items})

    async def pod(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["namespace"], request.match_info["name"]
        usage = await self.sampler.latest()
        pod = self.store.peek("Pod", ns, name)
        found = usage.get(pod["metadata"].get("uid")) if pod else None
        if found is None:
            return _not_found("podmetrics", name)
        return web.json_response(self._pod_metrics(pod, found, time.time()))

    def _pod_metrics(self, pod: dict, usage: PodUsage, now: float) -> dict:
        meta = pod["metadata"]
        order = [c["name"] for c in pod["spec"].get("containers") or []]
        names = sorted(usage.containers, key=lambda n: order.index(n) if n in order else len(order))
        return {"kind": "PodMetrics", "apiVersion": GROUP_VERSION,
                "metadata": {"name": meta["name"], "namespace": meta.get("namespace", "default"),
                             "creationTimestamp": _iso(now), "labels": dict(meta.get("labels") or {})},
                **self._when(),
                "containers": [{"name": n, "usage": _usage(usage.containers[n])} for n in names]}

    def _when(self) -> dict:
        s = self.sampler
        return {"timestamp": _iso(s.timestamp or time.time()), "window": duration(s.window)}

    # ---- nodes ---------------------------------------------------------------------
    async def nodes(self, request: web.Request) -> web.Response:
        query = _list_query(request, "Node", "nodemetrics")
        if isinstance(query, web.Response):
            return query
        sel, where = query
        usage = await self.sampler.latest()
        items = []
        if self.sampler.timestamp is not None:
            per_node = self._per_node(usage)
            now = time.time()
            items = [self._node_metrics(n, per_node, now)
                     for n in self.store.list("Node", None, sel, where=where, copy_=False)]
        return web.json_response({"kind": "NodeMetricsList", "apiVersion": GROUP_VERSION,
                                  "metadata": {}, "items": items})

    async def node(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        usage = await self.sampler.latest()
        node = self.store.peek("Node", "", name)
        if node is None or self.sampler.timestamp is None:
            return _not_found("nodemetrics", name)
        return web.json_response(self._node_metrics(node, self._per_node(usage), time.time()))

    def _per_node(self, usage: dict[str, PodUsage]) -> dict[str, Usage]:
        """Sum of each node's pods (containers and sandboxes)."""
        out: dict[str, Usage] = {}
        for pod in self.store.iter_kind("Pod"):
            found = usage.get(pod["metadata"].get("uid"))
            node = (pod.get("spec") or {}).get("nodeName")
            if found is None or not node:
                continue
            total, before = found.total(), out.get(node, Usage(0, 0))
            out[node] = Usage(before.cpu_nanocores + total.cpu_nanocores, before.memory_bytes + total.memory_bytes)
        return out

    def _node_metrics(self, node: dict, per_node: dict[str, Usage], now: float) -> dict:
        meta = node["metadata"]
        return {"kind": "NodeMetrics", "apiVersion": GROUP_VERSION,
                "metadata": {"name": meta["name"], "creationTimestamp": _iso(now),
                             "labels": dict(meta.get("labels") or {})},
                **self._when(), "usage": _usage(per_node.get(meta["name"], Usage(0, 0)))}


def _list_query(request: web.Request, kind: str, resource: str):
    """A list request's (label selector, field selector), or the answer to one that
    cannot be listed: a watch (405) or a selector that does not parse (400)."""
    if request.query.get("watch") in ("1", "true"):
        return fail(405, "MethodNotAllowed", f"watch is not supported on {resource}")
    try:
        text = request.query.get("labelSelector")
        sel = parse_selector_string(text) if text else None
        return sel, parse_field_selector(request.query.get("fieldSelector", ""), kind)
    except ValueError as e:
        return fail(400, "BadRequest", str(e))


def _not_found(resource: str, name: str) -> web.Response:
    return fail(404, "NotFound", f'{resource}.{GROUP} "{name}" not found',
                {"name": name, "group": GROUP, "kind": resource})

