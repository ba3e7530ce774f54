"""Golden headers: `kubedeck get KIND` (cli/printers.py) and the API's Table print kubectl's
columns for every kind kubedeck serves (engine/manifests/kinds.py), from the API server's
printers (`pkg/printers/internalversion/printers.go`; APIService from kube-aggregator);
kinds without a printer there (Role, ClusterRole, LimitRange, CRDs) get the API server's
default table (NAME, CREATED AT). Every kind kubedeck serves must be listed here."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from kubedeck import printers
from kubedeck.engine.manifests.kinds import KINDS
from kubedeck.engine.present.table import table

NOW = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)

#: kind -> (columns of `kubectl get`, extra columns of `kubectl get -o wide`)
KUBECTL = {
    "Pod": ("NAME READY STATUS RESTARTS AGE", "IP|NODE|NOMINATED NODE|READINESS GATES"),
    "Node": ("NAME STATUS ROLES AGE VERSION", "INTERNAL-IP|EXTERNAL-IP|OS-IMAGE|KERNEL-VERSION|CONTAINER-RUNTIME"),
    "Deployment": ("NAME READY UP-TO-DATE AVAILABLE AGE", "CONTAINERS|IMAGES|SELECTOR"),
    "ReplicaSet": ("NAME DESIRED CURRENT READY AGE", "CONTAINERS|IMAGES|SELECTOR"),
    "StatefulSet": ("NAME READY AGE", "CONTAINERS|IMAGES"),
    "DaemonSet": ("NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE_SELECTOR AGE", "CONTAINERS|IMAGES|SELECTOR"),
    "Job": ("NAME STATUS COMPLETIONS DURATION AGE", "CONTAINERS|IMAGES|SELECTOR"),
    "CronJob": ("NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST_SCHEDULE AGE", "CONTAINERS|IMAGES|SELECTOR"),
    "Service": ("NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE", "SELECTOR"),
    "Endpoints": ("NAME ENDPOINTS AGE", ""),
    "EndpointSlice": ("NAME ADDRESSTYPE PORTS ENDPOINTS AGE", ""),
    "Ingress": ("NAME CLASS HOSTS ADDRESS PORTS AGE", ""),
    "IngressClass": ("NAME CONTROLLER PARAMETERS AGE", ""),
    "ConfigMap": ("NAME DATA AGE", ""),
    "Secret": ("NAME TYPE DATA AGE", ""),
    "PersistentVolumeClaim": ("NAME STATUS VOLUME CAPACITY ACCESS_MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE",
                              "VOLUMEMODE"),
    "Namespace": ("NAME STATUS AGE", ""),
    "Event": ("LAST_SEEN TYPE REASON OBJECT MESSAGE", "SUBOBJECT|SOURCE|FIRST SEEN|COUNT|NAME"),
    "ServiceAccount": ("NAME SECRETS AGE", ""),
    "HorizontalPodAutoscaler": ("NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE", ""),
    "NetworkPolicy": ("NAME POD-SELECTOR AGE", ""),
    "PodDisruptionBudget": ("NAME MIN_AVAILABLE MAX_UNAVAILABLE ALLOWED_DISRUPTIONS AGE", ""),
    "RoleBinding": ("NAME ROLE AGE", "USERS|GROUPS|SERVICEACCOUNTS"),
    "ClusterRoleBinding": ("NAME ROLE AGE", "USERS|GROUPS|SERVICEACCOUNTS"),
    "ReplicationController": ("NAME DESIRED CURRENT READY AGE", "CONTAINERS|IMAGES|SELECTOR"),
    "PodTemplate": ("NAME CONTAINERS IMAGES POD_LABELS", ""),
    "ResourceQuota": ("NAME AGE REQUEST LIMIT", ""),
    "PersistentVolume": ("NAME CAPACITY ACCESS_MODES RECLAIM_POLICY STATUS CLAIM STORAGECLASS VOLUMEATTRIBUTESCLASS "
                         "REASON AGE", "VOLUMEMODE"),
    "ControllerRevision": ("NAME CONTROLLER REVISION AGE", ""),
    "Lease": ("NAME HOLDER AGE", ""),
    "PriorityClass": ("NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY", ""),
    "RuntimeClass": ("NAME HANDLER AGE", ""),
    "StorageClass": ("NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE", ""),
    "CSIDriver": ("NAME ATTACHREQUIRED PODINFOONMOUNT STORAGECAPACITY TOKENREQUESTS REQUIRESREPUBLISH MODES AGE", ""),
    "VolumeAttachment": ("NAME ATTACHER PV NODE ATTACHED AGE", ""),
    "CertificateSigningRequest": ("NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION", ""),
    "MutatingWebhookConfiguration": ("NAME WEBHOOKS AGE", ""),
    "ValidatingWebhookConfiguration": ("NAME WEBHOOKS AGE", ""),
    "FlowSchema": ("NAME PRIORITYLEVEL MATCHINGPRECEDENCE DISTINGUISHERMETHOD AGE MISSINGPL", ""),
    "PriorityLevelConfiguration": ("NAME TYPE NOMINALCONCURRENCYSHARES QUEUES HANDSIZE QUEUELENGTHLIMIT AGE", ""),
    "APIService": ("NAME SERVICE AVAILABLE AGE", ""),
    # no printer in Kubernetes: the API server's default table
    "Role": ("NAME CREATED_AT", ""),
    "ClusterRole": ("NAME CREATED_AT", ""),
    "LimitRange": ("NAME CREATED_AT", ""),
    "CustomResourceDefinition": ("NAME CREATED_AT", ""),
}
#: Where wide columns go in kubectl's wide order (Event's interleave with the normal ones).
EVENT_WIDE = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST SEEN", "COUNT", "NAME"]


def test_every_kind_kubedeck_serves_has_kubectls_columns_listed():
    assert sorted(KINDS) == sorted(KUBECTL)


def expected(kind: str, *, wide: bool) -> list[str]:
    normal, extra = KUBECTL[kind]
    cols = [c.replace("_", " ") for c in normal.split()]
    if kind == "Event" and wide:
        return EVENT_WIDE
    return cols + (extra.split("|") if wide and extra else [])


def sample(kind: str) -> dict:
    """A small object of `kind` with a name, a namespace and a creation time."""
    api_version, _, namespaced, _ = KINDS[kind]
    meta = {"name": f"x-{kind.lower()}", "creationTimestamp": "2026-01-02T11:00:00Z", "uid": f"uid-{kind}"}
    if namespaced:
        meta["namespace"] = "default"
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def header(text: str) -> list[str]:
    return re.split(r" {3,}", text.splitlines()[0])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_kubedeck_get_header_is_kubectls(kind):
    assert header(printers.table(kind, [sample(kind)], all_namespaces=False)) == expected(kind, wide=False)
    assert header(printers.table(kind, [sample(kind)], all_namespaces=False, wide=True)) == expected(kind, wide=True)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_table_columns_are_kubectls(kind):
    data = table(kind, [sample(kind)], now=NOW)
    defs = data["columnDefinitions"]
    assert [c["name"].upper() for c in defs] == expected(kind, wide=True)
    assert [c["name"].upper() for c in defs if c["priority"] == 0] == expected(kind, wide=False)
    assert all(set(c) == {"name", "type", "format", "description", "priority"} for c in defs)
    assert all(c["type"] in ("string", "integer", "boolean", "date") and c["description"] for c in defs)
    names = [c for c in defs if c["format"] == "name"]  # VolumeAttachment's Attacher is one too
    assert names[0]["name"] == "Name" and len(names) == (2 if kind == "VolumeAttachment" else 1)
    assert len(data["rows"][0]["cells"]) == len(defs)


def test_all_namespaces_adds_namespace_in_front_for_namespaced_kinds_only():
    assert header(printers.table("Pod", [sample("Pod")], all_namespaces=True))[:2] == ["NAMESPACE", "NAME"]
    assert header(printers.table("Node", [sample("Node")], all_namespaces=True))[0] == "NAME"
    line = printers.table("Pod", [sample("Pod")], all_namespaces=True, now=NOW).splitlines()[1]
    assert line.split() == ["default", "x-pod", "0/0", "0", "60m"]


def test_watch_lines_have_no_header():
    assert printers.table("ConfigMap", [sample("ConfigMap")], all_namespaces=False, headers=False, now=NOW).split() == [
        "x-configmap", "0", "60m"]
