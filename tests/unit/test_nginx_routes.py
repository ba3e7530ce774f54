"""The nginx data path (ingress_nginx.py, nginx_conf.py) against the host's real nginx,
without Docker: the Ingress rules become nginx.conf, nginx serves a socket bound here,
and every (host, path) of a grid must reach the backend that kubedeck's own routing
(routing.RouteTable.match) picks, or get the same 404 / 503. Backends are HTTP servers
in this process that answer with their Service's name. Then: a change is one reload,
not a restart; a refused configuration keeps the old one; and nginx stops with us.
"""

from __future__ import annotations

import asyncio
import http.server
import os
import shutil
import socket
import threading

import pytest

from kubedeck.engine.proxy.dataplane import bind_tcp
from kubedeck.engine.proxy.ingress_nginx import NginxDataPath, find_nginx
from kubedeck.engine.proxy.routing import Backend, build_table

NGINX, WHY = find_nginx("auto")
pytestmark = pytest.mark.skipif(NGINX is None, reason=f"the nginx data path needs nginx: {WHY}")
CLASS = {"kind": "IngressClass", "metadata": {"name": "kubedeck", "annotations": {
    "ingressclass.kubernetes.io/is-default-class": "true"}}, "spec": {"controller": "kubedeck.io/ingress"}}


def ingress(name: str, rules: list, default: str | None = None, age: str = "2026-01-01T00:00:00Z") -> dict:
    def be(svc):
        return {"service": {"name": svc, "port": {"number": 80}}}
    spec = {"rules": [{**({"host": h} if h else {}), "http": {"paths": [
        {"path": p, "pathType": t, "backend": be(s)} for p, t, s in paths]}} for h, paths in rules]}
    if default:
        spec["defaultBackend"] = be(default)
    return {"kind": "Ingress", "metadata": {"name": name, "namespace": "default", "creationTimestamp": age},
            "spec": spec}


INGRESSES = [
    ingress("one", [
        ("exact.test", [("/", "Prefix", "root"), ("/api", "Prefix", "api"), ("/api/v2/", "Prefix", "v2"),
                        ("/login", "Exact", "login"), ("/same", "Exact", "same-exact")]),
        ("*.wild.test", [("/deep/er", "Prefix", "deep")]),
        ("", [("/x", "Exact", "any-x"), ("/shop", "Prefix", "shop"), ("/same", "Prefix", "same-prefix"),
              ("/a b", "Prefix", "spaced"), ('/q"uote', "Exact", "quoted")]),
        ("nomatch.test", [("/only", "Exact", "only")]),
        ("empty.test", [("/", "Prefix", "nobody")]),
        ("ghost.test", [("/", "Prefix", "missing")]),
    ], default="fallback"),
    ingress("two", [("exact.test", [("/api", "Prefix", "stolen")])], age="2026-02-01T00:00:00Z"),  # loses
]
HOSTS = ["exact.test", "EXACT.test:80", "a.wild.test", "a.b.wild.test", "wild.test", "nomatch.test", "empty.test",
         "ghost.test", "unknown.test"]
PATHS = ["/", "/api", "/api/", "/api/x", "/apix", "/api/v2", "/api/v2/y", "/login", "/login/", "/same", "/same/z",
         "/x", "/x/", "/shop", "/shop/cart", "/shopping", "/deep", "/deep/er", "/deep/er/most", "/only", "/only/",
         "/a%20b/c", '/q"uote', "/nothing/here"]
NO_ENDPOINTS, NO_SERVICE = "nobody", "missing"


class Named(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server's name
        body = self.server.name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def backends():
    names = {b.service for b in _all_backends()} - {NO_ENDPOINTS, NO_SERVICE}
    servers = {}
    for name in names:
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Named)
        srv.name = name
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers[name] = srv
    yield {n: s.server_address[1] for n, s in servers.items()}
    for s in servers.values():
        s.shutdown()
        s.server_close()


def _all_backends():
    table, _ = build_table(INGRESSES, [CLASS])
    groups = [table.any_host, *table.exact_hosts.values(), *table.wildcards.values()]
    return {b for g in groups for b in (*g.exact.values(), *g.prefix.values())} | {table.default}


def get(port: int, host: str, path: str) -> tuple[int, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def expected(table, host: str, path: str) -> tuple[int, str]:
    from urllib.parse import unquote

    b = table.match(host.split(":")[0].lower(), unquote(path))  # nginx matches the decoded path
    if b is None:
        return 404, "404 Not Found\n"
    if b.service in (NO_ENDPOINTS, NO_SERVICE):
        return 503, "503 Service Unavailable\n"
    return 200, b.service


async def _serve(work, ports: dict[str, int], ingresses: list[dict]):
    table, conflicts = build_table(ingresses, [CLASS])
    sock = bind_tcp("127.0.0.1", 0)
    path = NginxDataPath(NGINX, work, fallback=None)

    def backends_of(b: Backend):
        if b.service == NO_SERVICE:
            return None
        return [] if b.service == NO_ENDPOINTS else [("127.0.0.1", ports[b.service])]
    path.build = lambda: (table, backends_of, {}, None)
    path.listen("ingress:http", sock, {"scheme": "http"})
    path.changed()
    task = asyncio.get_running_loop().create_task(path.run())
    return path, task, sock, table, conflicts


async def _until(cond, timeout=10.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.02)


def test_every_host_and_path_reaches_what_kubedeck_routing_picks(tmp_path, backends):
    async def main():
        path, task, sock, table, conflicts = await _serve(tmp_path / "nginx", backends, INGRESSES)
        port = sock.getsockname()[1]
        try:
            await _until(lambda: path.proc is not None and (tmp_path / "nginx" / "nginx.pid").exists())
            assert [c.loser for c in conflicts] == [("default", "two")]
            mismatches = []
            for host in HOSTS:
                for p in PATHS:
                    got = await asyncio.to_thread(get, port, host, p)
                    want = expected(table, host, p)
                    if got != want:
                        mismatches.append(f"{host}{p}: nginx {got}, kubedeck routing {want}")
            assert not mismatches, "\n".join(mismatches)
            assert path.describe()["dataPath"].startswith("nginx ") and path.restarts == 0
        finally:
            await path.close()
            task.cancel()
            sock.close()
    asyncio.run(main())


def test_a_change_is_a_reload_and_a_refused_one_keeps_the_last(tmp_path, backends):
    async def main():
        ings = [ingress("site", [("a.test", [("/", "Prefix", "root")])])]
        work = tmp_path / 'a "quoted" dir with spaces'  # the configuration quotes every path
        path, task, sock, table, _ = await _serve(work, backends, ings)
        port = sock.getsockname()[1]
        try:
            await _until(lambda: path.proc is not None and (work / "nginx.pid").exists())
            assert await asyncio.to_thread(get, port, "a.test", "/") == (200, "root")
            pid = path.proc.pid
            first = workers(pid)
            new, _ = build_table([ingress("site", [("a.test", [("/", "Prefix", "api")])])], [CLASS])
            path.build = lambda: (new, lambda b: [("127.0.0.1", backends[b.service])], {}, None)
            path.changed()
            await _until(lambda: path.reloads == 1)
            # the old worker finishes what it has and exits; from then on only the new rules serve
            await _until(lambda: len(now := workers(pid)) == 1 and now != first)
            assert await asyncio.to_thread(get, port, "a.test", "/") == (200, "api")
            assert path.proc.pid == pid  # the same master: a reload, not a restart
            # a certificate nginx cannot load: `nginx -t` refuses it, the last configuration serves on
            path.build = lambda: (new, lambda b: [("127.0.0.1", backends[b.service])], {"a.test": (b"x", b"y")},
                                  (b"x", b"y"))
            path.listen("ingress:https", bind_tcp("127.0.0.1", 0), {"scheme": "https"})
            path.changed()
            await _until(lambda: path.problem)
            assert "certificate" in path.problem or "PEM" in path.problem, path.problem
            assert path.reloads == 1 and await asyncio.to_thread(get, port, "a.test", "/") == (200, "api")
        finally:
            await path.close()
            task.cancel()
            sock.close()
        assert path.proc.returncode is not None
        with pytest.raises(ProcessLookupError):  # its process group: the master and every worker
            os.killpg(path.proc.pid, 0)
    asyncio.run(main())


def workers(master: int) -> list[int]:
    """The nginx master's worker processes."""
    with open(f"/proc/{master}/task/{master}/children") as f:
        return [int(p) for p in f.read().split()]


def test_find_nginx_says_why_the_python_path_serves(monkeypatch):
    assert find_nginx("python") == (None, "python (--ingress-proxy python)")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os, "access", lambda *a: False)
    assert find_nginx("auto") == (None, "python (no nginx on this host)")


def _served_cert(port: int, sni: str) -> bytes:
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname=sni) as s:
        return s.getpeercert(binary_form=True)


def test_certificates_by_sni_and_a_rotated_one_replaces_its_files(tmp_path, backends):
    import ssl

    from kubedeck.engine.proxy.tls import self_signed

    def der(pem: bytes) -> bytes:
        return ssl.PEM_cert_to_DER_cert(pem.decode())

    async def main():
        table, _ = build_table([ingress("site", [("a.test", [("/", "Prefix", "root")])])], [CLASS])
        first, second, default = self_signed("a.test"), self_signed("a.test"), self_signed("default")
        pems = {"a.test": first}
        http, https = bind_tcp("127.0.0.1", 0), bind_tcp("127.0.0.1", 0)
        path = NginxDataPath(NGINX, tmp_path / "nginx", fallback=None)
        path.build = lambda: (table, lambda b: [("127.0.0.1", backends[b.service])], dict(pems), default)
        path.listen("ingress:http", http, {"scheme": "http"})
        path.listen("ingress:https", https, {"scheme": "https"})
        path.changed()
        task = asyncio.get_running_loop().create_task(path.run())
        port = https.getsockname()[1]
        try:
            await _until(lambda: path.proc is not None and (tmp_path / "nginx" / "nginx.pid").exists())
            pid = path.proc.pid
            assert await asyncio.to_thread(_served_cert, port, "a.test") == der(first[0])
            assert await asyncio.to_thread(_served_cert, port, "other.test") == der(default[0])
            pems["a.test"] = second
            before = workers(pid)
            path.changed()
            await _until(lambda: path.reloads == 1 and len(now := workers(pid)) == 1 and now != before)
            assert await asyncio.to_thread(_served_cert, port, "a.test") == der(second[0])
            # only the files of the certificates in use are left: the new one and the default
            assert len(list((tmp_path / "nginx" / "certs").iterdir())) == 4
        finally:
            await path.close()
            task.cancel()
            http.close()
            https.close()
    asyncio.run(main())
