"""The engine API: Kubernetes-shaped REST over aiohttp, bound to 127.0.0.1.

Handlers stay thin: parse the path into a Target, call the store, map StoreError to a
Kubernetes `Status`. Watches are chunked JSON lines, one `{"type", "object"}` per line,
exactly as the Kubernetes API streams them, so kubectl-style clients can follow them.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import TYPE_CHECKING, Callable

from aiohttp import web

from ..extras import extras_refused
from ..store import StoreError
from . import discovery, review_api
from .activity_api import ActivityApi
from .metrics_api import MetricsApi
from .patch_error import PatchError
from ..manifests.kinds import KINDS
from ..paths import BadPath, parse_path
from .reads import Reads
from .status import fail
from .streams import Streams
from .tokens import Tokens
from .versions import OtherVersions
from .writes import Writes, read_body

if TYPE_CHECKING:
    from ..objects import ObjectService
    from ..store import Store

VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-kubedeck", "platform": "linux/amd64"}
#: the API server\'s request body limit (3 MiB)
MAX_BODY = 3 * 1024 * 1024


def build_app(store: Store, objects: ObjectService, token: str, tokens: Tokens, *,
              kubelet: Callable[[], object | None], status: Callable[[], dict],
              sampler=None) -> web.Application:
    """The API over the store (reads, watches), the object service (every write) and
    the node's kubelet (logs, exec, attach, port-forward, metrics), which exists only once
    Docker is set up: `kubelet()` returns None until then. `status()` is kubedeck's own
    `/kubedeck/v1/status` document."""
    @web.middleware
    async def auth(request: web.Request, handler):
        if request.path in ("/healthz", "/livez", "/readyz"):
            return await handler(request)
        got = request.headers.get("Authorization", "")
        if hmac.compare_digest(got.encode(), f"Bearer {token}".encode()):
            request[review_api.USER] = review_api.ADMIN
        else:  # a service account's token (`kubectl create token`), or none
            user = tokens.user(got[7:]) if got.startswith("Bearer ") else None
            if user is None:
                return fail(401, "Unauthorized", "Unauthorized")
            request[review_api.USER] = user
        if extras_refused(request.path):  # a test aid: look like any other API server
            return fail(404, "NotFound", f"the server could not find the requested resource ({request.path})")
        try:
            return await handler(request)
        except (StoreError, PatchError) as e:
            return fail(e.code, e.reason, e.message, getattr(e, "details", None))
        except BadPath:
            return fail(404, "NotFound", f"the server could not find the requested resource ({request.path})")
        except (ValueError, json.JSONDecodeError) as e:
            return fail(400, "BadRequest", str(e))
        except RecursionError:
            return fail(400, "BadRequest", "the request body is nested too deeply")
        except web.HTTPRequestEntityTooLarge:
            return fail(413, "RequestEntityTooLarge", f"Request entity too large: limit is {MAX_BODY}")

    app = web.Application(middlewares=[auth], client_max_size=MAX_BODY)
    MetricsApi(store, kubelet, sampler=sampler).install(app)  # the sampler the HPA controller reads too
    review_api.install(app)  # kubectl auth can-i / whoami
    ActivityApi().install(app)  # /kubedeck/v1/activity: the x-ray's stream
    h = Handlers(store, objects, kubelet, status, tokens)
    for probe in ("/healthz", "/livez", "/readyz"):
        app.router.add_get(probe, _healthz)
    app.router.add_get("/version", _version)
    app.router.add_get("/kubedeck/v1/status", h.kubedeck_status)
    app.router.add_get("/openapi/v2", _openapi_v2)
    app.router.add_get("/openapi/v3", _openapi_v3_index)
    app.router.add_get("/openapi/v3/{path:.+}", _openapi_v3)
    app.router.add_get("/api", _discovery_core)
    app.router.add_get("/apis", _discovery_groups)
    app.router.add_get("/api/{version}", h.discover)
    app.router.add_get("/apis/{group}/{version}", h.discover)
    for prefix in ("/api/{rest:.*}", "/apis/{rest:.*}"):
        app.router.add_route("*", prefix, h.dispatch)
    return app


async def _healthz(request: web.Request) -> web.Response:
    """The API server's health endpoints; `?verbose` lists the checks, as it does (the store
    is kubedeck's etcd: the API answers only over an open store)."""
    if "verbose" not in request.query:
        return web.Response(text="ok")
    name = request.path.strip("/")
    return web.Response(text=f"[+]ping ok\n[+]etcd ok\n{name} check passed\n")


async def _version(request: web.Request) -> web.Response:
    return web.json_response(VERSION)


def _reply(reply) -> web.Response:
    return web.Response(status=reply.status, body=reply.body, headers=reply.headers)


# The OpenAPI documents (and protobuf) are imported on first use: most engines never serve them.
async def _openapi_v2(request: web.Request) -> web.Response:
    from . import openapi

    # the first build takes 0.1-0.4 s of CPU: off the loop
    return _reply(await asyncio.to_thread(openapi.v2_reply, accept=request.headers.get("Accept", ""),
                                          if_none_match=request.headers.get("If-None-Match")))


async def _openapi_v3_index(request: web.Request) -> web.Response:
    from . import openapi

    return web.json_response(await asyncio.to_thread(openapi.v3_index))


async def _openapi_v3(request: web.Request) -> web.Response:
    from . import openapi

    reply = await asyncio.to_thread(openapi.v3_reply, request.match_info["path"], hash=request.query.get("hash"),
                                    if_none_match=request.headers.get("If-None-Match"))
    if reply is None:
        return fail(404, "NotFound", f"the server could not find the requested resource ({request.path})")
    return _reply(reply)


async def _discovery_core(request: web.Request) -> web.Response:
    return _discovery_root(request, core=True)


async def _discovery_groups(request: web.Request) -> web.Response:
    return _discovery_root(request, core=False)


def _discovery_root(request: web.Request, *, core: bool) -> web.Response:
    """`/api` or `/apis`: aggregated discovery when the client asks for it (kubectl does)."""
    version = discovery.wants_aggregated(request.headers.get("Accept", ""))
    if version:
        return web.Response(body=json.dumps(discovery.aggregated(version, core=core)).encode(),
                            headers={"Content-Type": discovery.aggregated_content_type(version)})
    return web.json_response(discovery.core_versions() if core else discovery.api_groups())


class Handlers:
    def __init__(self, store: Store, objects: ObjectService, kubelet: Callable[[], object | None],
                 status: Callable[[], dict], tokens: Tokens):
        self.store = store
        self.status = status
        self.tokens = tokens
        self.streams = Streams(store, kubelet)
        self.writes = Writes(objects)
        self.reads = Reads(store)
        self.other_versions = OtherVersions(self.reads, self.writes)

    async def discover(self, request: web.Request) -> web.Response:
        m = request.match_info
        gv = f"{m['group']}/{m['version']}" if "group" in m else m["version"]
        doc = discovery.resource_list(gv)
        if doc is None:
            return fail(404, "NotFound", f"the server could not find the requested resource ({request.path})")
        return web.json_response(doc)

    async def kubedeck_status(self, request: web.Request) -> web.Response:
        return web.json_response(self.status())

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        t = parse_path(request.path)
        ns = t.namespace if t.namespaced else ""
        if t.kind == "Namespace" and t.namespace and not t.name:
            raise BadPath(request.path)
        m = request.method
        if t.subresource == "log" and t.kind == "Pod" and m == "GET":
            return await self.streams.logs(request, t)
        if t.subresource == "portforward" and t.kind == "Pod" and m in ("GET", "POST"):
            return await self.streams.portforward(request, t)
        if t.subresource == "exec" and t.kind == "Pod" and m in ("GET", "POST"):
            return await self.streams.exec(request, t)
        if t.subresource == "attach" and t.kind == "Pod" and m in ("GET", "POST"):
            return await self.streams.attach(request, t)
        if t.subresource == "scale" and m in ("GET", "PATCH", "PUT"):
            return await self.writes.scale(request, t)
        if t.subresource == "token" and t.kind == "ServiceAccount" and m == "POST":
            return web.json_response(self.tokens.request(ns, t.name, await read_body(request)), status=201)
        if t.subresource not in (None, "status"):
            raise BadPath(request.path)
        if t.group_version != KINDS[t.kind].api_version:  # autoscaling/v1 HPAs: converted
            return await self.other_versions.handle(request, t, ns)
        if t.name is None:
            if m == "GET":
                if request.query.get("watch") in ("1", "true"):
                    return await self.reads.watch(request, t)
                return self.reads.list(request, t)
            if m == "POST":
                return await self.writes.create(request, t)
            if m == "DELETE":
                return await self.writes.delete_collection(request, t, self.reads.selection(request, t))
            raise BadPath(request.path)
        if m == "GET":
            return self.reads.get(request, t, ns)
        if m == "PUT":
            return await self.writes.replace(request, t, ns)
        if m == "PATCH":
            return await self.writes.patch(request, t, ns)
        if m == "DELETE":
            return await self.writes.delete(request, t, ns)
        raise BadPath(request.path)
