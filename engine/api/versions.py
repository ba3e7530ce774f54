"""A kind served at a version other than the stored one (`OTHER_VERSIONS` in
engine/manifests/kinds.py): HorizontalPodAutoscaler at autoscaling/v1 beside the stored
autoscaling/v2, which kubectl before 1.33 uses for `kubectl autoscale`.

Requests at such a version are converted and handed to the stored version's handlers:
bodies in (create, replace; a patch is applied to the object as that version shows it),
answers out (get, list, the writes' results). A watch at such a version is refused with a
pointer to the stored one, which kubectl's `get -w` uses anyway (the preferred version).

The conversion is Kubernetes' own: v1 holds the CPU target
(`targetCPUUtilizationPercentage`) and its current value; the rest of v2 (other metrics,
`behavior`, conditions) travels in the `autoscaling.alpha.kubernetes.io/*` annotations, so
an object read at v1 and written back loses nothing.
"""

from __future__ import annotations

import dataclasses
import gzip
import json

from aiohttp import web

from ..manifests.kinds import KINDS
from ..paths import Target
from ..store import StoreError
from .patches import apply_patch
from .writes import APPLY_PATCH, read_body

METRICS, CURRENT = "autoscaling.alpha.kubernetes.io/metrics", "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS, BEHAVIOR = "autoscaling.alpha.kubernetes.io/conditions", "autoscaling.alpha.kubernetes.io/behavior"


def _is_cpu(m: dict) -> bool:
    resource = m.get("resource") or {}
    return m.get("type") == "Resource" and resource.get("name") == "cpu" and \
        (resource.get("target") or {}).get("type", "Utilization") == "Utilization"


def hpa_to_v1(obj: dict) -> dict:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    meta = {**obj["metadata"], "annotations": dict(obj["metadata"].get("annotations") or {})}
    metrics = spec.get("metrics") or []
    cpu = next((m for m in metrics if _is_cpu(m)), None)
    extra = {METRICS: [m for m in metrics if m is not cpu], BEHAVIOR: spec.get("behavior"),
             CONDITIONS: status.get("conditions"),
             CURRENT: [m for m in status.get("currentMetrics") or [] if (m.get("resource") or {}).get("name") != "cpu"]}
    meta["annotations"].update({k: json.dumps(v, separators=(",", ":")) for k, v in extra.items() if v})
    if not meta["annotations"]:
        meta.pop("annotations")
    v1_spec = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec}
    if cpu is not None:
        v1_spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"].get("averageUtilization")
    v1_status = {k: status[k] for k in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas")
                 if k in status}
    for m in status.get("currentMetrics") or []:
        if (m.get("resource") or {}).get("name") == "cpu" and "averageUtilization" in m["resource"].get("current", {}):
            v1_status["currentCPUUtilizationPercentage"] = m["resource"]["current"]["averageUtilization"]
    out = {**obj, "apiVersion": "autoscaling/v1", "metadata": meta, "spec": v1_spec}
    if status:
        out["status"] = {"currentReplicas": 0, "desiredReplicas": 0, **v1_status}
    return out


def hpa_from_v1(obj: dict) -> dict:
    spec = dict(obj.get("spec") or {})
    annotations = dict(obj.get("metadata", {}).get("annotations") or {})
    extra = {k: _loads(annotations.pop(k, None)) for k in (METRICS, CURRENT, CONDITIONS, BEHAVIOR)}
    metrics = []
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if target is not None:
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": target}}})
    metrics += extra[METRICS] or []
    if metrics:
        spec["metrics"] = metrics
    if extra[BEHAVIOR]:
        spec["behavior"] = extra[BEHAVIOR]
    meta = {**obj.get("metadata", {}), "annotations": annotations}
    if not annotations:
        meta.pop("annotations")
    out = {**obj, "apiVersion": "autoscaling/v2", "metadata": meta, "spec": spec}
    status = dict(obj.get("status") or {})
    if status:
        cpu = status.pop("currentCPUUtilizationPercentage", None)
        current = ([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu}}}]
                   if cpu is not None else []) + (extra[CURRENT] or [])
        out["status"] = {**status, **({"currentMetrics": current} if current else {}),
                         **({"conditions": extra[CONDITIONS]} if extra[CONDITIONS] else {})}
    return out


def _loads(text: str | None):
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


CONVERT = {("HorizontalPodAutoscaler", "autoscaling/v1"): (hpa_to_v1, hpa_from_v1)}


class OtherVersions:
    """The handlers for a request at a converted version; `reads`/`writes` are the API's."""

    def __init__(self, reads, writes):
        self.reads, self.writes = reads, writes

    async def handle(self, request: web.Request, t: Target, ns: str) -> web.StreamResponse:
        to_version, from_version = CONVERT[(t.kind, t.group_version)]
        stored = dataclasses.replace(t, group_version=KINDS[t.kind].api_version)
        m = request.method
        if t.subresource is not None:
            raise StoreError(404, "NotFound", f"the server could not find the requested resource ({request.path})")
        if m == "GET" and request.query.get("watch") in ("1", "true"):
            raise StoreError(405, "MethodNotAllowed", f"watch {t.kind} at {stored.group_version}, the stored version")
        if t.name is None:
            if m == "GET":
                resp = self.reads.list(request, stored)
            elif m == "POST":
                resp = await self.writes.create(request, stored, body=from_version(await read_body(request)))
            elif m == "DELETE":
                resp = await self.writes.delete_collection(request, stored, self.reads.selection(request, stored))
            else:
                raise StoreError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        elif m == "GET":
            resp = self.reads.get(request, stored, ns)
        elif m == "PUT":
            resp = await self.writes.replace(request, stored, ns, body=from_version(await read_body(request)))
        elif m == "PATCH":
            if request.headers.get("Content-Type", "").split(";")[0].strip() == APPLY_PATCH:
                raise StoreError(415, "UnsupportedMediaType", f"server-side apply of {t.kind} at "
                                 f"{stored.group_version}, the stored version")
            patched = apply_patch(to_version(self.writes._live(stored, ns)), await request.read(), content_type=request.headers.get(
                "Content-Type", ""), api_version=t.group_version, kind=t.kind)
            resp = await self.writes.replace(request, stored, ns, body=from_version(patched))
        elif m == "DELETE":
            resp = await self.writes.delete(request, stored, ns)
        else:
            raise StoreError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        return _converted(resp, t, to_version)


def _converted(resp: web.Response, t: Target, to_version) -> web.Response:
    """The stored version's answer as `t`'s version shows it (a Table or a Status as is)."""
    raw = resp.body or b""
    if resp.headers.get("Content-Encoding") == "gzip":  # a large list's cached body (reads.py)
        raw = gzip.decompress(raw)
    body = json.loads(raw) if raw else None
    if not isinstance(body, dict):
        return resp
    if body.get("kind") == t.kind:
        body = to_version(body)
    elif body.get("kind") == f"{t.kind}List":
        body = {**body, "apiVersion": t.group_version, "items": [to_version(o) for o in body.get("items") or []]}
    else:
        return resp
    out = web.json_response(body, status=resp.status)
    for value in resp.headers.getall("Warning", []):
        out.headers.add("Warning", value)
    return out
