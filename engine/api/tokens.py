"""Service account tokens: the TokenRequest API (`kubectl create token NAME`), and the
API accepting those tokens beside the kubeconfig's.

A token is a JWT (PyJWT) with Kubernetes' bound-token claims (`sub`
`system:serviceaccount:NS:NAME`, `aud`, `exp`, `iat`, `nbf`, and `kubernetes.io` naming the
namespace and the ServiceAccount with its uid), so whatever decodes Kubernetes tokens
reads it. Kubernetes signs with the service-account key pair (RS256); kubedeck has one
API server and no one else verifies its tokens, so it signs with HS256 under a key
derived from the cluster's own token. A token is accepted until it expires and while its
ServiceAccount exists with the same uid (deleting the account revokes it, as bound
tokens are). There is no RBAC (README): its holder may do what the kubeconfig's user
may; `kubectl auth whoami` names the account. A pod's own token (`for_pod`, mounted as
in_cluster.py says) is bound to the pod too, and revoked with it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from datetime import datetime, timezone

from ..in_cluster import TOKEN_SECONDS, TOKEN_WARN_SECONDS
from ..store import Store, StoreError, now_iso

ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_SECONDS, MIN_SECONDS, MAX_SECONDS = 3600, 600, 2**32
LEEWAY = 60  # seconds of clock skew allowed on nbf/exp


class Tokens:
    def __init__(self, store: Store, cluster_token: str):
        self.store = store
        self.key = hmac.new(cluster_token.encode(), b"kubedeck service account tokens", hashlib.sha256).digest()

    def request(self, namespace: str, name: str, body: dict) -> dict:
        """The TokenRequest answer for ServiceAccount `name` (404 if it does not exist)."""
        sa = self.store.peek("ServiceAccount", namespace, name)
        if sa is None:
            raise StoreError.not_found("ServiceAccount", name)
        spec = dict(body.get("spec") or {})
        seconds = spec.get("expirationSeconds") or DEFAULT_SECONDS
        if not isinstance(seconds, int) or not MIN_SECONDS <= seconds <= MAX_SECONDS:
            limit = "less than 10 minutes" if isinstance(seconds, int) and seconds < MIN_SECONDS else "larger than 2^32 seconds"
            raise StoreError(422, "Invalid", f'TokenRequest.authentication.k8s.io "{name}" is invalid: '
                             f"spec.expirationSeconds: Invalid value: {seconds}: may not specify a duration {limit}",
                             {"name": name, "group": "authentication.k8s.io", "kind": "TokenRequest"})
        audiences = spec.get("audiences") or [ISSUER]
        now = int(time.time())
        token = self._sign(namespace, sa, audiences, now, seconds)
        expires = datetime.fromtimestamp(now + seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": name, "namespace": namespace, "creationTimestamp": now_iso()},
                "spec": {**spec, "audiences": audiences, "expirationSeconds": seconds,
                         "boundObjectRef": spec.get("boundObjectRef")},
                "status": {"token": token, "expirationTimestamp": expires}}

    def for_pod(self, pod: dict, service_account: dict) -> str:
        """The token a pod's mounted directory holds (in_cluster.py): bound to the pod as
        well, so it stops working when the pod goes, and valid for a year as with
        `--service-account-extend-token-expiration` (the claim `warnafter` says when
        Kubernetes would have wanted it refreshed)."""
        now, m = int(time.time()), pod["metadata"]
        return self._sign(m["namespace"], service_account, [ISSUER], now, TOKEN_SECONDS,
                          pod={"name": m["name"], "uid": m["uid"]}, warnafter=now + TOKEN_WARN_SECONDS)

    def _sign(self, namespace: str, sa: dict, audiences: list, now: int, seconds: int, *,
              pod: dict | None = None, warnafter: int | None = None) -> str:
        name = sa["metadata"]["name"]
        bound: dict = {"namespace": namespace, "serviceaccount": {"name": name, "uid": sa["metadata"]["uid"]}}
        if pod:
            bound.update(pod=pod, warnafter=warnafter)
        claims = {"aud": audiences, "exp": now + seconds, "iat": now, "iss": ISSUER, "jti": str(uuid.uuid4()),
                  "kubernetes.io": bound, "nbf": now, "sub": f"system:serviceaccount:{namespace}:{name}"}
        import jwt  # on the first token (~0.1 s of imports): most engines never make one

        return jwt.encode(claims, self.key, algorithm="HS256")

    def user(self, token: str) -> tuple[str, list[str]] | None:
        """(username, groups) of a valid service account token, else None."""
        import jwt

        try:  # the signature, exp and nbf; any audience (the API server accepts its own)
            claims = jwt.decode(token, self.key, algorithms=["HS256"], leeway=LEEWAY,
                                options={"verify_aud": False, "require": ["exp", "nbf", "sub"]})
            ns, sa = claims["kubernetes.io"]["namespace"], claims["kubernetes.io"]["serviceaccount"]
            name, uid = sa["name"], sa["uid"]
            pod = claims["kubernetes.io"].get("pod")
        except (jwt.InvalidTokenError, KeyError, TypeError):
            return None
        live = self.store.peek("ServiceAccount", ns, name)
        if live is None or live["metadata"]["uid"] != uid:
            return None  # the account is gone (or another one took its name): revoked
        if pod is not None:  # a pod's token goes with its pod
            bound = self.store.peek("Pod", ns, pod.get("name", "")) if isinstance(pod, dict) else None
            if bound is None or bound["metadata"]["uid"] != pod.get("uid"):
                return None
        return (f"system:serviceaccount:{ns}:{name}",
                ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"])
