"""The Ingress data path in the host's nginx, as ingress-nginx runs it on a cluster.

Why: the Python worker's data path costs ~21 us of CPU per proxied request, nginx's ~13 us,
and on a 2-core machine the proxy shares the CPU with the client and the backend. The
Python path stays as the fallback (no nginx on the host, `--ingress-proxy python`, or an
nginx that will not run), and both serve the same rules (nginx_conf.py).

Who owns what:
- The engine still binds the listeners (a port that cannot be bound stays an error it
  reports) and keeps them; nginx inherits duplicates through its `NGINX` environment
  variable (the mechanism of nginx's own binary upgrade), so a restarted nginx serves
  the same sockets and connections waiting in the backlog are not lost.
- Problems, Events and status stay in the engine's IngressProxy; this module turns its
  table into nginx.conf, checks it with `nginx -t`, and reloads nginx (SIGHUP: new
  workers take new connections, old ones finish their requests). A burst of changes
  (a rollout's Endpoints) is one reload; an unchanged text is none.
- nginx runs in its own process group under `setpriv --pdeathsig TERM`, so it stops
  when the engine dies, even by SIGKILL, and leaves no worker holding a port.
- If nginx does not start or keeps dying, the listeners go to the Python worker and
  the status says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import signal
import time
from pathlib import Path

from .. import activity
from ..files import write_atomic
from .nginx_conf import render

log = logging.getLogger("kubedeck.ingress")
COALESCE = 0.05  # seconds a change waits for the rest of its burst before a reload
GIVE_UP = 3  # nginx exits within CRASH_SECONDS of starting this many times running: Python path
CRASH_SECONDS = 10.0
SEARCH = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


def find_nginx(mode: str) -> tuple[str | None, str]:
    """(nginx binary, "") for the nginx data path, or (None, why the Python path serves)."""
    if mode == "python":
        return None, "python (--ingress-proxy python)"
    binary = shutil.which("nginx") or next((p for p in SEARCH if os.access(p, os.X_OK)), None)
    if binary is None:
        return None, "python (no nginx on this host)"
    if shutil.which("setpriv") is None:  # without it a killed engine would leave nginx on its ports
        return None, "python (no setpriv to tie nginx to the engine)"
    return binary, ""


class NginxDataPath:
    def __init__(self, binary: str, work_dir: Path, fallback) -> None:
        """`fallback` (the proxy worker's DataPlane) takes the listeners if nginx will not run."""
        self.binary, self.dir, self.fallback = binary, work_dir, fallback
        self.listeners: dict[str, tuple[object, dict]] = {}
        self.proc: asyncio.subprocess.Process | None = None
        self.text = ""  # the configuration nginx runs
        self.build = None  # () -> the inputs of nginx_conf.render, set by the IngressProxy
        self.dirty = asyncio.Event()
        self.applying = False
        self.configured = asyncio.Event()
        self.old_workers: list[int] = []  # workers of the configuration before the last reload
        self.reloads = self.restarts = 0
        self.version = ""
        self.off = ""  # why the Python path took over, once it has
        self.problem = ""  # why nginx refused the last configuration (the IngressProxy's errors show it)
        self.closing = False

    # ---- the IngressProxy's side ---------------------------------------------------
    def listen(self, key: str, sock, meta: dict) -> None:
        self.listeners[key] = (sock, meta)
        if self.off:
            self.fallback.listen(key, sock, meta)

    def unlisten(self, key: str) -> None:
        if self.listeners.pop(key, None) and self.off:
            self.fallback.unlisten(key)

    def changed(self) -> None:
        """The routes, endpoints or certificates may have changed: render again soon."""
        self.dirty.set()

    def describe(self) -> dict:
        if self.off:
            return {"dataPath": f"python ({self.off})"}
        out = {"dataPath": f"nginx {self.version}".strip(), "nginxPid": self.proc.pid if self.proc else None,
               "reloads": self.reloads, "restarts": self.restarts, "reloading": self.reloading()}
        return out

    def reloading(self) -> bool:
        """A change is not yet served alone: it waits to be rendered or checked, or a worker
        of the previous configuration still accepts connections (after a reload nginx
        starts the new workers first, then asks the old ones to stop accepting: for a few
        milliseconds new connections may land on either)."""
        if self.dirty.is_set() or self.applying:
            return True
        self.old_workers = [pid for pid in self.old_workers if _accepting(pid)]
        return bool(self.old_workers)

    # ---- lifecycle ---------------------------------------------------------------
    async def run(self) -> None:
        """Render on every change; start nginx once there is a configuration, and again
        when it exits; hand over to the Python worker when it will not stay up."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.dir / "tmp").mkdir(exist_ok=True)
        (self.dir / "certs").mkdir(mode=0o700, exist_ok=True)
        self.version = await self._version()
        renderer = asyncio.get_running_loop().create_task(self._render_loop())
        try:
            await self.configured.wait()
            if self.off:  # the first configuration was refused
                return
            crashes = 0
            while not self.closing:
                started = time.monotonic()
                rc = await self._serve()
                if self.closing:
                    break
                crashes = crashes + 1 if time.monotonic() - started < CRASH_SECONDS else 1
                self.restarts += 1
                why = f"nginx exited ({rc}): {self._last_error()}"
                log.error("Ingress %s", why)
                if crashes >= GIVE_UP:
                    self._hand_over(why)
                    return
                await asyncio.sleep(0.2 * crashes)
        finally:
            renderer.cancel()

    async def _serve(self):
        fds = [sock.fileno() for sock, _ in self.listeners.values()]
        for fd in fds:
            os.set_inheritable(fd, True)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                "setpriv", "--pdeathsig", "TERM", "--", *self._command("nginx.conf"),
                pass_fds=fds, start_new_session=True, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                env={**os.environ, "NGINX": "".join(f"{fd};" for fd in fds)})
        except OSError as e:
            return f"not started: {e}"
        log.info("Ingress served by nginx %s, pid %d", self.version, self.proc.pid)
        try:
            return await self.proc.wait()
        finally:
            self._kill_group()

    def _kill_group(self) -> None:
        """Workers of an nginx master that died are orphans still holding the listeners."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def _hand_over(self, why: str) -> None:
        self.off = why
        for key, (sock, meta) in self.listeners.items():
            self.fallback.listen(key, sock, meta)
        log.error("Ingress: the Python proxy worker serves the listeners now")

    async def close(self) -> None:
        self.closing = True
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)  # fast shutdown: the master stops its workers
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            self._kill_group()

    # ---- configuration -----------------------------------------------------------
    async def _render_loop(self) -> None:
        while True:
            await self.dirty.wait()
            await asyncio.sleep(COALESCE)
            self.dirty.clear()
            if self.build is None or not self.listeners:
                continue
            try:
                text = self.render(*self.build())
            except Exception:  # noqa: BLE001 - keep serving the last good configuration
                log.exception("Ingress: nginx configuration not rendered")
                continue
            if text != self.text:
                self.applying = True
                try:
                    await self._apply(text)
                finally:
                    self.applying = False

    def render(self, table, backends, pems: dict, default_pem) -> str:
        listens = {meta["scheme"]: _bound(sock) for sock, meta in self.listeners.values()}
        certs = {host: self._pem_files(cert, key) for host, (cert, key) in pems.items()}
        default = self._pem_files(*default_pem) if default_pem else None
        return render(table, backends, listens, str(self.dir), certs, default)

    def _pem_files(self, cert: bytes, key: bytes) -> tuple[str, str]:
        """The certificate and key in files nginx reads, named by their content."""
        name = hashlib.sha256(cert + b"\0" + key).hexdigest()[:20]
        paths = self.dir / "certs" / f"{name}.crt", self.dir / "certs" / f"{name}.key"
        for path, data in zip(paths, (cert, key)):
            if not path.exists():  # rewritten from the Secret after a crash: no flush needed
                write_atomic(path, data, 0o600, durable=False)
        return str(paths[0]), str(paths[1])

    async def _apply(self, text: str) -> None:
        """Check `text` with `nginx -t`, then make it nginx's configuration."""
        started = time.time()
        candidate = self.dir / "nginx.conf.new"
        candidate.write_text(text)
        proc = await asyncio.create_subprocess_exec(
            *self._command(candidate.name), "-t", "-q", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        if proc.returncode != 0:
            self.problem = err.decode(errors="replace").strip().splitlines()[0] if err.strip() else "nginx -t failed"
            if not self.configured.is_set():  # nothing to fall back on in nginx: the Python path serves
                self._hand_over(f"nginx refused its configuration: {self.problem}")
                self.configured.set()
            else:
                log.error("Ingress: nginx refused the new configuration, the last one stays: %s", self.problem)
            return
        self.problem = ""
        os.replace(candidate, self.dir / "nginx.conf")
        self.text = text
        for f in (self.dir / "certs").iterdir():  # certificates no configuration names any more
            if f.suffix in (".crt", ".key") and str(f) not in text:
                f.unlink(missing_ok=True)
        if not self.configured.is_set():
            self.configured.set()
        elif self.proc is not None and self.proc.returncode is None:
            self.old_workers = _children(self.proc.pid)
            self.proc.send_signal(signal.SIGHUP)
            self.reloads += 1
            activity.record("ingress-controller", "reload nginx", start=started)

    def _command(self, conf: str) -> list[str]:
        """nginx with its prefix, error log and configuration file in the work dir."""
        return [self.binary, "-p", str(self.dir), "-e", str(self.dir / "error.log"), "-c", str(self.dir / conf)]

    async def _version(self) -> str:
        proc = await asyncio.create_subprocess_exec(self.binary, "-v", stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        return err.decode(errors="replace").strip().rpartition("/")[2]

    def _last_error(self) -> str:
        try:
            lines = (self.dir / "error.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no error log"
        bad = [line for line in lines if any(f"[{lvl}]" in line for lvl in ("emerg", "alert", "crit"))]
        return bad[-1] if bad else "nothing in its error log"


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _accepting(pid: int) -> bool:
    """Whether an nginx worker still takes new connections: it retitles itself
    "worker process is shutting down" once it has closed its listeners."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            title = f.read()
    except OSError:
        return False
    return title.startswith(b"nginx: worker") and b"shutting down" not in title  # (not a reused pid)


def _bound(sock) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
