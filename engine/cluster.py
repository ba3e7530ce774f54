"""One running kubedeck cluster: the store, the API, the folder, controllers, node agent
and proxies wired together on one asyncio loop.

Long-lived tasks are started through `spawn()`, which keeps a reference and logs any
failure instead of losing it; shutdown cancels them and closes the API first so
clients see the cluster go away cleanly. Containers keep running after the engine
stops: stopping them is `kubedeck down`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from .api.merge import three_way
from .folder import SOURCE, FolderSync
from .manifests.kinds import KINDS
from .pki import ensure_pki
from .state import clear_connection, cluster_name, merge_user_kubeconfig, write_connection
from .store import Store, StoreError, key_of, now_iso

log = logging.getLogger("kubedeck")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass
class Settings:
    """How `kubedeck serve` was asked to run."""

    state: Path
    folder: Path | None = None
    #: address the NodePort listeners bind; 127.0.0.1 unless the user opts in
    address: str = "127.0.0.1"
    #: API port; 0 picks a free one
    api_port: int = 0
    #: virtual nodes to create
    nodes: int = 1
    #: whether to run pods on Docker (False only for pure control-plane tests)
    docker: bool = True
    #: Ingress controller ports on `address`; unprivileged defaults so no root is needed
    ingress_http_port: int = 8080
    ingress_https_port: int = 8443
    #: the user's kubeconfig to merge this cluster's context into (None: leave it alone)
    kubeconfig: Path | None = None
    extra: dict = field(default_factory=dict)


class Cluster:
    def __init__(self, settings: Settings):
        self.settings = settings
        settings.state.mkdir(parents=True, exist_ok=True)
        self.name = cluster_name(settings.state)
        self.store = Store(settings.state / "store.sqlite")
        self.folder = FolderSync(self, settings.folder) if settings.folder else None
        self.tasks: set[asyncio.Task] = set()
        self.url = ""
        self.docker_status = "not started"
        self._runner: web.AppRunner | None = None
        self.agent = None
        self.proxy = None
        self.ingress = None
        self.dataplane = None
        self.stopping = asyncio.Event()
        self._events: dict[tuple, tuple[str, str]] = {}

    # ---- lifecycle ---------------------------------------------------------------
    def spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(task)

        def done(t: asyncio.Task) -> None:
            self.tasks.discard(t)
            if not t.cancelled() and t.exception():
                log.error("task %s failed", name, exc_info=t.exception())
        task.add_done_callback(done)
        return task

    async def start(self) -> None:
        from .api.server import build_app
        from .controllers.manager import ControllerManager
        from .proxy.dataplane import DataPlane
        from .proxy.nodeport import NodePortProxy

        self._ensure_base_objects()
        token = _load_or_make_token(self.settings.state)
        pki = ensure_pki(self.settings.state)
        self._runner = web.AppRunner(build_app(self, token), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.settings.api_port,
                           ssl_context=pki.server_context())
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"https://127.0.0.1:{port}"
        self.controllers = ControllerManager(self)
        self.spawn(self.controllers.run(), "controllers")
        if self.settings.docker:
            from .agent.agent import NodeAgent

            self.agent = NodeAgent(self)
            self.spawn(self.agent.run(), "node-agent")
        self.dataplane = DataPlane(self)
        self.spawn(self.dataplane.run(), "proxy-worker")
        self.proxy = NodePortProxy(self)
        self.spawn(self.proxy.run(), "nodeport-proxy")
        self._start_ingress()
        if self.folder:
            self.spawn(self.folder.run(), "folder")
        write_connection(self.settings.state, url=self.url, token=token, cluster=self.name,
                         folder=str(self.settings.folder) if self.settings.folder else None,
                         ca=pki.ca_cert)
        if self.settings.kubeconfig:
            merge_user_kubeconfig(self.settings.state, self.settings.kubeconfig, url=self.url, token=token,
                                  cluster=self.name, ca=pki.ca_cert)
        log.info("kubedeck cluster %r API on %s", self.name, self.url)

    def _start_ingress(self) -> None:
        try:
            from .proxy.ingress import IngressProxy
        except ImportError:  # the Ingress controller is optional while it is being built
            return
        self.ingress = IngressProxy(self)
        self.spawn(self.ingress.run(), "ingress-proxy")

    async def stop(self) -> None:
        """Staged shutdown: stop serving, cancel tasks, wait a bounded time for each."""
        clear_connection(self.settings.state)
        if self._runner:
            try:
                await asyncio.wait_for(self._runner.cleanup(), 3)
            except asyncio.TimeoutError:
                log.warning("API shutdown timed out")
        for t in list(self.tasks):
            t.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=3)
        if self.agent:
            self.agent.close()
        if self.proxy:
            await self.proxy.close()
        if self.ingress:
            await self.ingress.close()
        if self.dataplane:
            await self.dataplane.close()
        self.store.close()

    def _ensure_base_objects(self) -> None:
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            if not self.store.peek("Namespace", "", ns):
                self.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        if not self.store.peek("IngressClass", "", "kubedeck"):
            self.store.create({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                               "metadata": {"name": "kubedeck", "annotations": {
                                   "ingressclass.kubernetes.io/is-default-class": "true"}},
                               "spec": {"controller": "kubedeck.io/ingress"}})

    # ---- object helpers used by the folder, API and controllers ------------------
    def crd_kinds(self) -> set[tuple[str, str]]:
        out = set()
        for crd in self.store.iter_kind("CustomResourceDefinition"):
            spec = crd.get("spec") or {}
            out.add((spec.get("group", ""), (spec.get("names") or {}).get("kind", "")))
        return out

    def admit(self, obj: dict) -> None:
        """Validate an object arriving through the API, as the API server would (422)."""
        from .manifests.loader import Document
        from .manifests.validate import validate_document

        doc = Document(obj=obj, file="<api>", index=0, line=0)
        errs = [e for e in validate_document(doc, known_kinds=self.crd_kinds()) if e.severity == "error"]
        if errs:
            kind, _, name = key_of(obj)
            raise StoreError.invalid(kind, name, [(e.field or "", e.message) for e in errs])

    def apply_object(self, obj: dict, *, source: str | None = None) -> str | None:
        """kubectl-apply one object. Returns None, "waiting" (namespace missing), or an error."""
        obj = json.loads(json.dumps(obj))
        meta = obj.setdefault("metadata", {})
        ann = dict(meta.get("annotations") or {})
        ann.pop(LAST_APPLIED, None)
        meta["annotations"] = ann
        applied = json.dumps(obj, sort_keys=True, separators=(",", ":"))
        if source:
            ann[SOURCE] = source
        ann[LAST_APPLIED] = applied
        kind, ns, name = key_of(obj)
        if ns and not self.store.peek("Namespace", "", ns):
            return "waiting"
        live = self.store.get(kind, ns, name)
        try:
            if live is None:
                self.store.create(obj)
            else:
                last = json.loads((live["metadata"].get("annotations") or {}).get(LAST_APPLIED, "{}"))
                merged = three_way(live, last, obj)
                for f in ("uid", "creationTimestamp", "resourceVersion", "generation", "namespace"):
                    if f in live["metadata"]:
                        merged["metadata"][f] = live["metadata"][f]
                self.store.update(merged, check_rv=False)
        except StoreError as e:
            return e.message
        return None

    def delete_object(self, kind: str, ns: str, name: str, *, grace: int | None = None,
                      propagation: str | None = None) -> dict:
        if propagation == "Orphan":
            obj = self.store.peek(kind, ns, name)
            uid = obj["metadata"]["uid"] if obj else None
            for k in list(KINDS):
                for dep in self.store.list(k, where=lambda o: any(
                        r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])):
                    dep["metadata"]["ownerReferences"] = [r for r in dep["metadata"]["ownerReferences"]
                                                          if r.get("uid") != uid]
                    self.store.update(dep, check_rv=False)
        if propagation == "Foreground" and kind != "Pod":
            # the owner stays (deletionTimestamp + finalizer) until the garbage
            # collector has deleted its dependents (controllers/gc.py)
            obj = self.store.get(kind, ns, name)
            if obj is None:
                return self.store.delete(kind, ns, name)  # raises NotFound
            fins = obj["metadata"].get("finalizers") or []
            if "foregroundDeletion" not in fins and not obj["metadata"].get("deletionTimestamp"):
                obj["metadata"]["finalizers"] = [*fins, "foregroundDeletion"]
                self.store.update(obj, check_rv=False)
        if kind == "Pod":
            pod = self.store.peek("Pod", ns, name)
            if pod is not None and pod["spec"].get("nodeName") and self.agent is not None:
                if grace == 0:
                    self.agent.force_delete(pod)
                out = self.store.delete("Pod", ns, name, graceful=True)
                if grace is not None:
                    self.agent.set_grace(out, grace)
                return out
        return self.store.delete(kind, ns, name)

    def record_event(self, obj: dict, reason: str, message: str, *, type: str = "Normal",
                     component: str = "kubedeck") -> None:
        """Record an Event. A repeat of the same (object, reason, message) bumps the
        existing Event's count, as Kubernetes aggregates them; old Events are pruned."""
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        now = now_iso()
        key = (meta.get("uid"), reason, message)
        existing = self._events.get(key)
        if existing is not None:
            ev = self.store.get("Event", existing[0], existing[1])
            if ev is not None:
                ev["count"] = int(ev.get("count", 1)) + 1
                ev["lastTimestamp"] = now
                self.store.update(ev, check_rv=False)
                return
        name = f"{meta.get('name', 'x')}.{uuid.uuid4().hex[:16]}"
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": name, "namespace": ns},
              "involvedObject": {"kind": obj.get("kind"), "name": meta.get("name"), "namespace": ns,
                                 "uid": meta.get("uid"), "apiVersion": obj.get("apiVersion")},
              "reason": reason, "message": message, "type": type, "count": 1,
              "firstTimestamp": now, "lastTimestamp": now, "eventTime": None,
              "source": {"component": component}, "reportingComponent": component}
        try:
            self.store.create(ev)
        except StoreError:
            return
        self._events[key] = (ns, name)
        if len(self._events) % 200 == 0:
            self._prune_events()

    def _prune_events(self, *, ttl: float = 3600, keep: int = 5000) -> None:
        """Events live an hour, as Kubernetes' default --event-ttl; at most `keep` stay."""
        import time as _time

        from .controllers.podutil import parse_time

        events = sorted(self.store.iter_kind("Event"), key=lambda e: e.get("lastTimestamp") or "")
        cutoff = _time.time() - ttl
        drop = [e for e in events if parse_time(e.get("lastTimestamp")) < cutoff]
        drop += events[len(drop):max(len(drop), len(events) - keep)]
        for e in drop:
            try:
                self.store.delete("Event", e["metadata"]["namespace"], e["metadata"]["name"])
            except StoreError:
                pass
        live = {(e["metadata"]["namespace"], e["metadata"]["name"]) for e in self.store.iter_kind("Event")}
        self._events = {k: v for k, v in self._events.items() if v in live}

    def manifest_errors_changed(self) -> None:
        pass  # status() reads errors live; a hook for future notification

    def status(self) -> dict:
        errors = self.folder.errors() if self.folder else []
        return {"cluster": self.name, "folder": str(self.settings.folder or ""),
                "manifestErrors": [e.to_dict() for e in errors],
                "docker": self.docker_status,
                "nodePorts": self.proxy.describe() if self.proxy else {},
                "nodePortForwarding": self.agent.nodeports.describe() if self.agent else "user space",
                "ingress": self.ingress.describe() if self.ingress else {},
                "proxyWorker": self.dataplane.describe() if self.dataplane else {},
                "address": self.settings.address}


def _load_or_make_token(state: Path) -> str:
    path = state / "token"
    try:
        return path.read_text().strip()
    except OSError:
        tok = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(tok)
        return tok
