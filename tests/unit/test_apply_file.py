"""One apply (engine/objects.py): the folder's apply is server-side apply as `kubedeck`
with kubectl apply's rule for fields others changed, and the API's apply is the same code.

The first three tests are the folder's three-way rules (they tested `merge.three_way`
before apply became server-side): a field another manager set keeps its live value while
the file leaves it as it was; what the file changes or drops is applied; lists merge by
their keys, as server-side apply merges them."""

from __future__ import annotations

import copy

import pytest

from kubedeck.engine.fieldmanager.ssa import track_update
from kubedeck.engine.objects import LAST_APPLIED, MANAGER, SOURCE, ObjectService
from kubedeck.engine.store import Store, StoreError

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}


def deployment(replicas=1, image="a", paused=None, ports=(80,)):
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": image,
                                 "ports": [{"containerPort": p} for p in ports]}]}}}
    if paused is not None:
        spec["paused"] = paused
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": spec}


@pytest.fixture
def objects(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    store.create(copy.deepcopy(NS))
    yield ObjectService(store)
    store.close()


def scale(objects: ObjectService, replicas: int) -> None:
    """What `kubectl scale` does: an update through /scale, owned by its manager."""
    live = objects.store.get("Deployment", "default", "web")
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = replicas
    objects.store.update(track_update(live, new, manager="kubectl", subresource="scale",
                                      api_version="apps/v1", kind="Deployment"), check_rv=False)


def live(objects):
    return objects.store.get("Deployment", "default", "web")


def test_fields_the_file_never_changed_keep_their_live_value(objects):
    assert objects.apply_file(deployment(replicas=1, image="a"), source="web.yaml") is None
    scale(objects, 5)
    assert objects.apply_file(deployment(replicas=1, image="b"), source="web.yaml") is None
    spec = live(objects)["spec"]
    assert spec["replicas"] == 5
    assert spec["template"]["spec"]["containers"][0]["image"] == "b"
    meta = live(objects)["metadata"]
    assert meta["annotations"][SOURCE] == "web.yaml" and '"image":"b"' in meta["annotations"][LAST_APPLIED]
    assert {m["manager"] for m in meta["managedFields"]} == {MANAGER, "kubectl"}


def test_fields_the_file_changes_or_drops_are_applied(objects):
    objects.apply_file(deployment(replicas=1, paused=True), source="web.yaml")
    scale(objects, 5)
    assert objects.apply_file(deployment(replicas=3), source="web.yaml") is None
    spec = live(objects)["spec"]
    assert spec["replicas"] == 3 and "paused" not in spec


def test_lists_merge_by_key(objects):
    objects.apply_file(deployment(ports=(1, 2)), source="web.yaml")
    assert objects.apply_file(deployment(ports=(3,)), source="web.yaml") is None
    ports = live(objects)["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert [p["containerPort"] for p in ports] == [3]


def test_an_unchanged_file_writes_nothing(objects):
    objects.apply_file(deployment(), source="web.yaml")
    rv = live(objects)["metadata"]["resourceVersion"]
    assert objects.apply_file(deployment(), source="web.yaml") is None
    assert live(objects)["metadata"]["resourceVersion"] == rv


def test_a_missing_namespace_waits_and_errors_are_returned(objects):
    other = deployment()
    other["metadata"]["namespace"] = "later"
    assert objects.apply_file(other, source="web.yaml") == "waiting"
    bad = deployment()
    bad["spec"]["template"]["spec"]["containers"] = [{"image": "x"}]  # a map-list item without its key
    assert objects.apply_file(bad, source="web.yaml")


def test_api_apply_conflicts_unless_forced(objects):
    objects.apply_file(deployment(replicas=1), source="web.yaml")
    config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
              "spec": {"replicas": 4}}
    with pytest.raises(StoreError) as e:
        objects.apply(config, manager="other", force=False)
    assert e.value.code == 409 and "spec.replicas" in e.value.message
    out, created = objects.apply(config, manager="other", force=True, dry_run=True)
    assert not created and out["spec"]["replicas"] == 4 and live(objects)["spec"]["replicas"] == 1
    out, created = objects.apply(config, manager="other", force=True)
    assert not created and live(objects)["spec"]["replicas"] == 4
