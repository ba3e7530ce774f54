"""The API server's review APIs: POSTs that store nothing and answer about the caller.

kubedeck has one user, the bearer token of its kubeconfig, with every right (README: no
RBAC), so the answers say so:
- `authorization.k8s.io/v1` SelfSubjectAccessReview (`kubectl auth can-i VERB RESOURCE`):
  allowed; SelfSubjectRulesReview (`kubectl auth can-i --list`): every verb on every
  resource and non-resource URL;
- `authentication.k8s.io/v1` SelfSubjectReview (`kubectl auth whoami`): that user, in the
  `system:masters` group, as a cluster-admin client certificate would be; or the service
  account whose token (`kubectl create token`, tokens.py) the request carries.

The reply is the request with its `status` filled in, as the API server returns it.
kubectl 1.32+ sends these bodies as protobuf (writes.read_body decodes them).

Wiring (server.py, discovery.py): `install(app)`, and `api_groups()`,
`aggregated_groups()`, `resource_list(gv)` into discovery.
"""

from __future__ import annotations

from aiohttp import web

from ..store import StoreError
from .writes import read_body

#: the kubeconfig's user: (username, groups); a service account token's user is its
#: account (tokens.py), set on the request by the API's authentication
ADMIN = ("kubedeck-admin", ["system:masters", "system:authenticated"])
USER = web.RequestKey("user", tuple)  # where the API's authentication puts the caller
REASON = "kubedeck has one user, with every right (no RBAC)"
#: group -> version, [(resource, kind)]
REVIEWS = {
    "authorization.k8s.io": ("v1", [("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
                                    ("selfsubjectrulesreviews", "SelfSubjectRulesReview")]),
    "authentication.k8s.io": ("v1", [("selfsubjectreviews", "SelfSubjectReview")]),
}


def _status(kind: str, user: tuple[str, list[str]]) -> dict:
    if kind == "SelfSubjectAccessReview":
        return {"allowed": True, "reason": REASON}
    if kind == "SelfSubjectRulesReview":
        return {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": False}
    return {"userInfo": {"username": user[0], "groups": user[1]}}


def _handler(group: str, version: str, kind: str):
    async def review(request: web.Request) -> web.Response:
        body = await read_body(request)
        if body.get("kind", kind) != kind or body.get("apiVersion", f"{group}/{version}") != f"{group}/{version}":
            raise StoreError(400, "BadRequest", f"expected {kind} of {group}/{version}, got "
                             f"{body.get('kind')} of {body.get('apiVersion')}")
        out = {**body, "kind": kind, "apiVersion": f"{group}/{version}",
               "metadata": {**(body.get("metadata") or {}), "creationTimestamp": None},
               "status": _status(kind, request.get(USER, ADMIN))}
        out.setdefault("spec", {})
        return web.json_response(out, status=201)
    return review


def install(app: web.Application) -> None:
    for group, (version, resources) in REVIEWS.items():
        for plural, kind in resources:
            app.router.add_post(f"/apis/{group}/{version}/{plural}", _handler(group, version, kind))


def api_groups() -> list[dict]:
    out = []
    for group, (version, _) in REVIEWS.items():
        v = {"groupVersion": f"{group}/{version}", "version": version}
        out.append({"name": group, "versions": [v], "preferredVersion": v})
    return out


def resource_list(group_version: str) -> dict | None:
    group, _, version = group_version.partition("/")
    if REVIEWS.get(group, ("",))[0] != version:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": [{"name": plural, "singularName": kind.lower(), "namespaced": False, "kind": kind,
                           "verbs": ["create"]} for plural, kind in REVIEWS[group][1]]}


def aggregated_groups() -> list[dict]:
    return [{"metadata": {"name": group, "creationTimestamp": None},
             "versions": [{"version": version, "freshness": "Current", "resources": [
                 {"resource": plural, "responseKind": {"group": group, "version": version, "kind": kind},
                  "scope": "Cluster", "singularResource": kind.lower(), "verbs": ["create"]}
                 for plural, kind in resources]}]}
            for group, (version, resources) in REVIEWS.items()]
