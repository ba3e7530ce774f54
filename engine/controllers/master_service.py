"""The `default/kubernetes` Service, its Endpoints and EndpointSlice, kept as the API
server's own reconciler keeps them (its "master endpoints" controller): made at start,
made again when deleted, and put back when edited. The Endpoints name the port the API
listens on now, which changes from one engine start to the next; pods never see it, they
use the Service's 10.96.0.1:443 (in_cluster.py says how it is reached).
"""

from __future__ import annotations

from typing import Iterable

from .. import in_cluster
from ..store import Store, StoreError, WatchEvent
from .base import Controller, Key, key_for

KEY = key_for("Service", in_cluster.NAMESPACE, in_cluster.NAME)


class MasterServiceController(Controller):
    kinds = ("Service",)
    component = "kube-apiserver"

    def __init__(self, store: Store, *, api_port: int | None):
        """`api_port`: where the API listens (None: no API, as in unit tests: nothing to do)."""
        super().__init__(store)
        self.api_port = api_port

    def keys(self) -> Iterable[Key]:
        return (KEY,)

    def related(self, ev: WatchEvent) -> Iterable[Key]:
        m = ev.object["metadata"]
        if ev.object.get("kind") in ("Endpoints", "EndpointSlice") and in_cluster.is_master(
                m.get("namespace", ""), m.get("name", "")):
            yield KEY

    def reconcile(self, key: Key) -> None:
        if key != KEY or self.api_port is None:
            return
        port = self.api_port
        for want, fields in ((in_cluster.service(port), ("spec",)), (in_cluster.endpoints(port), ("subsets",)),
                             (in_cluster.endpoint_slice(port), ("endpoints", "ports", "addressType"))):
            live = self.store.peek(want["kind"], in_cluster.NAMESPACE, in_cluster.NAME)
            if live is None:
                try:
                    self.store.create(want)
                except StoreError as e:
                    if e.code != 409:
                        raise
            elif any(live.get(f) != want.get(f) for f in fields) or not _labelled(live, want):
                meta = {**live["metadata"], "labels": {**(live["metadata"].get("labels") or {}),
                                                       **want["metadata"]["labels"]}}
                self.store.update({**live, **{f: want[f] for f in fields}, "metadata": meta}, check_rv=False)


def _labelled(live: dict, want: dict) -> bool:
    labels = live["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in want["metadata"]["labels"].items())
