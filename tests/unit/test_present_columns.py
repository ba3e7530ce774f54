"""Golden headers: `kubedeck get KIND` (cli/printers.py) and the API's Table print kubectl's
columns for every kind kubedeck serves (engine/manifests/kinds.py), from kubectl's own
printers (`pkg/printers/internalversion/printers.go`); kinds without a printer get the API
server's default table (NAME, CREATED AT)."""

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
}
#: Where wide columns go in kubectl's wide order (Event's interleave with the normal ones).
EVENT_WIDE = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST SEEN", "COUNT", "NAME"]


def expected(kind: str, *, wide: bool) -> list[str]:
    normal, extra = KUBECTL.get(kind, ("NAME CREATED_AT", ""))
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
    names = [c for c in defs if c["format"] == "name"]
    assert len(names) == 1 and names[0]["name"] == "Name"
    assert len(data["rows"][0]["cells"]) == len(defs)


def test_all_namespaces_adds_namespace_in_front_for_namespaced_kinds_only():
    assert header(printers.table("Pod", [sample("Pod")], all_namespaces=True))[:2] == ["NAMESPACE", "NAME"]
    assert header(printers.table("Node", [sample("Node")], all_namespaces=True))[0] == "NAME"
    line = printers.table("Pod", [sample("Pod")], all_namespaces=True, now=NOW).splitlines()[1]
    assert line.split() == ["default", "x-pod", "0/0", "0", "60m"]


def test_watch_lines_have_no_header():
    assert printers.table("ConfigMap", [sample("ConfigMap")], all_namespaces=False, headers=False, now=NOW).split() == [
        "x-configmap", "0", "60m"]
