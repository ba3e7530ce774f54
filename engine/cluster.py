"""One running kubedeck cluster: the store, the API, the folder, controllers, node agent
and proxies wired together on one asyncio loop.

Long-lived tasks are started through `spawn()`, which keeps a reference and logs any
failure instead of losing it; shutdown cancels them and closes the API first so
clients see the cluster go away cleanly. Containers keep running after the engine
stops: stopping them is `kubedeck down`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from .files import write_atomic
from .labels import INGRESS_CONTROLLER
from .objects import ObjectService
from .pki import ensure_pki
from .state import clear_connection, cluster_name, ensure_state_dir, merge_user_kubeconfig, write_connection
from .store import Store
from .tasks import Supervisor

if TYPE_CHECKING:
    from .agent.agent import NodeContext
    from .folder import FolderSync

log = logging.getLogger("kubedeck")


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
    #: what moves the Ingress's bytes: "auto" (the host's nginx when there is one), "nginx", "python"
    ingress_proxy: str = "auto"
    #: lift the Pod Security "baseline" policy (privileged, host namespaces, hostPath outside the folder)
    allow_privileged: bool = False
    #: where unset nodePorts are picked from (`--service-node-port-range`, both ends
    #: included); None: Kubernetes' default, 30000-32767
    node_port_range: tuple[int, int] | None = None
    #: the user's kubeconfig to merge this cluster's context into (None: leave it alone)
    kubeconfig: Path | None = None
    extra: dict = field(default_factory=dict)


class Cluster:
    def __init__(self, settings: Settings):
        self.settings = settings
        ensure_state_dir(settings.state)
        self.name = cluster_name(settings.state)
        self.store = Store(settings.state / "store.sqlite")
        self.objects = ObjectService(self.store, manifest_folder=settings.folder,
                                     allow_privileged=settings.allow_privileged)
        self._folder: FolderSync | None = None
        self.tasks: set[asyncio.Task] = set()
        self.url = ""
        self.api_port: int | None = None
        self.tokens = None  # api/tokens.py's Tokens, once the API starts
        self.pki = None
        self._runner: web.AppRunner | None = None
        self.agent = None
        self.proxy = None
        self.ingress = None
        self.dataplane = None
        self.stopping = asyncio.Event()
        self.supervisor = Supervisor()

    @property
    def folder(self) -> FolderSync | None:
        """The folder sync, made on first use: its import (the YAML loader and the
        validator, ~35 ms) waits until the API listens (start() makes it then)."""
        if self._folder is None and self.settings.folder:
            from .folder import FolderSync

            self._folder = FolderSync(self.store, self.objects, self.settings.folder)
        return self._folder

    # ---- lifecycle ---------------------------------------------------------------
    def spawn(self, coro, name: str) -> asyncio.Task:
        """A long-lived task whose failure is logged and shown in status() (see also
        `supervise`, for tasks that can simply be started again)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(task)

        def done(t: asyncio.Task) -> None:
            self.tasks.discard(t)
            if not t.cancelled() and t.exception():
                log.error("task %s failed", name, exc_info=t.exception())
                self.supervisor.record(name, t.exception())
        task.add_done_callback(done)
        return task

    async def start(self) -> None:
        from .api.server import build_app

        self._ensure_base_objects()
        token = _load_or_make_token(self.settings.state)
        pki = self.pki = ensure_pki(self.settings.state)
        from .api.tokens import Tokens

        from .agent.metrics import MetricsSampler

        self.tokens = Tokens(self.store, token)
        sampler = MetricsSampler(lambda: self.agent)  # metrics.k8s.io's, and the HPA controller's
        app = build_app(self.store, self.objects, token, self.tokens, kubelet=lambda: self.agent, status=self.status,
                        sampler=sampler)
        # at stop, requests in flight get 0.25 s before they are cancelled: a watch never ends
        # by itself, and the default 60 s held every stop with a client attached for the 3 s
        # below (then the rest of the API's cleanup was skipped); a plain request takes ms
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.25)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.settings.api_port,
                           ssl_context=pki.server_context())
        await site.start()
        port = self.api_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"https://127.0.0.1:{port}"
        write_connection(self.settings.state, url=self.url, token=token, cluster=self.name,
                         folder=str(self.settings.folder) if self.settings.folder else None,
                         ca=pki.ca_cert)
        if self.settings.kubeconfig:
            merge_user_kubeconfig(self.settings.state, self.settings.kubeconfig, url=self.url, token=token,
                                  cluster=self.name, ca=pki.ca_cert)
        log.info("kubedeck cluster %r API on %s", self.name, self.url)
        # The API answers from here on. The controllers, the node agent (the Docker SDK) and
        # the proxies are imported on a thread, so the loop serves the first requests meanwhile.
        await asyncio.to_thread(_import_components, self.settings.docker)
        from .controllers.manager import ControllerManager
        from .proxy.dataplane import DataPlane
        from .proxy.nodeport import NodePortProxy

        self.controllers = ControllerManager(self.store, self.objects, state_dir=self.settings.state,
                                             nodes=self.settings.nodes, lb_address=self.settings.address,
                                             node_port_range=self.settings.node_port_range, api_port=port,
                                             usage=sampler.peek if self.settings.docker else None)
        # loops that start afresh on every call: restarted with back-off if they fail
        self.supervisor.spawn(self.controllers.run, "controllers")
        if self.settings.docker:
            from .agent.agent import NodeAgent

            self.agent = NodeAgent(self.node_context())
            self.objects.kubelet = self.agent
            self.spawn(self.agent.run(), "node-agent")
        self.dataplane = DataPlane(self.store)
        self.spawn(self.dataplane.run(), "proxy-worker")
        self.proxy = NodePortProxy(self.store, address=self.settings.address, dataplane=self.dataplane,
                                   events=self.objects.record_event, bound_changed=self._nodeports_changed)
        self.dataplane.on_served = self.proxy.served
        self.dataplane.on_sticky = self.proxy.remember
        self.spawn(self.proxy.run(), "nodeport-proxy")
        self._start_ingress()
        if self.folder:
            self.supervisor.spawn(self.folder.run, "folder")

    def node_context(self) -> NodeContext:
        """What the node agent gets of the cluster (engine/agent/agent.py)."""
        from .agent.agent import NodeContext

        return NodeContext(store=self.store, cluster=self.name, state_dir=self.settings.state,
                           address=self.settings.address, events=self.objects.record_event, spawn=self.spawn,
                           nodeports=lambda: self.proxy.bound_tcp() if self.proxy else [],
                           nodeport_clients=lambda sp: self.proxy.clients(sp) if self.proxy else {},
                           api_port=self.api_port, pod_token=self.tokens.for_pod if self.tokens else None,
                           ca_pem=self.pki.ca_cert.read_bytes() if self.pki else None)

    def _nodeports_changed(self) -> None:
        """The bound TCP NodePorts changed: the agent's kernel NodePort rules follow."""
        if self.agent is not None:
            self.agent.nudge_services()

    def _start_ingress(self) -> None:
        try:
            from .proxy.ingress import IngressProxy
        except ImportError:  # the Ingress controller is optional while it is being built
            return
        from .proxy.ingress_nginx import NginxDataPath, find_nginx

        s = self.settings
        binary, why = find_nginx(s.ingress_proxy)
        if s.ingress_proxy == "nginx" and binary is None:
            log.error("--ingress-proxy nginx: %s", why)
        nginx = NginxDataPath(binary, s.state / "ingress-nginx", self.dataplane) if binary else None
        self.ingress = IngressProxy(self.store, address=s.address, ports=(s.ingress_http_port, s.ingress_https_port),
                                    dataplane=self.dataplane, events=self.objects.record_event, nginx=nginx)
        self.ingress.data_path = why or self.ingress.data_path
        if nginx:
            self.spawn(nginx.run(), "ingress-nginx")
        self.spawn(self.ingress.run(), "ingress-proxy")

    async def stop(self) -> None:
        """Staged shutdown: stop serving, cancel tasks, wait a bounded time for each."""
        clear_connection(self.settings.state)
        if self._runner:
            try:
                await asyncio.wait_for(self._runner.cleanup(), 3)
            except asyncio.TimeoutError:
                log.warning("API shutdown timed out")
        tasks = [*self.tasks, *self.supervisor.tasks]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=3)
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
                               "spec": {"controller": INGRESS_CONTROLLER}})

    def status(self) -> dict:
        errors = self._folder.errors() if self._folder else []
        return {"cluster": self.name, "folder": str(self.settings.folder or ""),
                "manifestErrors": [e.to_dict() for e in errors],
                "docker": self.agent.docker_status if self.agent else "not started",
                "nodePorts": self.proxy.describe() if self.proxy else {},
                "nodePortForwarding": self.agent.nodeports.describe() if self.agent else "user space",
                "ingress": self.ingress.describe() if self.ingress else {},
                "proxyWorker": self.dataplane.describe() if self.dataplane else {},
                "address": self.settings.address,
                "store": self.store.unwritable or "ok",
                "taskFailures": self.supervisor.failures()}


def _import_components(docker: bool) -> None:
    """What start() needs after the API is up, imported off the loop (a thread)."""
    import importlib

    from .aiohttp_import import load_held

    load_held()
    for name in ("folder", "controllers.manager", "proxy.dataplane", "proxy.nodeport", "proxy.ingress",
                 *(("agent.agent",) if docker else ())):
        importlib.import_module(f"{__package__}.{name}")


def _load_or_make_token(state: Path) -> str:
    """The API's bearer token; an empty file (a crash or a read-only state dir while it
    was written, before writes were flushed) counts as none, never as the token ""."""
    path = state / "token"
    try:
        tok = path.read_text().strip()
    except OSError:
        tok = ""
    if not tok:
        tok = secrets.token_urlsafe(32)
        write_atomic(path, tok, 0o600)
    return tok
