"""Kept-alive connections to dockerd for docker-py's plain calls.

docker-py keys its Unix-socket connection pools by the request's whole URL, so every
call that names a container (`/containers/ID/start`, `/containers/ID/json`) opens a
new pool and a new connection to dockerd, and closes the one evicted from its 25-pool
cache. Measured with 16 threads creating, starting, inspecting twice and removing 100
containers: one pool for the socket cut dockerd's CPU by ~9 % and the caller's by
~15 %. (requests keys TCP pools by host, so only the Unix socket needs this.)

A call that takes its connection over keeps a pool of its own, as docker-py does: an
exec's or attach's start (HTTP upgrade to a raw stream), and logs (kubedeck reads a
followed log from the raw socket). On the shared pool the next call could be handed
such a connection.
"""

from __future__ import annotations

import re

import docker
from docker.transport.unixconn import UnixHTTPAdapter

SHARED = "http+docker://localhost/"  # the one pool's key
TAKEN_OVER = re.compile(r"/exec/[^/]+/start|/containers/[^/]+/(attach|logs)")


class _SharedPool(UnixHTTPAdapter):
    def get_connection(self, url, proxies=None):
        return super().get_connection(url if TAKEN_OVER.search(url) else SHARED, proxies)


def share_connections(api: docker.APIClient) -> None:
    """Mount the shared pool on `api` when it talks to a Unix socket (no proxy or
    .netrc lookups there either: they cannot apply, and requests would make them at
    every call)."""
    adapter = api.adapters.get("http+docker://")
    if isinstance(adapter, UnixHTTPAdapter) and not isinstance(adapter, _SharedPool):
        api.mount("http+docker://", _SharedPool("http+unix://" + adapter.socket_path, timeout=adapter.timeout,
                                                max_pool_size=adapter.max_pool_size))
        adapter.close()
        api.trust_env = False
