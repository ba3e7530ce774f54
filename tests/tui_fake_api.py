"""A tiny in-process fake of the engine API, for TUI unit tests only.

Implements the subset of docs/ARCHITECTURE.md the TUI uses: lists (core and group
paths), watch streams fed by `inject()`, GET/DELETE/PATCH (merge) of objects, pod logs
and `/kubedeck/v1/status`, all behind a bearer token; `garbage` makes lists answer
with a body that is not JSON. Every request is recorded in
`requests` so tests can assert what the TUI sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aiohttp import web

TOKEN = "test-token"

GROUPS = {
    "deployments": "apps/v1", "replicasets": "apps/v1", "statefulsets": "apps/v1",
    "daemonsets": "apps/v1", "jobs": "batch/v1", "cronjobs": "batch/v1",
    "ingresses": "networking.k8s.io/v1", "ingressclasses": "networking.k8s.io/v1",
}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    body: object = None


def merge_patch(target: object, patch: object) -> object:
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@dataclass
class FakeApi:
    token: str = TOKEN
    objects: dict[str, dict[str, dict]] = field(default_factory=dict)  # plural -> uid -> obj
    rv: int = 1
    requests: list[Recorded] = field(default_factory=list)
    logs: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    status: dict = field(default_factory=lambda: {"cluster": "test", "folder": "/tmp/m", "manifestErrors": [], "docker": "ok", "nodePorts": {}})
    history: list[tuple[str, dict]] = field(default_factory=list)  # (plural, event)
    garbage: dict[str, int] = field(default_factory=dict)  # plural -> lists to answer with a non-JSON body
    activity: list[dict] | None = None  # /kubedeck/v1/activity entries; None: 404 (not a kubedeck engine)
    _watchers: dict[str, list[asyncio.Queue]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    url: str = ""

    # -- test-side API ---------------------------------------------------------------------

    def add(self, plural: str, obj: dict) -> dict:
        """Store an object without an event (use before the app starts)."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", f"uid-{plural}-{meta.get('namespace', '')}-{meta['name']}")
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        self.objects.setdefault(plural, {})[meta["uid"]] = obj
        return obj

    def inject(self, plural: str, event_type: str, obj: dict) -> dict:
        """Change the store and push the event to every open watch on `plural`."""
        if event_type == "DELETED":
            obj = copy.deepcopy(obj)
            self.objects.get(plural, {}).pop(obj["metadata"]["uid"], None)
            self.rv += 1
            obj["metadata"]["resourceVersion"] = str(self.rv)
        else:
            obj = self.add(plural, obj)
        event = {"type": event_type, "object": obj}
        self.history.append((plural, event))
        for queue in self._watchers.get(plural, []):
            queue.put_nowait(event)
        return obj

    def find(self, plural: str, name: str) -> dict:
        return next(o for o in self.objects.get(plural, {}).values() if o["metadata"]["name"] == name)

    def calls(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method]

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def start_again(self) -> str:
        """Restart on the same port after `stop()` (simulates the engine coming back)."""
        return await self.start(int(self.url.rsplit(":", 1)[1]))

    async def stop(self) -> None:
        for queues in self._watchers.values():
            for queue in queues:
                queue.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- server side -----------------------------------------------------------------------

    @staticmethod
    def _status(code: int, reason: str, message: str) -> web.Response:
        body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code}
        return web.json_response(body, status=code)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = None
        if request.can_read_body:
            text = await request.text()
            body = json.loads(text) if text else None
        self.requests.append(Recorded(request.method, request.path, dict(request.query), body))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._status(401, "Unauthorized", "Unauthorized")
        parts = [p for p in request.path.split("/") if p]
        if parts == ["kubedeck", "v1", "activity"]:
            if self.activity is None:
                return self._status(404, "NotFound", "not found")
            since = int(request.query.get("since", "0"))
            last = self.activity[-1]["seq"] if self.activity else 0
            return web.json_response({"items": [a for a in self.activity if a["seq"] > since], "first": 1, "last": last})
        if parts[:2] == ["kubedeck", "v1"]:
            return web.json_response(self.status)
        if parts[:1] == ["api"]:
            rest = parts[2:]
        elif parts[:1] == ["apis"]:
            rest = parts[3:]
        else:
            return self._status(404, "NotFound", "not found")
        namespace = None
        if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2:
            namespace, rest = rest[1], rest[2:]
        plural, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), (rest[2] if len(rest) > 2 else None)
        if sub == "log":
            return await self._logs(request, namespace, name)
        if name is None:
            if request.query.get("watch") in ("1", "true"):
                return await self._watch(request, plural, int(request.query.get("resourceVersion") or 0))
            if self.garbage.get(plural):  # a broken answer: the client's JSON decoding raises
                self.garbage[plural] -= 1
                return web.Response(text="<html>not a list</html>", content_type="text/html")
            items = [o for o in self.objects.get(plural, {}).values() if namespace in (None, o["metadata"].get("namespace"))]
            return web.json_response({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": str(self.rv)}, "items": items})
        found = [o for o in self.objects.get(plural, {}).values() if o["metadata"]["name"] == name and namespace in (None, o["metadata"].get("namespace"))]
        if not found:
            return self._status(404, "NotFound", f'{plural} "{name}" not found')
        obj = found[0]
        if request.method == "DELETE":
            self.inject(plural, "DELETED", obj)
            return web.json_response(obj)
        if request.method == "PATCH":
            if request.headers.get("Content-Type") != "application/merge-patch+json":
                return self._status(415, "UnsupportedMediaType", "merge patch only")
            return web.json_response(self.inject(plural, "MODIFIED", merge_patch(obj, body)))
        return web.json_response(obj)

    async def _watch(self, request: web.Request, plural: str, since: int) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        queue: asyncio.Queue = asyncio.Queue()
        for kind, event in self.history:  # replay what happened after `since`
            if kind == plural and int(event["object"]["metadata"]["resourceVersion"]) > since:
                queue.put_nowait(event)
        self._watchers.setdefault(plural, []).append(queue)
        try:
            while (event := await queue.get()) is not None:
                await response.write(json.dumps(event).encode() + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._watchers[plural].remove(queue)
        return response

    async def _logs(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        for line in self.logs.get((namespace, name), []):
            await response.write(line.encode() + b"\n")
        await response.write_eof()
        return response


# -- a small deterministic dataset, the app on it and a wait helper shared by the TUI tests --

NOW = datetime(2026, 1, 2, 12, 0, 0, tzinfo=timezone.utc)
CREATED = "2026-01-02T11:00:00Z"


def pod(name: str, *, ns: str = "default", phase: str = "Running", ready: bool = True,
        waiting: str | None = None, node: str = "node-1", labels: dict | None = None) -> dict:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {"startedAt": CREATED}}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{ns}-{name}",
                     "creationTimestamp": CREATED, "labels": labels or {"app": name.split("-")[0]}},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": "busybox:1.36",
                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
        "status": {"phase": phase, "podIP": "10.0.0.5",
                   "containerStatuses": [{"name": "main", "ready": ready, "restartCount": 0, "state": state}]},
    }


def dataset(api: FakeApi) -> None:
    api.add("nodes", {"metadata": {"name": "node-1", "uid": "uid-node-1", "creationTimestamp": CREATED},
                      "status": {"conditions": [{"type": "Ready", "status": "True"}],
                                 "allocatable": {"cpu": "4", "memory": "8Gi"}}})
    api.add("pods", pod("web-1", labels={"app": "web"}))
    api.add("pods", pod("web-2", labels={"app": "web"}))
    api.add("pods", pod("db-0", labels={"app": "db"}, phase="Pending", ready=False, waiting="ContainerCreating"))
    api.add("pods", pod("job-x", ns="batch", phase="Succeeded", ready=False))
    api.add("services", {"metadata": {"name": "web", "namespace": "default", "uid": "uid-svc-web", "creationTimestamp": CREATED},
                         "spec": {"type": "NodePort", "clusterIP": "10.96.0.10",
                                  "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}})
    api.add("deployments", {"metadata": {"name": "web", "namespace": "default", "uid": "uid-deploy-web", "creationTimestamp": CREATED},
                            "spec": {"replicas": 2}, "status": {"readyReplicas": 2}})
    api.add("secrets", {"metadata": {"name": "creds", "namespace": "default", "uid": "uid-secret-creds", "creationTimestamp": CREATED},
                        "type": "Opaque", "data": {"password": "aHVudGVyMg=="}})  # hunter2
    api.add("namespaces", {"metadata": {"name": "default", "uid": "uid-ns-default", "creationTimestamp": CREATED}})
    api.add("namespaces", {"metadata": {"name": "batch", "uid": "uid-ns-batch", "creationTimestamp": CREATED}})
    api.logs[("default", "web-1")] = ["hello from web-1", "second line"]


@contextlib.asynccontextmanager
async def serving():
    """A FakeApi holding `dataset`, listening for the block (the TUI tests' fixture)."""
    api = FakeApi()
    dataset(api)
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


def app_on(api: FakeApi, tmp_path, **kwargs):
    """The TUI on `api`, at the dataset's NOW, with its config under tmp_path and short
    status and retry intervals, so the tests' waits are short."""
    from kubedeck.tui.app import KubedeckApp

    kwargs.setdefault("config_dir", tmp_path / "config")
    return KubedeckApp(api_url=api.url, token=TOKEN, now=lambda: NOW, status_interval=0.2, retry_delay=0.05,
                       **kwargs)


async def wait_for(pilot, predicate, timeout: float = 20.0, message: str = "condition") -> None:
    """Let the app run until `predicate()` is true (conftest's one polling rule)."""
    from conftest import wait_for_async

    await wait_for_async(predicate, pause=pilot.pause, timeout=timeout, what=message)


