"""What every namespace holds in Kubernetes without anyone writing it: the `default`
ServiceAccount (kube-controller-manager's serviceaccount controller) and the
`kube-root-ca.crt` ConfigMap with the cluster's CA (its root-ca-cert-publisher), which
in-cluster clients and many charts expect.

Keyed by namespace: each live (not terminating) namespace gets both, made again when
deleted and put back when the ConfigMap's CA is changed, as upstream does. Its tokens
come from the TokenRequest API (api/tokens.py), as since Kubernetes 1.24, so the
ServiceAccount has no secrets; the CA is the state dir's (`pki/ca.crt`), the one the API's
certificate is signed with.
"""

from __future__ import annotations

from typing import Iterable

from ..store import Store, StoreError, WatchEvent
from .base import Controller, Key, key_for

ROOT_CA = "kube-root-ca.crt"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


class ServiceAccountsController(Controller):
    kinds = ("Namespace",)
    component = "serviceaccount-controller"

    def __init__(self, store: Store, *, ca_pem: str | None):
        """`ca_pem`: the cluster CA's certificate (None: no ConfigMap, as in unit tests
        without a PKI)."""
        super().__init__(store)
        self.ca_pem = ca_pem

    def related(self, ev: WatchEvent) -> Iterable[Key]:
        obj = ev.object
        name, kind = obj["metadata"].get("name"), obj.get("kind")
        if (kind, name) in (("ServiceAccount", "default"), ("ConfigMap", ROOT_CA)):
            yield key_for("Namespace", "", obj["metadata"].get("namespace", ""))

    def reconcile(self, key: Key) -> None:
        ns = self.store.peek(*key)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        name = key[2]
        if self.store.peek("ServiceAccount", name, "default") is None:
            self._create({"apiVersion": "v1", "kind": "ServiceAccount",
                          "metadata": {"name": "default", "namespace": name}})
        if self.ca_pem is None:
            return
        data = {"ca.crt": self.ca_pem}
        live = self.store.peek("ConfigMap", name, ROOT_CA)
        if live is None:
            self._create({"apiVersion": "v1", "kind": "ConfigMap", "data": data, "metadata": {
                "name": ROOT_CA, "namespace": name, "annotations": {"kubernetes.io/description": DESCRIPTION}}})
        elif live.get("data") != data:
            self.store.update({**live, "data": data}, check_rv=False)

    def _create(self, obj: dict) -> None:
        try:
            self.store.create(obj)
        except StoreError as e:
            if e.code not in (403, 409):  # made meanwhile, or the namespace began terminating
                raise
