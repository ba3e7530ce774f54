"""The API's write verbs: create, replace, patch (JSON, merge, strategic merge, server-side
apply), delete and the scale subresource.

Each takes the request's options as the API server does:
- `dryRun=All`: admission and every check run, nothing is stored, the would-be object is
  returned;
- `fieldValidation`: unknown fields are a 400 (Strict), or dropped with a `Warning`
  header each (Warn, the default) or silently (Ignore);
- `fieldManager`: who made the change; it is recorded in `managedFields` (server-side
  apply uses it to find conflicts; engine/api/ssa.py);
- preconditions: a `metadata.resourceVersion` in a PUT or PATCH body, or
  `preconditions` in DeleteOptions, must match the live object (409 otherwise);
- `propagationPolicy` and `gracePeriodSeconds` from the query or a DeleteOptions body,
  which is where kubectl sends them; the same for a collection's DELETE (deletecollection,
  with the list's selectors).
"""

from __future__ import annotations

import copy
import json
import uuid

import yaml
from aiohttp import web

from ..objects import ObjectService, prepare_create, prepare_update
from . import protobuf
from ..store import StoreError, fold_string_data, now_iso
from .patches import apply_patch
from ..paths import Target
from ..fieldmanager.ssa import default_manager, track_update

APPLY_PATCH = "application/apply-patch+yaml"


def _dry(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise StoreError(400, "BadRequest", f'dryRun: Unsupported value: "{v}": supported values: "All"')
    return bool(values)


def _field_validation(request: web.Request) -> str:
    """The `fieldValidation` query: Strict (kubectl sends it), Warn (the server's default),
    Ignore. What Warn drops comes back as `Warning` headers, which kubectl prints."""
    mode = request.query.get("fieldValidation") or "Warn"
    if mode not in ("Strict", "Warn", "Ignore"):
        raise StoreError(400, "BadRequest", f'fieldValidation: Unsupported value: "{mode}": '
                         'supported values: "Ignore", "Strict", "Warn"')
    return mode


def _warned(resp: web.Response, warnings: list[str]) -> web.Response:
    for w in warnings:  # RFC 7234's 299 "miscellaneous persistent warning", as the API server;
        # the text as a JSON string, a valid quoted-string in ASCII: a field name may hold
        # control characters, which a header may not
        resp.headers.add("Warning", "299 - " + json.dumps(w))
    return resp


def _manager(request: web.Request) -> str:
    return request.query.get("fieldManager") or default_manager(request.headers.get("User-Agent", ""))


def _tracked(request: web.Request, t: Target, old: dict | None, new: dict, subresource: str = "") -> dict:
    """`new` with its managedFields: the request's field manager owns what it changed."""
    return track_update(old, new, manager=_manager(request), subresource=subresource,
                        api_version=new.get("apiVersion") or t.group_version, kind=t.kind)


async def read_body(request: web.Request) -> dict:
    raw = await request.read()
    ctype = request.headers.get("Content-Type", "application/json").split(";")[0].strip()
    if ctype == protobuf.CONTENT_TYPE:  # kubectl 1.32+'s typed writes (create ...)
        return protobuf.decode(raw)  # the descriptors load on the first protobuf body
    try:
        body = yaml.safe_load(raw) if ctype.endswith("yaml") else json.loads(raw or b"null")
    except (ValueError, yaml.YAMLError) as e:
        raise StoreError(400, "BadRequest", f"the object provided is not valid {ctype}: {e}") from None
    if not isinstance(body, dict):
        raise StoreError(400, "BadRequest", "the request body must be an object")
    return body


def fill_target(t: Target, body: dict) -> None:
    """Kind, apiVersion, namespace and name from the URL where the body leaves them out;
    a body that names another object than the URL is a 400, as on the API server."""
    body.setdefault("kind", t.kind)
    body.setdefault("apiVersion", t.group_version)
    meta = body.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise StoreError(400, "BadRequest", "metadata must be an object")
    if t.namespaced:
        ns = t.namespace or "default"
        if meta.setdefault("namespace", ns) != ns:
            raise StoreError(400, "BadRequest", "the namespace of the provided object does not match "
                                                "the namespace sent on the request")
    if t.name:
        if meta.setdefault("name", t.name) != t.name:
            raise StoreError(400, "BadRequest", "the name of the object "
                                                f"({meta['name']}) does not match the name on the URL ({t.name})")


class Writes:
    def __init__(self, objects: ObjectService) -> None:
        self.objects = objects
        self.store = objects.store

    def _live(self, t: Target, ns: str) -> dict:
        obj = self.store.get(t.kind, ns, t.name)
        if obj is None:
            raise StoreError.not_found(t.kind, t.name)
        return obj

    async def create(self, request: web.Request, t: Target, *, body: dict | None = None) -> web.Response:
        """POST; `body`: the request's, read already (and converted: api/versions.py)."""
        body = await read_body(request) if body is None else body
        fill_target(t, body)
        warnings = self.objects.admit(body, _field_validation(request))
        body = _tracked(request, t, None, body)
        if _dry(request):
            return _warned(web.json_response(self._dry_create(body), status=201), warnings)
        return _warned(web.json_response(self.store.create(prepare_create(body)), status=201), warnings)

    def _dry_create(self, obj: dict) -> dict:
        fold_string_data(obj)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if self.store.peek(obj["kind"], meta.get("namespace", ""), meta.get("name", "")):
            raise StoreError.already_exists(obj["kind"], meta["name"])
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now_iso(), generation=1)
        return obj

    async def replace(self, request: web.Request, t: Target, ns: str, *, body: dict | None = None) -> web.Response:
        body = await read_body(request) if body is None else body
        fill_target(t, body)
        if t.subresource == "status":
            if _dry(request):
                return web.json_response({**self._live(t, ns), "status": body.get("status") or {}})
            out = self.store.update_status(t.kind, ns, t.name, body.get("status") or {})
            return web.json_response(out or self.store.get(t.kind, ns, t.name))
        warnings = self.objects.admit(body, _field_validation(request))
        live = self._live(t, ns)
        body = _tracked(request, t, live, prepare_update(body, live))
        if _dry(request):
            return _warned(web.json_response(self._dry_update(t, ns, body)), warnings)
        return _warned(web.json_response(self.store.update(body)), warnings)

    def _dry_update(self, t: Target, ns: str, new: dict) -> dict:
        live = self._live(t, ns)
        rv = new["metadata"].get("resourceVersion")
        if rv and rv != live["metadata"]["resourceVersion"]:
            raise StoreError.conflict(t.kind, t.name)
        for f in ("uid", "creationTimestamp", "resourceVersion", "generation"):
            if f in live["metadata"]:
                new["metadata"][f] = live["metadata"][f]
        return fold_string_data(new)

    async def patch(self, request: web.Request, t: Target, ns: str) -> web.Response:
        ctype = request.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip() == APPLY_PATCH:
            return await self.apply(request, t, ns)
        if "force" in request.query:
            raise StoreError(422, "Invalid", "force: Forbidden: may not be specified for non-apply patch")
        live = self._live(t, ns)
        new = apply_patch(live, await request.read(), content_type=ctype,
                          api_version=live.get("apiVersion", t.group_version), kind=t.kind)
        if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):  # patched into a string, a list...
            raise StoreError.invalid(t.kind, t.name, [("metadata", "Invalid value: must be an object")])
        want_rv = new["metadata"].get("resourceVersion")
        if want_rv and want_rv != live["metadata"]["resourceVersion"]:
            raise StoreError.conflict(t.kind, t.name)  # a precondition in the patch body
        for f in ("uid", "creationTimestamp", "namespace", "name"):
            if f in live["metadata"]:
                new["metadata"][f] = live["metadata"][f]
        if t.subresource == "status":
            if _dry(request):
                return web.json_response(new)
            out = self.store.update_status(t.kind, ns, t.name, new.get("status") or {})
            return web.json_response(out or self.store.get(t.kind, ns, t.name))
        warnings = self.objects.admit(new, _field_validation(request))
        new = _tracked(request, t, live, prepare_update(new, live))
        if _dry(request):  # what the write would store: a Secret's stringData folded into data
            return _warned(web.json_response(fold_string_data(new)), warnings)
        return _warned(web.json_response(self.store.update(new, check_rv=False)), warnings)

    async def apply(self, request: web.Request, t: Target, ns: str) -> web.Response:
        """Server-side apply (`application/apply-patch+yaml`): creates the object when it
        does not exist; a field another manager owns is a 409 unless `force=true`."""
        manager = request.query.get("fieldManager")
        if not manager:
            raise StoreError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                             "is required for apply patch", {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                                 {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch",
                                  "field": "fieldManager"}]})
        config = await read_body(request)
        fill_target(t, config)
        if not config.get("apiVersion"):
            config["apiVersion"] = t.group_version
        dry = _dry(request)
        # an apply configuration is partial: only its unknown fields are checked before the merge
        warnings = self.objects.unknown_fields(config, _field_validation(request))
        out, created = self.objects.apply(config, manager=manager, force=request.query.get("force") == "true",
                                          dry_run=dry)
        if dry and created:
            out = self._dry_create(out)
        return _warned(web.json_response(out, status=201 if created else 200), warnings)

    async def _delete_options(self, request: web.Request) -> tuple[dict, int | None, str | None]:
        """DeleteOptions from the body and the query (kubectl sends a body): (body, grace,
        propagation)."""
        opts = await read_body(request) if request.can_read_body else {}
        q = request.query
        grace = q.get("gracePeriodSeconds", opts.get("gracePeriodSeconds"))
        propagation = q.get("propagationPolicy", opts.get("propagationPolicy"))
        if propagation not in (None, "Foreground", "Background", "Orphan"):
            raise StoreError(422, "Invalid", f'propagationPolicy: Unsupported value: "{propagation}": '
                                             'supported values: "Foreground", "Background", "Orphan"')
        return opts or {}, int(grace) if grace is not None else None, propagation

    async def delete_collection(self, request: web.Request, t: Target, selected: list[dict]) -> web.Response:
        """DELETE on a collection (client-go's DeleteCollection): each object the list's
        selectors give is deleted as by its own DELETE; the answer lists them."""
        if t.kind == "Namespace":
            raise StoreError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        opts, grace, propagation = await self._delete_options(request)
        items = []
        for obj in selected:
            meta = obj["metadata"]
            if _dry(request) or "All" in (opts.get("dryRun") or []):
                items.append(obj)
                continue
            try:
                items.append(self.objects.delete(t.kind, meta.get("namespace", ""), meta["name"], grace=grace,
                                                 propagation=propagation))
            except StoreError as e:
                if e.code != 404:  # deleted meanwhile: not in the answer
                    raise
        return web.json_response({"kind": f"{t.kind}List", "apiVersion": t.group_version,
                                  "metadata": {"resourceVersion": str(self.store.rv)}, "items": items})

    async def delete(self, request: web.Request, t: Target, ns: str) -> web.Response:
        opts, grace, propagation = await self._delete_options(request)
        live = self._live(t, ns)
        pre = opts.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != live["metadata"]["uid"]:
            raise StoreError(409, "Conflict", f'Precondition failed: UID in precondition: {pre["uid"]}, '
                                              f'UID in object meta: {live["metadata"]["uid"]}')
        if pre.get("resourceVersion") and pre["resourceVersion"] != live["metadata"]["resourceVersion"]:
            raise StoreError.conflict(t.kind, t.name)
        if _dry(request) or "All" in (opts.get("dryRun") or []):
            return web.json_response(live)
        out = self.objects.delete(t.kind, ns, t.name, grace=grace, propagation=propagation)
        return web.json_response(out)

    async def scale(self, request: web.Request, t: Target) -> web.Response:
        ns = t.namespace or "default"
        obj = self._live(t, ns)
        if request.method != "GET":
            if request.method == "PATCH":
                scale = apply_patch(_scale_of(obj), await request.read(),
                                    content_type=request.headers.get("Content-Type", ""),
                                    api_version="autoscaling/v1", kind="Scale")
            else:
                scale = await read_body(request)
            spec = scale.get("spec") if isinstance(scale, dict) else None
            if not isinstance(spec, dict):  # a patch that made it a string, a list...
                raise StoreError.invalid("Scale", t.name, [("spec", "Invalid value: must be an object")])
            replicas = spec.get("replicas", obj["spec"].get("replicas", 1))
            if not isinstance(replicas, int) or replicas < 0:
                raise StoreError.invalid(t.kind, t.name, [("spec.replicas", f"Invalid value: {replicas!r}: "
                                                          "must be greater than or equal to 0")])
            new = copy.deepcopy(obj)
            new["spec"]["replicas"] = replicas
            obj = _tracked(request, t, obj, new, subresource="scale")
            if not _dry(request):
                obj = self.store.update(obj, check_rv=False)
        return web.json_response(_scale_of(obj))


def _scale_of(obj: dict) -> dict:
    meta = obj["metadata"]
    sel = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": meta["name"], "namespace": meta.get("namespace"), "uid": meta.get("uid"),
                         "resourceVersion": meta.get("resourceVersion"),
                         "creationTimestamp": meta.get("creationTimestamp")},
            "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": ",".join(f"{k}={v}" for k, v in sorted(sel.items()))}}
