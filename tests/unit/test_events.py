"""Event aggregation and pruning in the object service, on a real store (no Docker, no Cluster)."""

from kubedeck.engine.objects import ObjectService
from kubedeck.engine.store import Store


def test_repeated_events_aggregate_and_old_ones_are_pruned(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    objects = ObjectService(store)
    pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": "default", "uid": "u1"}}
    for _ in range(5):
        objects.record_event(pod, "BackOff", "Back-off restarting failed container", type="Warning")
    evs = store.list("Event", "default")
    assert len(evs) == 1 and evs[0]["count"] == 5
    objects.record_event(pod, "Started", "Started container main")
    assert len(store.list("Event", "default")) == 2
    objects._prune_events(ttl=3600, keep=1)
    left = store.list("Event", "default")
    assert [e["reason"] for e in left] == ["Started"]
    store.close()
