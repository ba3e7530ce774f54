"""A pod's events in Kubernetes' order: Scheduled, Pulled, Created, Started.

The scheduler and the kubelet record them in that order within a second or two, and
Event timestamps have whole seconds, so most of them tie. kubectl's describe sorts by
time only (a stable sort for a pod's few events), which leaves ties in the order the API
lists them: by name, and Kubernetes names an Event `<object>.<UnixNano in hex>`, so name
order is recording order. kubedeck's describe breaks ties by resourceVersion, which
grows with each write, so it shows recording order whatever the list order.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from kubedeck.engine.objects import ObjectService
from kubedeck.engine.present import describe
from kubedeck.engine.store import Store

NOW = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)
POD = {"kind": "Pod", "apiVersion": "v1",
       "metadata": {"name": "web-1", "namespace": "default", "uid": "u1", "creationTimestamp": "2026-01-02T11:00:00Z"},
       "spec": {}, "status": {"phase": "Running"}}
RECORDED = [("Scheduled", "Successfully assigned default/web-1 to kubedeck", "default-scheduler"),
            ("Pulled", 'Container image "busybox:1.36" already present on machine', "kubelet"),
            ("Created", "Created container web", "kubelet"),
            ("Started", "Started container web", "kubelet")]


def events_table(text: str) -> list[list[str]]:
    lines = text.split("Events:\n", 1)[1].splitlines()
    return [line.split(None, 4) for line in lines]


def test_describe_shows_same_second_events_in_recording_order():
    events = []
    for rv, (reason, message, component) in enumerate(RECORDED, start=10):
        events.append({"metadata": {"name": f"web-1.{random.getrandbits(64):016x}", "namespace": "default",
                                    "resourceVersion": str(rv)},
                       "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "u1"},
                       "reason": reason, "message": message, "type": "Normal", "count": 1,
                       "firstTimestamp": "2026-01-02T11:59:58Z", "lastTimestamp": "2026-01-02T11:59:58Z",
                       "source": {"component": component}})
    events[0]["firstTimestamp"] = events[0]["lastTimestamp"] = "2026-01-02T11:59:57Z"
    for listed in (events[::-1], [events[2], events[0], events[3], events[1]]):
        table = events_table(describe.describe(POD, listed, NOW))
        assert [row[1] for row in table[2:]] == ["Scheduled", "Pulled", "Created", "Started"]


def test_describe_events_table_is_kubectls():
    events = [{"metadata": {"name": "web-1.1", "resourceVersion": "7"},
               "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "u1"},
               "reason": "BackOff", "message": "Back-off restarting failed container\n", "type": "Warning",
               "count": 4, "firstTimestamp": "2026-01-02T11:55:00Z", "lastTimestamp": "2026-01-02T11:59:00Z",
               "source": {"component": "kubelet", "host": "kubedeck"}},
              {"metadata": {"name": "web-1.0", "resourceVersion": "5"},
               "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "u1"},
               "reason": "Scheduled", "message": "Successfully assigned default/web-1 to kubedeck", "type": "Normal",
               "eventTime": "2026-01-02T11:50:00.000000Z", "reportingController": "default-scheduler"}]
    text = describe.describe(POD, events, NOW)
    assert text.split("Events:\n", 1)[1].splitlines() == [
        "  Type     Reason     Age               From               Message",
        "  ----     ------     ----              ----               -------",
        "  Normal   Scheduled  10m               default-scheduler  Successfully assigned default/web-1 to kubedeck",
        "  Warning  BackOff    60s (x4 over 5m)  kubelet            Back-off restarting failed container",
    ]
    assert "Events:       <none>" in describe.describe(POD, [], NOW)


def test_recorded_events_list_in_recording_order(tmp_path):
    """The API lists Events by name: names must grow with recording time, as Kubernetes'
    `<object>.<UnixNano hex>` do, for kubectl describe to show ties in recording order."""
    store = Store(tmp_path / "store.sqlite")
    objects = ObjectService(store)
    try:
        for _ in range(3):  # random names would pass by luck now and then
            for reason, message, component in RECORDED:
                objects.record_event(POD, reason, f"{message} ({_})", component=component)
        listed = [(e["reason"], e["message"]) for e in store.list("Event", "default")]
        recorded = [(reason, f"{message} ({i})") for i in range(3) for reason, message, _ in RECORDED]
        assert listed == recorded
    finally:
        store.close()
