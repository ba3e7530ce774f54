"""The `meta.k8s.io/v1` Table (engine/present/table.py) and the cells kubectl would show."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kubedeck.engine.present import format as fmt
from kubedeck.engine.present.columns import printer_for
from kubedeck.engine.present.resources import VIEWS
from kubedeck.engine.present.table import render, table

NOW = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)
CREATED = "2026-01-02T11:00:00Z"


def meta(name: str, **extra) -> dict:
    return {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "7",
            "creationTimestamp": CREATED, **extra}


def cells(kind: str, obj: dict) -> dict:
    return printer_for(kind).row(obj, NOW)


POD = {"kind": "Pod", "apiVersion": "v1", "metadata": meta("web-1", labels={"app": "web"}),
       "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "kubedeck"},
       "status": {"phase": "Running", "podIP": "10.0.0.7", "podIPs": [{"ip": "10.0.0.7"}],
                  "conditions": [{"type": "Ready", "status": "False"}],
                  "containerStatuses": [
                      {"name": "a", "ready": True, "restartCount": 3, "state": {"running": {}},
                       "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-01-02T11:55:00Z"}}},
                      {"name": "b", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}


def test_table_as_the_api_server_sends_it():
    data = table("Pod", [POD], now=NOW, resource_version="42")
    assert {k: data[k] for k in ("kind", "apiVersion", "metadata")} == {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "42"}}
    assert data["columnDefinitions"][0] == {
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": data["columnDefinitions"][0]["description"]}
    assert data["columnDefinitions"][0]["description"].startswith("Name must be unique within a namespace.")
    assert [(c["name"], c["priority"]) for c in data["columnDefinitions"][4:]] == [
        ("Age", 0), ("IP", 1), ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1)]
    row = data["rows"][0]
    assert row["cells"] == ["web-1", "1/2", "CrashLoopBackOff", "3 (5m ago)", "60m", "10.0.0.7", "kubedeck",
                            "<none>", "<none>"]
    assert row["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": POD["metadata"]}
    assert "conditions" not in row


def test_include_object_object_none_and_bad_value():
    assert table("Pod", [POD], now=NOW, include_object="Object")["rows"][0]["object"] is POD
    assert table("Pod", [POD], now=NOW, include_object="None")["rows"][0]["object"] is None
    assert table("Pod", [], now=NOW)["rows"] == [] and table("Pod", [], now=NOW)["metadata"] == {}
    later_event = table("Pod", [POD], now=NOW, no_headers=True)
    assert later_event["columnDefinitions"] is None and len(later_event["rows"][0]["cells"]) == 9
    with pytest.raises(ValueError, match="includeObject"):
        table("Pod", [POD], now=NOW, include_object="Everything")


def test_finished_pods_carry_the_completed_row_condition():
    done = {**POD, "status": {"phase": "Succeeded"}}
    assert table("Pod", [done], now=NOW)["rows"][0]["conditions"] == [
        {"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]


def test_render_like_kubectl_with_wide_and_namespace():
    text = render(table("Pod", [POD], now=NOW), wide=True, namespace_column=True)
    head, line = text.splitlines()
    assert head.split("   ")[0:2] == ["NAMESPACE", "NAME"] and "NOMINATED NODE" in head
    assert line.startswith("default     web-1   1/2     CrashLoopBackOff   3 (5m ago)   60m   10.0.0.7")


@pytest.mark.parametrize(("pod_status", "expected"), [
    ({"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"running": {}}}]}, "Init:0/1"),
    ({"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"terminated": {"exitCode": 2}}}]},
     "Init:ExitCode:2"),
    ({"phase": "Running", "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 0, "signal": 9}}}]},
     "Signal:9"),
    ({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]},
     "SchedulingGated"),
])
def test_pod_status_rules(pod_status, expected):
    pod = {"metadata": meta("p"), "spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "i"}]},
           "status": pod_status}
    assert cells("Pod", pod)["STATUS"] == expected


def test_terminating_pod_and_sidecar_counts_in_ready():
    pod = {"metadata": meta("p", deletionTimestamp=CREATED),
           "spec": {"containers": [{"name": "a"}], "initContainers": [{"name": "s", "restartPolicy": "Always"}]},
           "status": {"phase": "Running",
                      "initContainerStatuses": [{"name": "s", "started": True, "ready": True, "state": {"running": {}}}],
                      "containerStatuses": [{"name": "a", "ready": True, "state": {"running": {}}}]}}
    assert (cells("Pod", pod)["READY"], cells("Pod", pod)["STATUS"]) == ("2/2", "Terminating")


def test_node_cells_and_cordon():
    node = {"metadata": {"name": "kubedeck", "creationTimestamp": CREATED,
                         "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "nodeInfo": {"kubeletVersion": "v1.30.0-kubedeck", "osImage": "Debian", "kernelVersion": "6.1",
                                    "containerRuntimeVersion": "docker"}}}
    assert list(cells("Node", node).values()) == [
        "kubedeck", "Ready,SchedulingDisabled", "control-plane", "60m", "v1.30.0-kubedeck", "127.0.0.1", "<none>",
        "Debian", "6.1", "docker"]
    assert cells("Node", {"metadata": {"name": "n"}})["STATUS"] == "Unknown"


def test_service_cells():
    svc = {"metadata": meta("web"), "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
                                             "ports": [{"port": 80, "nodePort": 30080}, {"port": 53, "protocol": "UDP"}]}}
    assert list(cells("Service", svc).values()) == [
        "web", "NodePort", "10.96.0.10", "<none>", "80:30080/TCP,53/UDP", "60m", "app=web"]
    lb = {"metadata": meta("lb"), "spec": {"type": "LoadBalancer", "ports": []}}
    assert (cells("Service", lb)["EXTERNAL-IP"], cells("Service", lb)["PORT(S)"]) == ("<pending>", "<none>")
    ext = {"metadata": meta("db"), "spec": {"type": "ExternalName", "externalName": "db.example.com"}}
    assert cells("Service", ext)["EXTERNAL-IP"] == "db.example.com"


def test_workload_cells():
    deploy = {"metadata": meta("web"), "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                                                "template": {"spec": {"containers": [{"name": "w", "image": "busybox:1.36"}]}}},
              "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    assert list(cells("Deployment", deploy).values()) == ["web", "2/3", 3, 2, "60m", "w", "busybox:1.36", "app=web"]
    job = {"metadata": meta("once"), "spec": {},
           "status": {"succeeded": 1, "startTime": "2026-01-02T11:00:00Z", "completionTime": "2026-01-02T11:03:20Z",
                      "conditions": [{"type": "Complete", "status": "True"}]}}
    assert list(cells("Job", job).values())[:5] == ["once", "Complete", "1/1", "3m20s", "60m"]
    cron = {"metadata": meta("tick"), "spec": {"schedule": "*/1 * * * *"},
            "status": {"active": [{"name": "tick-1"}], "lastScheduleTime": "2026-01-02T11:59:00Z"}}
    assert list(cells("CronJob", cron).values())[:7] == ["tick", "*/1 * * * *", "<none>", "False", 1, "60s", "60m"]
    ds = {"metadata": meta("agent"), "spec": {"selector": {"matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["b", "a"]}, {"key": "app", "operator": "Exists"}]}}}
    assert cells("DaemonSet", ds)["SELECTOR"] == "app,tier in (a,b)" and cells("DaemonSet", ds)["NODE SELECTOR"] == "<none>"


def test_network_and_data_cells():
    rules = [{"host": h} for h in ("a.test", "b.test", "c.test", "d.test")]
    ing = {"metadata": meta("web"), "spec": {"ingressClassName": "kubedeck", "rules": rules, "tls": [{}]},
           "status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1", "ports": [{"port": 8080}]}]}}}
    assert list(cells("Ingress", ing).values()) == [
        "web", "kubedeck", "a.test,b.test,c.test + 1 more...", "127.0.0.1", "80, 443", "60m"]
    ep = {"metadata": meta("web"), "subsets": [{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 5)],
                                                "ports": [{"port": 80}]}]}
    assert cells("Endpoints", ep)["ENDPOINTS"] == "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more..."
    assert cells("Endpoints", {"metadata": meta("none")})["ENDPOINTS"] == "<none>"
    eps = {"metadata": meta("web-abc"), "addressType": "IPv4", "ports": [{"port": 80}],
           "endpoints": [{"addresses": ["10.0.0.1"]}]}
    assert list(cells("EndpointSlice", eps).values()) == ["web-abc", "IPv4", "80", "10.0.0.1", "60m"]
    secret = {"metadata": meta("creds"), "data": {"a": "eA=="}, "stringData": {"a": "x", "b": "y"}}
    assert list(cells("Secret", secret).values()) == ["creds", "Opaque", 2, "60m"]
    pvc = {"metadata": meta("data"), "spec": {"volumeName": "pv-1", "storageClassName": "standard"},
           "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}}
    assert list(cells("PersistentVolumeClaim", pvc).values()) == [
        "data", "Bound", "pv-1", "1Gi", "RWO", "standard", "<unset>", "60m", "<unset>"]


def test_event_cells_and_default_table():
    ev = {"metadata": meta("web.1"), "type": "Warning", "reason": "BackOff", "message": " restarting \n",
          "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{a}"},
          "source": {"component": "kubelet", "host": "kubedeck"}, "firstTimestamp": CREATED, "count": 4}
    assert list(cells("Event", ev).values()) == [
        "60m", "Warning", "BackOff", "pod/web-1", "spec.containers{a}", "kubelet, kubedeck", "restarting", "60m", 4,
        "web.1"]
    role = {"metadata": meta("reader")}
    assert table("Role", [role], now=NOW)["rows"][0]["cells"] == ["reader", CREATED]


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-1, "0s"), (119, "119s"), (200, "3m20s"), (600, "10m"), (3 * 3600 + 60, "3h1m"),
    (10 * 3600, "10h"), (3 * 86400 + 4 * 3600, "3d4h"), (20 * 86400, "20d"), (3 * 365 * 86400, "3y"),
])
def test_human_duration(seconds, text):
    assert fmt.human_duration(seconds) == text


def test_tui_views_use_the_printers_with_their_extras():
    svc = {"metadata": meta("web"), "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}}
    row, _ = VIEWS["services"].row(svc, NOW)
    assert dict(zip(VIEWS["services"].headers, row))["URL"] == "http://127.0.0.1:30080"
    assert set(printer_for("Service").headers(wide=False)) <= set(VIEWS["services"].columns)
    assert VIEWS["nodes"].headers[:5] == ("NAME", "STATUS", "PODS", "CPU", "MEM")
    assert VIEWS["cronjobs"].headers == ("NAMESPACE", *printer_for("CronJob").headers(wide=False))
