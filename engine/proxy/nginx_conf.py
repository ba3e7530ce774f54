"""The Ingress route table written as an nginx configuration (the nginx data path).

Pure: a RouteTable, the ready endpoints of each backend and the certificate files in,
the text of nginx.conf out, so the translation is tested without nginx
(tests/unit/test_nginx_conf.py) and against it (tests/e2e/test_ingress_nginx_routes.py).

Why the translation is not one server block per Ingress rule: kubedeck's routing
(routing.py) tries the exact host's paths, then the `*.suffix` wildcard's, then the rules
without a host, then `defaultBackend`, and a host whose paths do not match falls through
to the next group. nginx picks one server block by name and then one location by
longest prefix, with no fall-through. So each server block gets every path of every
group that applies to its name, and each location's backend is decided here, by
kubedeck's own rules, for the requests that nginx sends to that location:
- `location = P` takes exactly the path P: its backend is what RouteTable would answer
  for P;
- `location P/` (and `location = P` when no Exact rule claims P) takes the paths under
  the prefix P and under no longer prefix of the block: none of them is an Exact path
  (those have their own location), so the answer is the first group's longest prefix
  match of P itself (`HostRoutes.prefix_match`);
- `location /` catches the rest: the groups' "/" prefix, else defaultBackend, else 404.

Local answers are the Python path's: text/plain "404 Not Found" for no rule, "503
Service Unavailable" for a backend without ready endpoints (or without its Service).
"""

from __future__ import annotations

import re

from .routing import Backend, HostRoutes, RouteTable

# Host names nginx may take as a server_name (Kubernetes validates Ingress hosts as DNS
# names; anything else is left out rather than allowed to break the configuration).
_HOST = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?")

# What every proxied location sends upstream: the Python path's headers (ingress_http.py).
PROXY = """\
        proxy_http_version 1.1;
        proxy_set_header Host $kd_host;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $kd_connection;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_set_header X-Forwarded-Port $server_port;
        proxy_next_upstream error timeout;
        proxy_buffering off;
        proxy_request_buffering off;
        proxy_connect_timeout 5s;
"""

HEAD = """\
# Written by kubedeck from the cluster's Ingresses; every change rewrites it.
daemon off;
worker_processes 1;
pid {pid};
error_log {log} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {tmp_body};
    proxy_temp_path {tmp_proxy};
    fastcgi_temp_path {tmp_fastcgi};
    uwsgi_temp_path {tmp_uwsgi};
    scgi_temp_path {tmp_scgi};
    client_max_body_size 0;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    server_names_hash_bucket_size 256;
    server_names_hash_max_size 65536;
    default_type text/plain;
    error_page 502 @kd_502;
    error_page 504 @kd_504;
    map $http_upgrade $kd_connection {{ default upgrade; "" ""; }}
    map $http_host $kd_host {{ default $http_host; "" localhost; }}
"""


def quote(s: str) -> str:
    """An nginx string literal: quoted, with its backslashes and quotes escaped."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _addr(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


class _Block:
    """One server block: the groups that apply to its names, in kubedeck's order."""

    def __init__(self, names: list[str], groups: list[HostRoutes], default: Backend | None,
                 cert: tuple[str, str] | None) -> None:
        self.names, self.groups, self.default, self.cert = names, groups, default, cert

    def exact_backend(self, path: str) -> Backend | None:
        for g in self.groups:
            b = g.match(path)
            if b is not None:
                return b
        return self.default

    def prefix_backend(self, prefix: str) -> Backend | None:
        for g in self.groups:
            b = g.prefix_match(prefix)
            if b is not None:
                return b
        return self.default

    def locations(self) -> list[tuple[str, Backend | None]]:
        """(location argument, backend) in a stable order."""
        exact = {p for g in self.groups for p in g.exact}
        prefixes = sorted({p for g in self.groups for p in g.prefix} - {""})
        out = [(f"= {quote(p)}", self.exact_backend(p)) for p in sorted(exact)]
        for p in prefixes:
            b = self.prefix_backend(p)
            if p not in exact:  # the prefix's own path, without the slash
                out.append((f"= {quote(p)}", b))
            out.append((quote(p + "/"), b))
        out.append(("/", self.prefix_backend("")))
        return out


def render(table: RouteTable, backends, listens: dict[str, str], work_dir: str,
           certs: dict[str, tuple[str, str]], default_cert: tuple[str, str] | None) -> str:
    """nginx.conf for `table`.

    - `backends(Backend)` -> ready (ip, port) list, or None when the Service or its port
      does not exist;
    - `listens`: scheme ("http", "https") -> "address:port" of the engine's listener
      (nginx takes the engine's socket; the address must be the bound one);
    - `certs`: TLS host (`*.x` for a wildcard) -> (certificate file, key file), only
      the hosts whose Secret loads; `default_cert` for every other name (None: no HTTPS).
    """
    blocks: list[_Block] = []
    wild_names = set(table.wildcards) | {h[2:] for h in certs if h.startswith("*.")}
    exact_names = set(table.exact_hosts) | {h for h in certs if not h.startswith("*.")}
    for host in sorted(h for h in exact_names if _HOST.fullmatch(h) and not h.startswith("*")):
        dot = host.find(".")
        suffix = host[dot + 1:] if dot > 0 else None
        groups = [g for g in (table.exact_hosts.get(host), table.wildcards.get(suffix) if suffix else None,
                              table.any_host) if g is not None]
        cert = certs.get(host) or (certs.get("*." + suffix) if suffix else None)
        blocks.append(_Block([host], groups, table.default, cert))
    for suffix in sorted(s for s in wild_names if _HOST.fullmatch(s)):
        groups = [g for g in (table.wildcards.get(suffix), table.any_host) if g is not None]
        # one DNS label before the suffix, as Kubernetes' wildcard means (nginx's own
        # `*.x` would match any number of labels)
        name = "~^[^.]+" + re.escape("." + suffix).replace("\\-", "-") + "$"
        blocks.append(_Block([quote(name)], groups, table.default, certs.get("*." + suffix)))
    blocks.append(_Block(['""', "_"], [table.any_host], table.default, None))

    https = "https" in listens and default_cert is not None
    upstreams: dict[Backend, tuple[str, list]] = {}  # backend -> (upstream name, its endpoints)
    servers: list[str] = []
    for i, block in enumerate(blocks):
        last = i == len(blocks) - 1
        lines = ["    server {"]
        for scheme, addr in listens.items():
            if scheme == "https" and not https:
                continue
            opts = (" ssl" if scheme == "https" else "") + (" default_server backlog=1024" if last else "")
            lines.append(f"        listen {addr}{opts};")
        lines.append(f"        server_name {' '.join(block.names)};")
        if https:
            crt, key = block.cert or default_cert
            lines += [f"        ssl_certificate {quote(crt)};", f"        ssl_certificate_key {quote(key)};"]
        for where, b in block.locations():
            lines.append(f"        location {where} {{ {_answer(b, backends, upstreams)} }}")
        lines += ["        location @kd_502 { return 502 \"502 Bad Gateway\\n\"; }",
                  "        location @kd_504 { return 504 \"504 Gateway Timeout\\n\"; }", "    }"]
        servers.append("\n".join(lines))
    files = {"pid": "nginx.pid", "log": "error.log", **{f"tmp_{t}": f"tmp/{t}" for t in
                                                        ("body", "proxy", "fastcgi", "uwsgi", "scgi")}}
    out = [HEAD.format(**{k: quote(f"{work_dir}/{v}") for k, v in files.items()})]
    if https:
        out.append("    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_session_cache shared:kd_ssl:1m;\n")
    out.append(PROXY.replace("        ", "    "))
    for b, (name, eps) in upstreams.items():
        servers_ = "".join(f"        server {_addr(ip, port)} max_fails=0;\n" for ip, port in eps)
        out.append(f"    upstream {name} {{  # {b.namespace}/{b.service} port {b.port or b.port_name}\n"
                   f"{servers_}        keepalive 256;\n        keepalive_timeout 30s;\n    }}\n")
    out.append("\n".join(servers))
    out.append("\n}\n")
    return "".join(out)


def _answer(b: Backend | None, backends, upstreams: dict[Backend, tuple[str, list]]) -> str:
    if b is None:
        return 'return 404 "404 Not Found\\n";'
    if b not in upstreams:
        eps = backends(b)
        if not eps:
            return 'return 503 "503 Service Unavailable\\n";'
        upstreams[b] = (f"kd_{len(upstreams) + 1}", eps)
    return f"proxy_pass http://{upstreams[b][0]};"
