"""Which resources a cluster serves: kind -> (plural, namespaced), as kubectl's RESTMapper.

Read from aggregated discovery (`/api` and `/apis` with the `apidiscovery.k8s.io/v2`
Accept header: two requests for the whole cluster, what kubectl 1.30 does), falling back
to the legacy documents per group-version (`/api/v1`, `/apis/G/V`) for servers without
it. A kind that is not found refreshes the picture once (a CRD applied a moment ago
becomes servable), then is an answer of None.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

AGGREGATED = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
REFRESH_AFTER = 1.0  # seconds: at most one refresh per second for kinds not (yet) served


@dataclass(frozen=True)
class Mapping:
    group_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.group_version.rpartition("/")[0]

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        return f"{base}/{self.plural}" + (f"/{name}" if name else "")


class Discovery:
    def __init__(self, http: httpx.AsyncClient):
        self.http = http
        self.by_gvk: dict[tuple[str, str], Mapping] = {}
        self.preferred: dict[str, str] = {}  # group -> preferred group/version
        self.aggregated = True
        self._loaded_at = 0.0

    async def refresh(self) -> None:
        self.by_gvk, self.preferred = {}, {}
        if self.aggregated:
            for root in ("/api", "/apis"):
                r = await self.http.get(root, headers={"Accept": AGGREGATED})
                r.raise_for_status()
                body = r.json()
                if body.get("kind") != "APIGroupDiscoveryList":
                    self.aggregated = False
                    break
                for item in body.get("items") or []:
                    group = (item.get("metadata") or {}).get("name", "")
                    for i, version in enumerate(item.get("versions") or []):
                        gv = f"{group}/{version['version']}" if group else version["version"]
                        if i == 0:
                            self.preferred[group] = gv
                        for res in version.get("resources") or []:
                            kind = (res.get("responseKind") or {}).get("kind")
                            if kind:
                                self._add(Mapping(gv, kind, res["resource"], res.get("scope") == "Namespaced"))
        if not self.aggregated:
            await self._legacy()
        self._loaded_at = time.monotonic()

    async def _legacy(self) -> None:
        gvs = ["v1"]
        self.preferred[""] = "v1"
        r = await self.http.get("/apis")
        r.raise_for_status()
        for group in r.json().get("groups") or []:
            self.preferred[group["name"]] = group["preferredVersion"]["groupVersion"]
            gvs += [v["groupVersion"] for v in group.get("versions") or []]
        for gv in gvs:
            r = await self.http.get("/api/v1" if gv == "v1" else f"/apis/{gv}")
            if r.status_code >= 400:
                continue  # an aggregated API that is down: its kinds are simply not served now
            for res in r.json().get("resources") or []:
                if "/" not in res["name"]:
                    self._add(Mapping(gv, res["kind"], res["name"], bool(res.get("namespaced"))))

    def _add(self, m: Mapping) -> None:
        self.by_gvk.setdefault((m.group_version, m.kind), m)

    async def _lookup(self, find):
        if not self._loaded_at:
            await self.refresh()
        found = find()
        if found is None and time.monotonic() - self._loaded_at > REFRESH_AFTER:
            await self.refresh()
            found = find()
        return found

    async def mapping(self, api_version: str, kind: str) -> Mapping | None:
        return await self._lookup(lambda: self.by_gvk.get((api_version, kind)))

    async def for_group_kind(self, group: str, kind: str) -> Mapping | None:
        """The preferred version's mapping of a group-kind (what an ApplySet records)."""
        def find():
            pref = self.by_gvk.get((self.preferred.get(group, ""), kind))
            return pref or next((m for (gv, k), m in self.by_gvk.items() if k == kind and m.group == group), None)
        return await self._lookup(find)

    def kinds(self) -> set[tuple[str, str]]:
        """(group/version, kind) and (group, kind) of everything served, for validation."""
        return {(gv, k) for gv, k in self.by_gvk} | {(m.group, m.kind) for m in self.by_gvk.values()}
