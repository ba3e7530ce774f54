"""Reaching any Kubernetes cluster through a kubeconfig context, as kubectl does.

The kubeconfig is never parsed here: the official `kubernetes` client's loader
(`kubernetes.config.load_kube_config`) fills a `Configuration`, so merged `$KUBECONFIG`
lists, relative paths, inline `*-data`, client certificates, tokens and token files,
basic auth, `insecure-skip-tls-verify`, `proxy-url` and exec credential plugins behave
as the official client does. `KubeConnection` turns that Configuration into what
kubedeck's own clients need, the same two things an engine `Connection` gives:

* `ssl()`: a TLS context from the CA, client certificate and key files (the loader
  writes inline data to temporary files for us);
* `headers()`: the `Authorization` header, asked of the Configuration on every call so
  its refresh hook re-runs an exec plugin once the credential it printed expires.
  A 401 makes `ConnectionAuth` reload the context (running the plugin again, as
  client-go does for a plugin without an expiry) and retry the request once.

Everything that talks to a cluster (the CLI's `Client`, the TUI's `ApiClient`, exec
and port-forward) takes either kind of connection.
"""

from __future__ import annotations

import functools
import logging
import os
import ssl
import threading
from dataclasses import dataclass, field

DEFAULT_KUBECONFIG = "~/.kube/config"


class KubeconfigError(Exception):
    """The kubeconfig or the context cannot be used; the message is for the user."""


def kubeconfig_paths(explicit: str | None = None) -> str:
    """`--kubeconfig`, else `$KUBECONFIG` (a `:`-separated list, merged), else ~/.kube/config."""
    return explicit or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG


def _kubernetes():
    """The official client's package, without the optional validator it would also load.

    `import kubernetes` imports every subpackage, and `kubernetes.dynamic` imports
    `kubernetes_validate` (and so jsonschema) when it is installed, as it is for kubedeck's
    own validator: ~90 modules and a fifth of the import, for a dynamic client kubedeck
    never uses. Marking it missing for that one import makes `kubernetes.dynamic` take its
    documented fallback; the mark is taken away again, so the validator imports as usual
    wherever kubedeck needs it (`up --context`)."""
    import sys

    if "kubernetes" not in sys.modules and "kubernetes_validate" not in sys.modules:
        sys.modules["kubernetes_validate"] = None  # type: ignore[assignment]
        try:
            import kubernetes
        finally:
            if sys.modules.get("kubernetes_validate", 0) is None:
                del sys.modules["kubernetes_validate"]
    import kubernetes

    return kubernetes


def _configuration(paths: str, context: str | None):
    _kubernetes()
    from kubernetes.client import Configuration
    from kubernetes.config import load_kube_config
    from kubernetes.config.config_exception import ConfigException

    cfg = Configuration()
    problems = _LogCapture()  # the loader logs a failed exec plugin and carries on
    try:
        with problems:
            load_kube_config(config_file=paths, context=context, client_configuration=cfg,
                             persist_config=False)
    except (ConfigException, OSError, ValueError, KeyError, TypeError) as e:
        raise KubeconfigError(f"cannot use kubeconfig {paths}: {e}") from None
    if problems.messages and not cfg.api_key and not cfg.cert_file:
        raise KubeconfigError(f"credentials for context {context or '(current)'} failed: "
                              + "; ".join(problems.messages))
    return cfg


class _LogCapture(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self):
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger().removeHandler(self)


def describe_context(paths: str, context: str | None) -> dict:
    """{"name", "cluster", "user", "namespace"} of `context` (default: the current one)."""
    _kubernetes()
    from kubernetes.config import list_kube_config_contexts
    from kubernetes.config.config_exception import ConfigException

    try:
        contexts, current = list_kube_config_contexts(config_file=paths)
    except (ConfigException, OSError, ValueError, KeyError, TypeError) as e:
        raise KubeconfigError(f"cannot read kubeconfig {paths}: {e}") from None
    name = context or (current or {}).get("name")
    found = next((c for c in contexts or [] if c.get("name") == name), None)
    if found is None:
        known = ", ".join(sorted(c.get("name", "") for c in contexts or [])) or "none"
        raise KubeconfigError(f'context "{name}" not found in {paths} (contexts: {known})')
    ctx = found.get("context") or {}
    return {"name": name, "cluster": ctx.get("cluster", ""), "user": ctx.get("user", ""),
            "namespace": ctx.get("namespace") or "default"}


@dataclass
class KubeConnection:
    """One kubeconfig context, ready for kubedeck's HTTP, WebSocket and SPDY clients."""

    url: str
    context: str
    cluster: str
    namespace: str
    kubeconfig: str
    _cfg: object = field(repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ssl: ssl.SSLContext | None = field(default=None, repr=False)

    #: kept for code that shows where a connection points (the engine's `Connection` has it)
    ca: str | None = None
    #: what `snapshot()` gave, used while `_cfg` is None (until a `refresh()`)
    _given: dict | None = field(default=None, repr=False)

    def ssl(self) -> ssl.SSLContext | bool:
        if not self.url.startswith("https"):
            return True
        if self._ssl is None and self._cfg is None:
            self._ssl = _ssl_from_pems(self._given)
        if self._ssl is None:
            cfg = self._cfg
            ctx = _tls_context(bool(cfg.verify_ssl), cafile=cfg.ssl_ca_cert or None)
            if cfg.cert_file:
                ctx.load_cert_chain(cfg.cert_file, cfg.key_file or None)
            self._ssl = ctx
        return self._ssl

    def headers(self) -> dict[str, str]:
        if self._cfg is None:
            return dict(self._given["headers"])
        with self._lock:  # the refresh hook may run an exec plugin: once at a time
            value = self._cfg.get_api_key_with_prefix("BearerToken")
        return {"Authorization": value} if value else {}

    @property
    def proxy(self) -> str | None:
        return (self._given["proxy"] if self._cfg is None else self._cfg.proxy) or None

    def snapshot(self) -> dict:
        """Everything a connection needs, as JSON: the server, the CA, the client
        certificate and key, the headers as they are now (engine/forked.py carries it from
        the child that loaded the context)."""
        cfg = self._cfg

        def pem(path: str | None) -> str | None:
            if not path:
                return None
            with open(path) as f:
                return f.read()

        return {"url": self.url, "context": self.context, "cluster": self.cluster, "namespace": self.namespace,
                "kubeconfig": self.kubeconfig, "verify": bool(cfg.verify_ssl), "ca": pem(cfg.ssl_ca_cert),
                "cert": pem(cfg.cert_file), "key": pem(cfg.key_file), "headers": self.headers(),
                "proxy": cfg.proxy or None}

    @classmethod
    def from_snapshot(cls, given: dict) -> KubeConnection:
        """The connection `snapshot()` describes. Its credentials stay as they were taken
        until a 401 makes `ConnectionAuth` call `refresh()`, which loads the context here
        (running an exec plugin again, as client-go does for a credential without expiry)."""
        return cls(url=given["url"], context=given["context"], cluster=given["cluster"],
                   namespace=given["namespace"], kubeconfig=given["kubeconfig"], _cfg=None, _given=given)

    def refresh(self) -> None:
        """Load the context again: new credentials from an exec plugin or token file."""
        cfg = _configuration(self.kubeconfig, self.context)
        with self._lock:
            self._cfg, self._ssl, self._given = cfg, None, None


def _tls_context(verify: bool, *, cafile: str | None = None, cadata: str | None = None) -> ssl.SSLContext:
    """A client context trusting the CA (a file or PEM text; none: the system's), or, for
    insecure-skip-tls-verify (what the kubeconfig asks for), checking nothing."""
    if verify:
        return ssl.create_default_context(cafile=cafile, cadata=cadata)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _ssl_from_pems(given: dict) -> ssl.SSLContext:
    """The TLS context of a snapshot: its CA and client certificate are PEM text, and
    `load_cert_chain` reads only files, so those two are written to a private temp
    directory for the load and removed right after."""
    ctx = _tls_context(given["verify"], cadata=given["ca"] or None)
    if given["cert"]:
        import shutil
        import tempfile

        tmp = tempfile.mkdtemp(prefix="kubedeck-cert-")  # mode 0700
        try:
            cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
            for path, text in ((cert, given["cert"]), (key, given["key"])):
                if text:
                    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                        f.write(text)
            ctx.load_cert_chain(cert, key if given["key"] else None)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return ctx


def load(context: str | None = None, kubeconfig: str | None = None) -> KubeConnection:
    """The connection for `context` (default: the current context) of the kubeconfig."""
    paths = kubeconfig_paths(kubeconfig)
    info = describe_context(paths, context)
    cfg = _configuration(paths, info["name"])
    return KubeConnection(url=cfg.host.rstrip("/"), context=info["name"], cluster=info["cluster"],
                          namespace=info["namespace"], kubeconfig=paths, _cfg=cfg, ca=cfg.ssl_ca_cert)


@functools.cache
def _auth_class() -> type:
    """`ConnectionAuth`, made on first use: httpx is imported only when a client is made
    (`ui --context` draws its first frame without it; its forked child imports it)."""
    import httpx

    class ConnectionAuth(httpx.Auth):
        """httpx authentication from any connection with `headers()` (and `refresh()`): fresh
        headers per request; on a 401 the credentials are reloaded and the request sent once more."""

        def __init__(self, conn) -> None:
            self.conn = conn

        def auth_flow(self, request: httpx.Request):
            request.headers.update(self.conn.headers())
            response = yield request
            if response.status_code == 401 and hasattr(self.conn, "refresh"):
                try:
                    self.conn.refresh()
                except KubeconfigError:
                    return
                request.headers.update(self.conn.headers())
                yield request

    return ConnectionAuth


def httpx_options(conn) -> dict:
    """Keyword arguments for `httpx.Client`/`AsyncClient` reaching `conn`."""
    # plain http: no TLS context (httpx would load the system's CA bundle, ~55 ms, for nothing)
    verify = False if conn.url.startswith("http://") else conn.ssl()
    opts: dict = {"base_url": conn.url, "auth": _auth_class()(conn), "verify": verify}
    if getattr(conn, "proxy", None):
        opts["proxy"] = conn.proxy
    return opts
