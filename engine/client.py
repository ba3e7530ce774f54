"""The API client's shared half, and the small synchronous client the CLI and tests use.

It speaks only the Kubernetes-shaped REST API (see docs/ARCHITECTURE.md), so anything
the CLI does, a script can do too. The TUI's async client (tui/api.py) keeps its own
httpx transport but nothing else: paths come from engine/paths.py, every error answer
becomes this module's `ApiError` through `ApiError.from_response`, and log requests take
their query from `log_params`, so both clients read a Kubernetes `Status` the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from .paths import path_for
from .state import Connection, read_connection

# httpx (and kubeconnect, which needs it) load when a Client is made: the TUI imports
# this module for ApiError and log_params, and its first frame does not wait for httpx
if TYPE_CHECKING:
    import httpx


class ApiError(Exception):
    """The API answered with an error: `code`, and the `Status`'s `reason` and `message`."""

    def __init__(self, code: int, message: str, reason: str = ""):
        super().__init__(f"{code} {reason}: {message}" if reason else f"{code}: {message}")
        self.code = code
        self.reason = reason
        self.message = message

    @classmethod
    def from_response(cls, r: httpx.Response) -> "ApiError":
        """From a read error response: a `Status` body, else the start of whatever came."""
        try:
            body = r.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and ("message" in body or body.get("kind") == "Status"):
            return cls(r.status_code, str(body.get("message", "")), str(body.get("reason", "")))
        return cls(r.status_code, r.text[:500])


def list_result(body: dict) -> tuple[list[dict], str]:
    """(items, resourceVersion) of a List answer, as the informers start from it."""
    return body.get("items") or [], str(body.get("metadata", {}).get("resourceVersion", "0"))


def log_params(*, container: str | None = None, follow: bool = False, tail: int | None = None,
               timestamps: bool = False, previous: bool = False,
               since_seconds: int | None = None) -> dict[str, str]:
    """The query of `GET .../pods/NAME/log`, as kubectl logs sends it."""
    params = {"container": container or None, "follow": "true" if follow else None,
              "tailLines": None if tail is None else str(tail),
              "timestamps": "true" if timestamps else None, "previous": "true" if previous else None,
              "sinceSeconds": str(since_seconds) if since_seconds else None}
    return {k: v for k, v in params.items() if v is not None}


class NotRunning(Exception):
    pass


class Client:
    def __init__(self, conn: Connection, timeout: float = 30.0):
        import httpx

        from .kubeconnect import httpx_options

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
        import httpx

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
            raise ApiError.from_response(r)
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
        params = log_params(container=container, follow=follow, tail=tail, timestamps=timestamps,
                            previous=previous)
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
