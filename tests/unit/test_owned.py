"""engine/owned.py: a delete that starts from a name removes only this cluster's
container, by id; a stranger's container of that name is NotOurs (a Docker APIError the
callers already report) and stays. DockerIO._create, the Service proxies and the NodePort
helper go through it (their e2e: tests/e2e/test_graceful.py)."""

from __future__ import annotations

import pytest
from docker.errors import APIError, NotFound
from kubedeck.engine.owned import NotOurs, is_ours, remove_container


class FakeApi:
    def __init__(self, containers: dict[str, dict]):
        self.containers = containers  # name -> {"Id", "Config": {"Labels"}}
        self.removed: list[str] = []

    def inspect_container(self, ref):
        for name, c in self.containers.items():
            if ref in (name, c["Id"]):
                return {"Name": "/" + name, **c}
        raise NotFound("no such container")

    def remove_container(self, ref, force=False):
        assert force
        self.removed.append(ref)


def test_only_this_clusters_container_is_removed_by_id():
    api = FakeApi({"k8s_svc_web_default_a": {"Id": "id-a", "Config": {"Labels": {"io.kubedeck.cluster": "a"}}},
                   "k8s_svc_web_default_b": {"Id": "id-b", "Config": {"Labels": {"io.kubedeck.cluster": "b"}}},
                   "k8s_svc_web_default_c": {"Id": "id-c", "Config": {"Labels": None}}})
    assert remove_container(api, "k8s_svc_web_default_a", "a") is True
    assert api.removed == ["id-a"]  # by id: the name cannot change hands in between
    for name in ("k8s_svc_web_default_b", "k8s_svc_web_default_c"):
        with pytest.raises(NotOurs) as e:
            remove_container(api, name, "a")
        assert isinstance(e.value, APIError) and name in str(e.value) and "io.kubedeck.cluster=a" in str(e.value)
    assert api.removed == ["id-a"]
    assert remove_container(api, "gone", "a") is False


def test_is_ours():
    assert is_ours({"io.kubedeck.cluster": "a"}, "a")
    assert not is_ours({"io.kubedeck.cluster": "ab"}, "a") and not is_ours(None, "a") and not is_ours({}, "a")
