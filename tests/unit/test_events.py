"""Event aggregation and pruning on a real store (no Docker)."""

from kubedeck.engine.cluster import Cluster, Settings


def test_repeated_events_aggregate_and_old_ones_are_pruned(tmp_path):
    c = Cluster(Settings(state=tmp_path / "kdtest-events", docker=False))
    c._ensure_base_objects()
    pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": "default", "uid": "u1"}}
    for _ in range(5):
        c.record_event(pod, "BackOff", "Back-off restarting failed container", type="Warning")
    evs = c.store.list("Event", "default")
    assert len(evs) == 1 and evs[0]["count"] == 5
    c.record_event(pod, "Started", "Started container main")
    assert len(c.store.list("Event", "default")) == 2
    c._prune_events(ttl=3600, keep=1)
    left = c.store.list("Event", "default")
    assert [e["reason"] for e in left] == ["Started"]
    c.store.close()
