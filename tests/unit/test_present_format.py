"""Pure display rules (engine/present): pod status like kubectl, ages, quantities, secrets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kubedeck.engine.present import describe
from kubedeck.engine.present import format as fmt
from kubedeck.engine.present.resources import VIEWS, resolve

NOW = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)


def pod_with(state: dict | None = None, *, phase: str = "Running", deleting: bool = False,
             init: dict | None = None) -> dict:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]},
           "status": {"phase": phase}}
    if state is not None:
        pod["status"]["containerStatuses"] = [{"name": "c", "state": state, "ready": False, "restartCount": 2}]
    if init is not None:
        pod["status"]["initContainerStatuses"] = [{"name": "i", "state": init}]
    if deleting:
        pod["metadata"]["deletionTimestamp"] = "2026-01-02T11:59:00Z"
    return pod


@pytest.mark.parametrize(
    ("pod", "status", "health"),
    [
        (pod_with({"running": {}}), "Running", "running"),
        (pod_with({"waiting": {"reason": "CrashLoopBackOff"}}), "CrashLoopBackOff", "failed"),
        (pod_with({"waiting": {"reason": "ImagePullBackOff"}}, phase="Pending"), "ImagePullBackOff", "failed"),
        (pod_with({"waiting": {"reason": "ContainerCreating"}}, phase="Pending"), "ContainerCreating", "pending"),
        (pod_with({"waiting": {"reason": "CreateContainerConfigError"}}, phase="Pending"), "CreateContainerConfigError", "failed"),
        (pod_with({"terminated": {"reason": "Completed", "exitCode": 0}}, phase="Succeeded"), "Completed", "succeeded"),
        (pod_with({"terminated": {"reason": "OOMKilled", "exitCode": 137}}, phase="Failed"), "OOMKilled", "failed"),
        (pod_with({"terminated": {"reason": "Error", "exitCode": 1}}, phase="Failed"), "Error", "failed"),
        (pod_with({"running": {}}, deleting=True), "Terminating", "pending"),
        (pod_with(None, phase="Pending"), "Pending", "pending"),
        (pod_with({"waiting": {"reason": "PodInitializing"}}, phase="Pending",
                  init={"waiting": {"reason": "CrashLoopBackOff"}}), "Init:CrashLoopBackOff", "failed"),
    ],
)
def test_pod_status_like_kubectl(pod, status, health):
    assert fmt.pod_summary(pod, NOW).status == status
    assert fmt.pod_health(status) == health


def test_ready_and_restarts():
    summary = fmt.pod_summary(pod_with({"running": {}}), NOW)
    assert (summary.ready, summary.restarts, summary.restarts_text) == ("0/1", 2, "2")


@pytest.mark.parametrize(
    ("created", "expected"),
    [("2026-01-02T11:59:30Z", "30s"), ("2026-01-02T11:00:00Z", "60m"),
     ("2026-01-02T02:00:00Z", "10h"), ("2025-12-20T12:00:00Z", "13d"), (None, "<unknown>")],
)
def test_age(created, expected):
    assert fmt.age(created, NOW) == expected


def test_quantity_display():
    assert fmt.fmt_cpu(0.3) == "300m"
    assert fmt.fmt_cpu(4.0) == "4"
    assert fmt.fmt_memory(8 * 2**30) == "8Gi"


def test_services():
    svc = {"spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}}
    assert fmt.service_ports(svc) == "80:30080/TCP"
    assert fmt.service_url(svc) == "http://127.0.0.1:30080"
    assert fmt.service_url({"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}) == ""
    assert fmt.service_url({"spec": {"type": "ExternalName", "externalName": "db.example.com"}}) == "db.example.com"


def test_label_selector():
    labels = {"app": "web", "tier": "front"}
    assert fmt.labels_match(labels, "app=web")
    assert fmt.labels_match(labels, "app=web,tier")
    assert not fmt.labels_match(labels, "app!=web")
    assert not fmt.labels_match(labels, "missing")
    assert fmt.labels_match(labels, "!missing")


def test_secret_masked_everywhere_unless_revealed():
    secret = {"kind": "Secret", "metadata": {"name": "s", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"k":"aHVudGVyMg=="}}'}},
        "data": {"k": "aHVudGVyMg=="}, "stringData": {"plain": "hunter3"}}
    for text in (describe.to_yaml(secret), describe.describe(secret, [], NOW)):
        assert "aHVudGVyMg==" not in text and "hunter3" not in text and fmt.MASK in text
    revealed = describe.to_yaml(secret, reveal=True)
    assert "hunter2" in revealed and "hunter3" in revealed


def test_describe_lists_only_the_objects_events():
    pod = {"kind": "Pod", "metadata": {"name": "web-1", "namespace": "default", "uid": "u1",
           "creationTimestamp": "2026-01-02T11:00:00Z"}, "spec": {}, "status": {"phase": "Running"}}
    events = [
        {"involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "u1"},
         "type": "Normal", "reason": "Scheduled", "message": "assigned to node-1",
         "lastTimestamp": "2026-01-02T11:00:01Z"},
        {"involvedObject": {"kind": "Pod", "name": "web-2", "namespace": "default", "uid": "u2"},
         "type": "Warning", "reason": "BackOff", "message": "other pod"},
    ]
    text = describe.describe(pod, events, NOW)
    assert "Scheduled" in text and "assigned to node-1" in text
    assert "other pod" not in text


def test_views_and_short_names():
    assert resolve("deploy") is VIEWS["deployments"]
    assert resolve("svc").plural == "services"
    assert resolve("pvcs").plural == "persistentvolumeclaims"
    assert resolve("nope") is None
    cells, health = VIEWS["pods"].row(pod_with({"running": {}}), NOW)
    assert VIEWS["pods"].headers == ("NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE")
    assert cells[3] == "Running" and health == "running"
