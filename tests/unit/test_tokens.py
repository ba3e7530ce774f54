"""Service account tokens (engine/api/tokens.py): what `kubectl create token` gets, and
which tokens the API accepts."""

from __future__ import annotations

import base64
import json
import time

import pytest

from kubedeck.engine.api import tokens as tokens_mod
from kubedeck.engine.api.tokens import Tokens
from kubedeck.engine.store import Store, StoreError


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "store.sqlite")
    s.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    s.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot", "namespace": "default"}})
    yield s
    s.close()


def claims(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_token_names_its_account_and_is_accepted_until_it_expires(store, monkeypatch):
    t = Tokens(store, "cluster-token")
    out = t.request("default", "robot", {"spec": {"expirationSeconds": 600}})
    token = out["status"]["token"]
    c = claims(token)
    uid = store.peek("ServiceAccount", "default", "robot")["metadata"]["uid"]
    assert c["sub"] == "system:serviceaccount:default:robot" and c["exp"] - c["iat"] == 600
    assert c["kubernetes.io"] == {"namespace": "default", "serviceaccount": {"name": "robot", "uid": uid}}
    assert out["spec"]["audiences"] == [tokens_mod.ISSUER]
    assert out["status"]["expirationTimestamp"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c["exp"]))
    assert t.user(token) == ("system:serviceaccount:default:robot",
                             ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"])
    assert Tokens(store, "another-cluster").user(token) is None  # another key
    head, body, sig = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({**c, "exp": c["exp"] + 10**6}).encode()).rstrip(b"=").decode()
    assert t.user(f"{head}.{forged}.{sig}") is None
    assert t.user("not-a-jwt") is None and t.user("a.b.c") is None
    # minted 600 s + the allowed skew + 1 s ago: expired now
    minted = time.time() - 600 - tokens_mod.LEEWAY - 1
    monkeypatch.setattr(tokens_mod.time, "time", lambda: minted)
    old = t.request("default", "robot", {"spec": {"expirationSeconds": 600}})["status"]["token"]
    monkeypatch.undo()
    assert t.user(old) is None


def test_a_deleted_account_revokes_its_tokens_and_durations_are_checked(store):
    t = Tokens(store, "cluster-token")
    token = t.request("default", "robot", {})["status"]["token"]
    assert claims(token)["exp"] - claims(token)["iat"] == 3600
    store.delete("ServiceAccount", "default", "robot")
    store.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot", "namespace": "default"}})
    assert t.user(token) is None  # the same name, another account
    with pytest.raises(StoreError) as e:
        t.request("default", "nobody", {})
    assert e.value.code == 404 and e.value.message == 'serviceaccounts "nobody" not found'
    with pytest.raises(StoreError) as e:
        t.request("default", "robot", {"spec": {"expirationSeconds": 60}})
    assert e.value.code == 422 and e.value.message.endswith(
        "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes")


def test_a_pods_token_is_bound_to_the_pod(store):
    t = Tokens(store, "cluster-token")
    pod = store.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": "default"},
                        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    account = store.peek("ServiceAccount", "default", "robot")
    token = t.for_pod(pod, account)
    c = claims(token)
    bound = c["kubernetes.io"]
    assert bound["pod"] == {"name": "app", "uid": pod["metadata"]["uid"]}
    assert c["exp"] - c["iat"] == 365 * 24 * 3600 and bound["warnafter"] - c["iat"] == 3607
    assert t.user(token)[0] == "system:serviceaccount:default:robot"
    # the pod goes (or another one takes its name): the token is refused
    store.delete("Pod", "default", "app")
    assert t.user(token) is None
    store.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": "default"},
                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    assert t.user(token) is None
