"""Kubernetes `Status` error bodies, shared by every API handler module."""

from __future__ import annotations

from aiohttp import web


def status_body(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


def fail(code: int, reason: str, message: str, details: dict | None = None) -> web.Response:
    return web.json_response(status_body(code, reason, message, details), status=code)
