"""An object's journey from actions (the activity stream) and from Events alone; the x-ray's
box of each action."""

from __future__ import annotations

from kubedeck.engine.present import journey as jr
from kubedeck.engine.present import xray

T = 1_700_000_000.0


def act(dt, component, verb, kind, name, detail="", start=None, ns="default", instance=""):
    return {"at": T + dt, "start": T + (start if start is not None else dt), "component": component,
            "instance": instance, "verb": verb, "kind": kind, "namespace": ns, "name": name, "detail": detail}


POD = {"kind": "Pod", "metadata": {"name": "web-abc-1", "namespace": "default", "labels": {"app": "web"}},
       "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2023-11-14T22:13:30Z"}]}}

STREAM = [
    act(0.00, "etcd", "MODIFIED", "Deployment", "web", 3, start=-0.5),  # an older write: not this journey's
    act(0.10, "folder-sync", "apply", "Deployment", "web", "web.yaml", start=0.0),
    act(0.09, "etcd", "MODIFIED", "Deployment", "web", 4, start=0.08),
    act(0.12, "deployment-controller", "ScalingReplicaSet", "Deployment", "web",
        "Scaled up replica set web-abc from 1 to 2"),
    act(0.15, "replicaset-controller", "SuccessfulCreate", "ReplicaSet", "web-abc", "Created pod: web-abc-0"),
    act(0.16, "replicaset-controller", "SuccessfulCreate", "ReplicaSet", "web-abc", "Created pod: web-abc-1"),
    act(0.20, "default-scheduler", "Scheduled", "Pod", "web-abc-1", "Successfully assigned default/web-abc-1 to n1"),
    act(0.30, "kubelet", "Pulled", "Pod", "web-abc-1", 'Container image "busybox" already present on machine'),
    act(0.60, "container-runtime", "run", "Pod", "web-abc-1", "main", start=0.31),
    act(0.61, "kubelet", "Created", "Pod", "web-abc-1", "Created container main"),
    act(0.62, "kubelet", "Started", "Pod", "web-abc-1", "Started container main"),
    act(0.63, "kubelet", "status", "Pod", "web-abc-1", "Running"),
    act(0.90, "kubelet", "status", "Pod", "web-abc-1", "Ready", instance="n1"),
    act(0.95, "endpoint-controller", "update", "Endpoints", "other"),
    act(0.96, "endpoint-controller", "update", "Endpoints", "web"),
    act(1.20, "kube-proxy", "load-rules", "Service", "web", start=1.00),
]


def test_pod_journey_from_the_activity_stream_has_every_hop_in_order():
    hops = jr.pod_journey(POD, sorted(STREAM, key=lambda a: a["at"]), ["web"])
    assert [(h.component, h.what.split(":")[0].split(" ")[0]) for h in hops] == [
        ("you", "saved"), ("kube-apiserver", "stored"), ("deployment-controller", "Scaled"),
        ("replicaset-controller", "Created"), ("default-scheduler", "Successfully"), ("kubelet", "Pulled"),
        ("container-runtime", "created"), ("kubelet", "Created"), ("kubelet", "Started"),
        ("kubelet", "readiness"), ("endpoint-controller", "added"), ("kube-proxy", "loaded")]
    assert hops[0].at == T and hops[-1].at == T + 1.2
    rows = jr.render(hops)
    assert rows[0][0] == "+0 ms" and rows[-1][0] == "+1200 ms"
    assert sum(h.at - p.at for p, h in zip(hops, hops[1:])) == hops[-1].at - hops[0].at
    assert "took 290 ms" in rows[6][3] and "took 200 ms" in rows[-1][3]


def test_pod_journey_from_events_alone():
    def ev(reason, kind, name, msg, t, comp):
        return {"reason": reason, "message": msg, "involvedObject": {"kind": kind, "name": name, "namespace": "default"},
                "source": {"component": comp}, "firstTimestamp": t, "eventTime": None}
    events = [ev("Started", "Pod", "web-abc-1", "Started container main", "2023-11-14T22:13:22Z", "kubelet"),
              ev("ScalingReplicaSet", "Deployment", "web", "Scaled up replica set web-abc from 1 to 2",
                 "2023-11-14T22:13:20Z", "deployment-controller"),
              ev("SuccessfulCreate", "ReplicaSet", "web-abc", "Created pod: web-abc-1", "2023-11-14T22:13:20Z",
                 "replicaset-controller"),
              {**ev("Scheduled", "Pod", "web-abc-1", "Successfully assigned default/web-abc-1 to n1", None, ""),
               "reportingComponent": "default-scheduler", "eventTime": "2023-11-14T22:13:21.500000Z"}]
    hops = jr.pod_journey(POD, jr.from_events(events), ["web"])
    assert [h.component for h in hops] == ["deployment-controller", "replicaset-controller", "default-scheduler",
                                           "kubelet", "kubelet"]
    assert hops[2].at - hops[0].at == 1.5 and hops[-1].what == "readiness passed: pod Ready"


def test_object_journey_and_boxes():
    hops = jr.object_journey("Deployment", "default", "web", STREAM)
    assert [h.component for h in hops][:3] == ["kube-apiserver", "you", "kube-apiserver"]
    nodes = ["n1", "n2"]
    pod_nodes = {("default", "web-abc-1"): "n1"}
    boxes = [xray.boxes_of(a, pod_nodes, nodes) for a in STREAM]
    assert boxes[0] == ["etcd", "apiserver"] and boxes[1] == ["folder"] and boxes[3] == ["controllers"]
    assert boxes[6] == ["scheduler"] and boxes[8] == ["runtime@n1"] and boxes[12] == ["kubelet@n1"]
    assert boxes[-1] == ["proxy@n1", "proxy@n2"]
    m = xray.Model()
    m.add(STREAM, pod_nodes, nodes)
    assert m.box("apiserver").weight == 7 and m.box("kubelet@n1").total == 5
    assert set(xray.EXPLAIN) == set(xray.TITLES) == set(xray.NAMES)
