"""Real kubectl binaries against kubedeck's OpenAPI documents, without Docker.

A small aiohttp app in the test serves /version, discovery (engine/api/discovery.py)
and the OpenAPI routes (engine/api/openapi.py) on 127.0.0.1, plain HTTP, no auth.
kubectl must explain fields from openapi v3 and run a client-side dry-run apply,
which downloads openapi v2 as protobuf. Each kubectl gets its own cache dir, so no
answer comes from a cache another run filled.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from aiohttp import web
from e2e_kit import kubectl_binaries
from kubedeck.engine.api import discovery, openapi

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        ports:
        - containerPort: 80
"""


def _reply(r: openapi.Reply) -> web.Response:
    return web.Response(status=r.status, body=r.body, headers=r.headers)


REQUESTS = web.AppKey("requests", list)


def _json(doc: dict):
    async def handler(request):
        return web.json_response(doc)
    return handler


def _app() -> web.Application:
    app = web.Application()
    app[REQUESTS] = []

    @web.middleware
    async def record(request, handler):
        app[REQUESTS].append((request.path, request.headers.get("Accept", "")))
        return await handler(request)

    app.middlewares.append(record)

    async def v2(request):
        return _reply(openapi.v2_reply(accept=request.headers.get("Accept", ""),
                                       if_none_match=request.headers.get("If-None-Match")))

    async def v3(request):
        r = openapi.v3_reply(request.match_info["path"], hash=request.query.get("hash"),
                             if_none_match=request.headers.get("If-None-Match"))
        if r is None:
            return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                      "reason": "NotFound", "code": 404}, status=404)
        return _reply(r)

    async def resources(request):
        m = request.match_info
        doc = discovery.resource_list(f"{m['group']}/{m['version']}" if "group" in m else m["version"])
        return web.json_response(doc) if doc else web.json_response({}, status=404)

    app.router.add_get("/version", _json({"major": "1", "minor": "30", "gitVersion": "v1.30.0"}))
    app.router.add_get("/api", _json(discovery.core_versions()))
    app.router.add_get("/apis", _json(discovery.api_groups()))
    app.router.add_get("/api/{version}", resources)
    app.router.add_get("/apis/{group}/{version}", resources)
    app.router.add_get("/openapi/v2", v2)
    app.router.add_get("/openapi/v3", _json(openapi.v3_index()))
    app.router.add_get("/openapi/v3/{path:.+}", v3)
    return app


@pytest.fixture
async def server():
    app = _app()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield app, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def _kubectl(binary: str, url: str, tmp: Path, *args: str) -> str:
    home = tmp / Path(binary).name
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "KUBECONFIG": str(home / "none")}
    proc = await asyncio.create_subprocess_exec(
        binary, "--server", url, "--cache-dir", str(home / "cache"), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, f"{binary} {' '.join(args)} exited {proc.returncode}: {err.decode()}"
    return out.decode()


@pytest.mark.parametrize("which", [0, 1], ids=["kubectl-1.33", "kubectl-1.27"])
async def test_explain_and_client_dry_run_apply(server, tmp_path, which):
    app, url = server
    binary = kubectl_binaries()[which]

    manifest = tmp_path / "deployment.yaml"
    manifest.write_text(DEPLOYMENT)
    applied = await _kubectl(binary, url, tmp_path, "apply", "--dry-run=client", "-f", str(manifest), "-o", "yaml")
    assert "kind: Deployment" in applied and "name: web" in applied
    assert "kubectl.kubernetes.io/last-applied-configuration" in applied
    # first run on an empty cache: the fieldValidation check read the group's v3 document
    assert any(path == "/openapi/v3/apis/apps/v1" for path, _ in app[REQUESTS])

    containers = await _kubectl(binary, url, tmp_path, "explain", "pods.spec.containers")
    assert "KIND:" in containers and "Pod" in containers
    assert "image" in containers and "livenessProbe" in containers
    assert "List of containers belonging to the pod" in containers

    strategy = await _kubectl(binary, url, tmp_path, "explain", "deployment.spec.strategy")
    assert "rollingUpdate" in strategy and "DeploymentStrategy" in strategy

    # kubectl 1.27 reads openapi v2 during apply; newer ones only when asked for it
    v2_explain = await _kubectl(binary, url, tmp_path, "explain", "deployment.spec.strategy",
                                "--output", "plaintext-openapiv2")
    assert "RESOURCE: strategy <Object>" in v2_explain and "rollingUpdate" in v2_explain
    v2 = [accept for path, accept in app[REQUESTS] if path == "/openapi/v2"]
    assert v2, "kubectl never fetched /openapi/v2"
    assert all("protobuf" in accept for accept in v2), v2
