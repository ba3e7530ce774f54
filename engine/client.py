"""A small synchronous client for the engine API, used by the CLI and tests.

It speaks only the Kubernetes-shaped REST API (see docs/ARCHITECTURE.md), so anything
the CLI does, a script can do too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import httpx

from .paths import path_for
from .kubeconnect import httpx_options
from .state import Connection, read_connection


class ApiError(Exception):
    def __init__(self, code: int, message: str, reason: str = ""):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


class NotRunning(Exception):
    pass


class Client:
    def __init__(self, conn: Connection, timeout: float = 30.0):
        self.url = conn.url
        self.conn = conn
        # any connection: an engine's (api.json) or a kubeconfig context's (kubeconnect.py)
        self.http = httpx.Client(timeout=timeout, **httpx_options(conn))

    @classmethod
    def for_state(cls, state: Path) -> "Client":
        data = read_connection(state)
        if not data:
            raise NotRunning(f"no kubedeck cluster is running for state dir {state} "
                             "(start one with `kubedeck serve DIR` or `kubedeck up DIR`)")
        conn = Connection.from_dict(data)
        client = cls(conn)
        try:
            client.http.get("/healthz", timeout=2)
        except httpx.HTTPError:
            client.close()  # callers may poll for_state until the engine answers
            raise NotRunning(f"the kubedeck cluster for {state} is not answering at {conn.url} "
                             "(start it with `kubedeck serve DIR`)") from None
        return client

    def close(self) -> None:
        self.http.close()

    def _check(self, r: httpx.Response) -> httpx.Response:
        if r.status_code >= 400:
            try:
                body = r.json()
                raise ApiError(r.status_code, body.get("message", r.text), body.get("reason", ""))
            except (ValueError, AttributeError):
                raise ApiError(r.status_code, r.text) from None
        return r

    def request(self, method: str, path: str, **kw) -> dict:
        return self._check(self.http.request(method, path, **kw)).json()

    def list(self, kind: str, namespace: str | None = None, selector: str | None = None) -> list[dict]:
        params = {"labelSelector": selector} if selector else {}
        return self.request("GET", path_for(kind, namespace), params=params)["items"]

    def get(self, kind: str, namespace: str, name: str) -> dict:
        return self.request("GET", path_for(kind, namespace, name))

    def create(self, obj: dict) -> dict:
        ns = (obj.get("metadata") or {}).get("namespace", "default")
        return self.request("POST", path_for(obj["kind"], ns), json=obj)

    def patch(self, kind: str, namespace: str, name: str, patch: dict) -> dict:
        return self.request("PATCH", path_for(kind, namespace, name), content=json.dumps(patch),
                            headers={"Content-Type": "application/merge-patch+json"})

    def delete(self, kind: str, namespace: str, name: str, grace: int | None = None) -> dict:
        params = {"gracePeriodSeconds": grace} if grace is not None else {}
        return self.request("DELETE", path_for(kind, namespace, name), params=params)

    def status(self) -> dict:
        return self.request("GET", "/kubedeck/v1/status")

    def logs(self, namespace: str, pod: str, *, container: str | None = None, follow: bool = False,
             tail: int | None = None, timestamps: bool = False, previous: bool = False) -> Iterator[bytes]:
        params = {k: v for k, v in {"container": container, "follow": "true" if follow else None,
                                    "tailLines": tail, "timestamps": "true" if timestamps else None,
                                    "previous": "true" if previous else None}.items() if v is not None}
        with self.http.stream("GET", path_for("Pod", namespace, pod) + "/log", params=params,
                              timeout=None if follow else 30) as r:
            if r.status_code >= 400:
                r.read()
                self._check(r)
            yield from r.iter_bytes()

    def watch(self, kind: str, namespace: str | None = None, resource_version: str | None = None,
              timeout: float | None = None) -> Iterator[tuple[str, dict]]:
        params = {"watch": "1"}
        if resource_version:
            params["resourceVersion"] = resource_version
        with self.http.stream("GET", path_for(kind, namespace), params=params, timeout=timeout) as r:
            self._check(r) if r.status_code >= 400 else None
            for line in r.iter_lines():
                if line.strip():
                    ev = json.loads(line)
                    yield ev["type"], ev["object"]
