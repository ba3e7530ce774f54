"""The Ingress controller end to end: manifests in the folder, pods on Docker, requests
through the engine's HTTP and HTTPS listeners (free ports, read from the status). The
tests share one engine (`shared_engine`: reset after each)."""

from __future__ import annotations

import base64
import asyncio
import socket
import ssl
import threading

import pytest
from conftest import trickle, wait_for
from e2e_kit import deployment

pytestmark = pytest.mark.shared_engine

APP = deployment("NAME", """
containers:
- name: web
  image: busybox:1.36
  command:
  - sh
  - -c
  - |
    mkdir -p /www/cgi-bin
    echo "NAME-$(hostname)" > /www/index.html
    printf '#!/bin/sh\\necho "Content-Type: text/plain"\\necho\\nenv\\n' > /www/cgi-bin/env
    chmod +x /www/cgi-bin/env
    exec httpd -f -p 8080 -h /www
  ports: [{containerPort: 8080, name: http}]
  readinessProbe:
    httpGet: {path: /, port: http}
    periodSeconds: 1
""") + """---
apiVersion: v1
kind: Service
metadata: {name: NAME}
spec:
  selector: {app: NAME}
  ports: [{name: http, port: 80, targetPort: http}]
"""

INGRESS = """
apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  selector: {app: nobody}
  ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: site}
spec:
  ingressClassName: kubedeck
  rules:
  - host: alpha.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: alpha, port: {number: 80}}}}
  - host: beta.test
    http:
      paths:
      - {path: /b, pathType: Prefix, backend: {service: {name: beta, port: {name: http}}}}
      - {path: /index.html, pathType: Exact, backend: {service: {name: beta, port: {number: 80}}}}
  - host: empty.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: nobody, port: {number: 80}}}}
"""


def request(port: int, host: str, path: str = "/", *, tls: ssl.SSLContext | None = None,
            headers: str = "", timeout: float = 5) -> tuple[int, str]:
    """One HTTP/1.1 request on a fresh connection (SNI = host with TLS); (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        sock = tls.wrap_socket(raw, server_hostname=host) if tls else raw
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        out, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return int(head.split()[1]), body.decode(errors="replace")


def settled(engine) -> bool:
    """The Ingress serves the current rules alone: with nginx, no reload is under way
    (after one, a connection may land on a worker of the old rules for a moment)."""
    return not engine.client.status()["ingress"].get("reloading")


def ports(engine) -> tuple[int, int]:
    st = wait_for(lambda: engine.client.status().get("ingress", {}).get("https"), 15, what="ingress listeners")
    assert st
    ing = engine.client.status()["ingress"]
    return int(ing["http"].rsplit(":", 1)[1]), int(ing["https"].rsplit(":", 1)[1])


def deploy_apps(engine):
    engine.write("apps.yaml", APP.replace("NAME", "alpha") + "---" + APP.replace("NAME", "beta"))
    engine.write("ingress.yaml", INGRESS)
    wait_for(lambda: engine.running_ready("app=alpha", 1) and engine.running_ready("app=beta", 1), 90,
             what="alpha and beta ready")


def test_host_path_routing_404_503_and_forwarded_headers(engine):
    http, _ = ports(engine)
    deploy_apps(engine)
    code, body = wait_for(lambda: (r := request(http, "alpha.test"))[0] == 200 and settled(engine) and r, 20,
                          what="alpha via ingress")
    assert body.startswith("alpha-")
    assert request(http, "ALPHA.test:80", "/anything/")[0] in (200, 404)  # host match ignores case and port
    code, body = wait_for(lambda: (r := request(http, "beta.test", "/b/"))[0] in (200, 404) and settled(engine)
                          and r, 10, what="beta answering")
    assert request(http, "beta.test", "/index.html")[1].startswith("beta-")   # Exact path
    assert request(http, "beta.test", "/")[0] == 404                          # no rule for /
    assert request(http, "beta.test", "/bb")[0] == 404                        # /b does not match /bb
    assert request(http, "nowhere.test")[0] == 404
    assert request(http, "empty.test")[0] == 503                              # Service without ready pods
    code, env = request(http, "alpha.test", "/cgi-bin/env", headers="X-Forwarded-For: 203.0.113.9\r\n")
    assert code == 200, env
    assert "HTTP_X_FORWARDED_FOR=203.0.113.9, 127.0.0.1" in env
    assert "HTTP_X_FORWARDED_PROTO=http" in env and "HTTP_X_REAL_IP=127.0.0.1" in env
    # a new host is live as soon as the file is saved
    engine.write("more.yaml", """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: more}
        spec:
          rules:
          - host: gamma.test
            http:
              paths:
              - {path: /, pathType: Prefix, backend: {service: {name: beta, port: {number: 80}}}}
        """)
    wait_for(lambda: request(http, "gamma.test")[1].startswith("beta-") and settled(engine), 10,
             what="new host routed")
    # a second Ingress claiming alpha.test/ loses to the older one, with a Warning Event
    engine.write("thief.yaml", """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: thief}
        spec:
          rules:
          - host: alpha.test
            http:
              paths:
              - {path: /, pathType: Prefix, backend: {service: {name: beta, port: {number: 80}}}}
        """)
    wait_for(lambda: [e for e in engine.client.list("Event", "default")
                      if e["involvedObject"]["name"] == "thief" and e["type"] == "Warning"], 10,
             what="conflict event on the newer Ingress")
    assert request(http, "alpha.test")[1].startswith("alpha-")


def test_tls_from_secret_with_sni_and_live_update(engine, tmp_path):
    from kubedeck.engine.proxy.tls import self_signed

    http, https = ports(engine)
    engine.write("apps.yaml", APP.replace("NAME", "alpha"))
    cert, key = self_signed("secure.test")
    secret = ("apiVersion: v1\nkind: Secret\nmetadata: {name: secure-tls}\ntype: kubernetes.io/tls\ndata:\n"
              f"  tls.crt: {base64.b64encode(cert).decode()}\n  tls.key: {base64.b64encode(key).decode()}\n")
    engine.write("ingress.yaml", """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: secure}
        spec:
          tls: [{hosts: [secure.test], secretName: secure-tls}]
          rules:
          - host: secure.test
            http:
              paths:
              - {path: /, pathType: Prefix, backend: {service: {name: alpha, port: {number: 80}}}}
        """)
    # no Secret yet: a Warning Event naming why, and the default certificate is served
    wait_for(lambda: [e for e in engine.client.list("Event", "default") if e["involvedObject"]["name"] == "secure"
                      and e["reason"] == "InvalidTLSSecret" and "not found" in e["message"]], 15,
             what="missing-secret warning")
    wait_for(lambda: engine.running_ready("app=alpha", 1), 90, what="alpha ready")
    (tmp_path / "ca.pem").write_bytes(cert)
    ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    try:
        request(https, "secure.test", tls=ctx)
        raise AssertionError("the default certificate must not verify as secure.test")
    except ssl.SSLCertVerificationError:
        pass
    engine.write("secret.yaml", secret)
    code, body = wait_for(lambda: (r := request(https, "secure.test", tls=ctx))[0] == 200 and settled(engine) and r,
                          20, what="HTTPS with the Secret's certificate")
    assert body.startswith("alpha-")
    code, env = request(https, "secure.test", "/cgi-bin/env", tls=ctx)
    assert "HTTP_X_FORWARDED_PROTO=https" in env
    assert request(http, "secure.test")[0] == 200  # HTTP keeps working
    # rotating the Secret takes effect on the next handshake
    cert2, key2 = self_signed("secure.test")
    engine.write("secret.yaml", secret.replace(base64.b64encode(cert).decode(), base64.b64encode(cert2).decode())
                 .replace(base64.b64encode(key).decode(), base64.b64encode(key2).decode()))
    (tmp_path / "ca2.pem").write_bytes(cert2)
    ctx2 = ssl.create_default_context(cafile=str(tmp_path / "ca2.pem"))
    wait_for(lambda: request(https, "secure.test", tls=ctx2)[0] == 200, 15, what="rotated certificate served")


def test_websocket_upgrade_is_spliced(engine):
    """A selector-less Service with hand-made Endpoints pointing at a WebSocket echo
    server in this test process (the engine runs on this host, so 127.0.0.1 works)."""
    from aiohttp import WSMsgType, web

    loop = asyncio.new_event_loop()
    started = threading.Event()
    state = {}

    async def ws(req):
        sock = web.WebSocketResponse()
        await sock.prepare(req)
        async for msg in sock:
            if msg.type == WSMsgType.TEXT:
                await sock.send_str(f"echo {msg.data} via {req.headers.get('X-Forwarded-For')}")
        return sock

    async def serve():
        app = web.Application()
        app.router.add_get("/ws", ws)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["port"], state["runner"] = site._server.sockets[0].getsockname()[1], runner
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True)
    thread.start()
    started.wait(10)
    http, _ = ports(engine)
    engine.write("ws.yaml", f"""
        apiVersion: v1
        kind: Service
        metadata: {{name: echo}}
        spec:
          ports: [{{name: ws, port: 80}}]
        ---
        apiVersion: v1
        kind: Endpoints
        metadata: {{name: echo}}
        subsets:
        - addresses: [{{ip: 127.0.0.1}}]
          ports: [{{name: ws, port: {state['port']}}}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {{name: echo}}
        spec:
          rules:
          - host: ws.test
            http:
              paths:
              - {{path: /ws, pathType: Prefix, backend: {{service: {{name: echo, port: {{name: ws}}}}}}}}
        """)

    async def client():
        import aiohttp

        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(f"http://127.0.0.1:{http}/ws", headers={"Host": "ws.test"}) as sock:
                out = []
                for word in ("one", "two"):
                    await sock.send_str(word)
                    out.append((await sock.receive(timeout=5)).data)
                return out

    try:
        got = wait_for(lambda: asyncio.run(client()), 20, interval=0.3, what="websocket echo through the ingress")
        assert got == ["echo one via 127.0.0.1", "echo two via 127.0.0.1"]
    finally:
        asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)


def test_ingress_status_and_get_show_where_to_connect(engine):
    engine.write("ing.yaml", """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: show}
spec:
  ingressClassName: kubedeck
  rules:
  - host: show.localtest.me
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: nothing, port: {number: 80}}}}
""")
    http_port = int(engine.client.status()["ingress"]["http"].rsplit(":", 1)[1])
    lb = wait_for(lambda: (engine.client.get("Ingress", "default", "show").get("status") or {}).get("loadBalancer"),
                  10, what="status.loadBalancer")
    assert lb["ingress"][0]["ip"] == "127.0.0.1" and http_port in [p["port"] for p in lb["ingress"][0]["ports"]]
    head, line = engine.cli("get", "ingress").stdout.splitlines()[:2]
    assert head.split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]  # kubectl's columns
    assert line.split()[2:5] == ["show.localtest.me", "127.0.0.1", "80"]


def test_idle_clients_a_slow_client_and_a_resetting_backend(engine):
    """Faults at the Ingress: 1,000 idle client connections and a client that sends its
    request byte by byte do not stop service; a backend that resets every connection is
    a 502 and the proxy goes on serving. The backends are sockets in this process behind
    selector-less Services with hand-made Endpoints."""
    import http.server
    import struct

    class Hello(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args):
            pass

    good = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=good.serve_forever, daemon=True).start()
    resetter = socket.socket()
    resetter.bind(("127.0.0.1", 0))
    resetter.listen(16)

    def reset_all():
        while True:
            try:
                conn, _ = resetter.accept()
            except OSError:
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.recv(65536)
            conn.close()  # RST, not FIN
    threading.Thread(target=reset_all, daemon=True).start()

    def backend(name: str, port: int) -> str:
        return f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  ports: [{{name: http, port: 80}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: {name}}}
subsets:
- addresses: [{{ip: 127.0.0.1}}]
  ports: [{{name: http, port: {port}}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: {name}}}
spec:
  rules:
  - host: {name}.test
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: {name}, port: {{number: 80}}}}}}}}
"""
    http_port, _ = ports(engine)
    engine.write("faults.yaml", backend("good", good.server_address[1]) + "---" +
                 backend("reset", resetter.getsockname()[1]))
    idle = []
    try:
        wait_for(lambda: request(http_port, "good.test") == (200, "hello") and settled(engine), 20,
                 what="good backend via ingress")
        for _ in range(1000):
            idle.append(socket.create_connection(("127.0.0.1", http_port), timeout=5))
        assert request(http_port, "good.test") == (200, "hello")  # still served with 1,000 idle clients
        data = trickle(http_port, b"GET / HTTP/1.1\r\nHost: good.test\r\nConnection: close\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"hello")
        assert request(http_port, "reset.test")[0] == 502
        assert request(http_port, "good.test") == (200, "hello")  # and the proxy goes on
        assert engine.client.status()["proxyWorker"]["restarts"] == 0
    finally:
        for s in idle:
            s.close()
        resetter.close()
        good.shutdown()


def test_nginx_serves_the_ingress_when_the_host_has_it(engine):
    """`--ingress-proxy auto` (the default): the host's nginx, as ingress-nginx; kubedeck's
    Python worker only without one (test_ingress_python.py runs these tests on it)."""
    from kubedeck.engine.proxy.ingress_nginx import find_nginx

    binary, why = find_nginx("auto")
    st = engine.client.status()["ingress"]
    if binary is None:
        assert st["dataPath"] == why
        return
    assert st["dataPath"].startswith("nginx ") and st["restarts"] == 0, st
    master = st["nginxPid"]
    with open(f"/proc/{master}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0].startswith(b"nginx: master process")
