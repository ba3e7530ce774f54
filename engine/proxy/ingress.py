"""The Ingress controller: kubedeck's ingress-nginx, an HTTP(S) reverse proxy on localhost.

Design: this module is the control side; the bytes move in ingress_http.py (asyncio
Protocols over httptools) inside the proxy worker process (dataplane.py, worker.py),
routing decisions are pure functions in routing.py, and certificates come from tls.py.
The engine and the worker each hold an IngressProxy over the same objects: the engine's
(control=True) binds the listeners and reports problems and status, the worker's
(control=False) routes requests.

- `run()` binds the HTTP and HTTPS listeners on `settings.address` (port 0 = a free
  port; `describe()` reports the bound ones) and hands them to the worker, evaluates
  every object once, then follows the store's watch from the resourceVersion it
  evaluated at, so nothing is missed.
- Ingress / IngressClass events rebuild the route table and the TLS host map; Secret
  events reload TLS only when a referenced Secret changed; Service / Endpoints events
  just drop the cached endpoint lists, which are rebuilt on the next request. New hosts,
  paths and certificates therefore apply to the next request or handshake.
- Backend choice: Service port by number or name -> the Endpoints' ready addresses
  (`ready_backends`, shared with NodePort) -> round-robin per backend, skipping endpoints
  that already refused this request.
- Problems (rule conflicts, unusable TLS Secrets, a port that cannot be bound) are
  Warning Events from `ingress-controller`, recorded once per distinct problem, and are
  listed under `errors` in `describe()`.
- A sweeper closes idle client connections (75 s) and idle pooled backends (30 s), and
  answers 408 to a client whose head is not complete `header_timeout` after it began.
"""

from __future__ import annotations

import asyncio
import logging
import time

from .. import activity
from .ingress_request import HEADER_TIMEOUT
from .ingress_upstream import Upstream
from .nodeport import ready_backends
from .routing import CONTROLLER, BoundedMemo, RouteTable, build_table, service_port, tls_hosts

log = logging.getLogger("kubedeck.ingress")
CLIENT_IDLE, POOL_IDLE, POOL_MAX = 75.0, 30.0, 256
COMPONENT = "ingress-controller"


class IngressProxy:
    header_timeout = HEADER_TIMEOUT  # tests shorten it

    def __init__(self, store, *, control: bool = True, address: str = "", ports: tuple[int, int] = (0, 0),
                 dataplane=None, events=None, nginx=None):
        """`store` gives the Ingresses, Services, Endpoints and certificates (in the
        worker: its mirror). With `control` (the engine) it also binds `ports` (http,
        https) on `address` and hands them to the `dataplane`, reports problems through
        `events` (ObjectService.record_event) and publishes the Ingresses' status.
        With `nginx` (ingress_nginx.NginxDataPath) nginx serves the listeners instead of
        the proxy worker, from a configuration rendered at each change."""
        self.store = store
        self.control = control  # False in the proxy worker: route only, report nothing
        self.address, self.ports = address, ports
        self.dataplane = dataplane
        self.nginx = nginx
        self.data_path = "python"  # what serves the listeners, for the status (nginx: its own)
        if nginx is not None:
            nginx.build = self.nginx_inputs
        self.events = events
        self.table = RouteTable()
        self.conns: set = set()  # ingress_http.Client, in the worker
        self.pool: dict[tuple[str, int], list[Upstream]] = {}
        self.servers: dict[str, tuple[asyncio.AbstractServer, str]] = {}
        self.bind_errors: list[str] = []
        self.problems: dict[tuple, str] = {}   # (ns, name, message) -> message, already reported
        self.certs = None
        self.secrets: set[tuple[str, str]] = set()
        self.tasks: set[asyncio.Task] = set()
        self._eps: dict = {}
        self._rr: dict = {}
        self._found: dict[tuple, tuple] = {}
        # (host, path) -> table.match(), cleared when the table changes
        self._matched = BoundedMemo(lambda key: self.table.match(*key), 4096)
        self.fast_routes: dict[tuple[bytes, bytes], object] = {}  # the same keyed by raw bytes (ingress_fast.py)

    # ---- lifecycle ---------------------------------------------------------------
    def describe(self) -> dict:
        out = {scheme: addr for scheme, (_, addr) in self.servers.items()}
        out["hosts"] = list(self.table.hosts)
        out["errors"] = self.bind_errors + sorted(set(self.problems.values()))
        if self.nginx and self.nginx.problem:
            out["errors"].append(f"nginx refused the configuration, the last one serves: {self.nginx.problem}")
        out.update(self.nginx.describe() if self.nginx else {"dataPath": self.data_path})
        return out

    def spawn(self, coro) -> asyncio.Task:
        t = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)
        return t

    async def run(self) -> None:
        """The engine's side: bind the listeners (served by the proxy worker), evaluate
        every object once, then follow the watch from that resourceVersion."""
        self.listen()
        rv = self.store.rv
        self.reevaluate(routes=True, tls=True)
        async for ev in self.store.watch(rv):
            self.on_change(ev.object)

    def start_worker(self) -> None:
        """The worker's side: certificates for the HTTPS listener, and the idle sweeper."""
        self.load_certs()
        self.spawn(self.sweep())

    def on_change(self, obj: dict) -> None:
        kind = obj.get("kind")
        if kind in ("Service", "Endpoints"):
            self._eps.clear()
            if self.nginx:
                self.nginx.changed()
        elif kind in ("Ingress", "IngressClass"):
            self.reevaluate(routes=True, tls=True)
        elif kind == "Secret":
            m = obj["metadata"]
            if (m.get("namespace") or "default", m["name"]) in self.secrets:
                self.reevaluate(routes=False, tls=True)

    def load_certs(self) -> None:
        try:
            from .tls import CertStore

            self.certs = CertStore()
        except Exception as e:  # noqa: BLE001 - HTTPS off, HTTP keeps working
            self.bind_errors.append(f"https: no default certificate: {e}")
            log.error("Ingress HTTPS disabled: %s", e)

    def listen(self) -> None:
        from .dataplane import bind_tcp

        address = self.address
        self.load_certs()
        for scheme, port in zip(("http", "https"), self.ports):
            if scheme == "https" and self.certs is None:
                continue
            try:
                sock = bind_tcp(address, port)
            except OSError as e:
                msg = f"{scheme}: port {port} cannot be bound on {address}: {e.strerror or e}"
                self.bind_errors.append(msg)
                log.error("Ingress %s", msg)
                continue
            bound = sock.getsockname()[1]
            (self.nginx or self.dataplane).listen(f"ingress:{scheme}", sock,
                                                  {"role": "ingress", "scheme": scheme, "port": bound})
            self.servers[scheme] = (sock, f"{address}:{bound}")
            log.info("Ingress %s on %s://%s:%d", scheme, scheme, address, bound)

    async def close(self) -> None:
        for scheme in self.servers:
            (self.nginx or self.dataplane).unlisten(f"ingress:{scheme}")
        self.servers.clear()
        if self.nginx:
            await self.nginx.close()
        for t in list(self.tasks):
            t.cancel()
        for c in list(self.conns):
            c.transport.close()
        for ups in self.pool.values():
            for up in ups:
                up.transport.close()
        self.pool.clear()

    async def sweep(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, self.header_timeout / 4))
            now = time.monotonic()
            for c in list(self.conns):
                if c.queue or c.tunnel is not None or c.lingering:
                    continue
                if c.head_since and now - c.head_since > self.header_timeout:  # slowloris
                    c.refuse(408)
                    c.flush()
                elif now - c.last > CLIENT_IDLE:
                    c.transport.close()
            for ups in self.pool.values():
                for up in [u for u in ups if now - u.idle_since > POOL_IDLE]:
                    ups.remove(up)
                    up.transport.close()

    # ---- evaluation --------------------------------------------------------------
    def reevaluate(self, *, routes: bool, tls: bool) -> None:
        store = self.store
        ingresses, classes = list(store.iter_kind("Ingress")), list(store.iter_kind("IngressClass"))
        found: dict[tuple, tuple[dict, str, str]] = {}
        if routes:
            started = time.time()
            self.table, conflicts = build_table(ingresses, classes)
            if self.control:
                activity.record(COMPONENT, "swap-routes", start=started, detail=f"{len(ingresses)} Ingresses")
            self._matched.clear()
            self.fast_routes.clear()
            self._eps.clear()
            for cf in conflicts:
                found[(*cf.loser, cf.message())] = (cf.loser, "IngressConflict", cf.message())
        else:
            found.update({k: v for k, v in self._found.items() if v[1] == "IngressConflict"})
        if tls and self.certs is not None:
            wanted = tls_hosts(ingresses, classes)
            self.secrets = {(ns, name) for ns, name, _ in wanted.values()}
            for ing, msg in self.certs.update(wanted, lambda ns, n: store.peek("Secret", ns, n)):
                found[(*ing, msg)] = (ing, "InvalidTLSSecret", msg)
        else:
            found.update({k: v for k, v in self._found.items() if v[1] == "InvalidTLSSecret"})
        self._found = found
        if not self.control:
            return
        if self.nginx:
            self.nginx.changed()
        for key, ((ns, name), reason, msg) in found.items():
            if key in self.problems:
                continue
            ing = store.peek("Ingress", ns, name)
            if ing is not None:
                self.events(ing, reason, msg, type="Warning", component=COMPONENT)
            log.warning("Ingress %s/%s: %s", ns, name, msg)
        self.problems = {k: f"Ingress {k[0]}/{k[1]}: {k[2]}" for k in found}
        if routes:
            self.publish_status(ingresses, classes)

    def publish_status(self, ingresses: list[dict], classes: list[dict]) -> None:
        """status.loadBalancer of the Ingresses we serve: our address and bound ports, so
        `kubedeck get ingress` and the TUI can show where to connect."""
        ours = {c["metadata"]["name"] for c in classes if (c.get("spec") or {}).get("controller") == CONTROLLER}
        default = any((c["metadata"].get("annotations") or {}).get("ingressclass.kubernetes.io/is-default-class") == "true"
                      and c["metadata"]["name"] in ours for c in classes)
        ports = [{"port": int(addr.rsplit(":", 1)[1]), "protocol": "TCP"} for _, (_, addr) in sorted(self.servers.items())]
        lb = {"loadBalancer": {"ingress": [{"ip": self.address, "ports": ports}]}} if ports else {}
        for ing in ingresses:
            cls = (ing.get("spec") or {}).get("ingressClassName") or \
                (ing["metadata"].get("annotations") or {}).get("kubernetes.io/ingress.class")
            if (cls in ours) or (cls is None and default):
                self.store.update_status("Ingress", ing["metadata"]["namespace"], ing["metadata"]["name"], lb)

    def nginx_inputs(self) -> tuple:
        """What the nginx data path renders: the table, the endpoints lookup, the TLS
        hosts' (cert, key) PEM and the default certificate's (None: no HTTPS)."""
        certs = self.certs
        return self.table, self.backends, dict(certs.pems) if certs else {}, certs.default_pem if certs else None

    def backends(self, b) -> list | None:
        """Ready (ip, port) of a backend, None when its Service or port does not exist."""
        try:
            return self._eps[b]
        except KeyError:
            pass
        store = self.store
        sp = service_port(store.peek("Service", b.namespace, b.service), b)
        out = None if sp is None else ready_backends(store.peek("Endpoints", b.namespace, b.service), *sp)
        self._eps[b] = out
        return out

    def match(self, host: str, path: str):
        """The backend of (host, path) in the current table, memoised until it changes."""
        return self._matched[(host, path)]

    def learn_fast(self, host: bytes, path: bytes, r) -> None:
        """Remember the backend of a raw (Host, path) for the fast lane (ingress_fast.py)."""
        if len(self.fast_routes) > 4096:
            self.fast_routes.clear()
        self.fast_routes[(host, path)] = self.match(r.host, r.path)

    def pick(self, r) -> tuple[tuple[str, int] | None, int]:
        """(endpoint, 0) for a request, or (None, HTTP status to answer)."""
        b = self.match(r.host, r.path)
        if b is None:
            return None, 404
        eps = self.backends(b)
        if not eps:
            return None, 503
        if r.tries:
            eps = [e for e in eps if e not in r.tries]
            if not eps:
                return None, 502
        n = self._rr.get(b, 0)
        self._rr[b] = n + 1
        return eps[n % len(eps)], 0

    def pool_get(self, target) -> Upstream | None:
        ups = self.pool.get(target)
        while ups:
            up = ups.pop()
            if not up.closed and not up.transport.is_closing():
                return up
        return None

    def pool_put(self, up: Upstream) -> None:
        ups = self.pool.get(up.target)
        if ups is None:
            ups = self.pool[up.target] = []
        if up.closed or len(ups) >= POOL_MAX:
            up.transport.close()
            return
        up.idle_since = time.monotonic()
        up.reused = True
        ups.append(up)
