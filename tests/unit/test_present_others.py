"""Cells of kubectl's printers for the kinds kubedeck stores but does not act on
(engine/present/others.py), as `kubectl get` shows them from a real API server."""

from __future__ import annotations

from datetime import UTC, datetime

from kubedeck import printers
from kubedeck.engine.present.columns import printer_for

NOW = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)


def meta(name: str, **extra) -> dict:
    return {"name": name, "namespace": "default", "creationTimestamp": "2026-01-02T11:00:00Z", **extra}


def row(kind: str, obj: dict) -> dict:
    return printer_for(kind).row(obj, NOW)


def test_hpa_reference_targets_and_defaults():
    hpa = {"metadata": meta("web"), "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 5,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                "averageUtilization": 80}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                                   "averageValue": "100Mi"}}}]},
        "status": {"currentReplicas": 2, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 35}}}]}}
    cells = row("HorizontalPodAutoscaler", hpa)
    assert cells == {"NAME": "web", "REFERENCE": "Deployment/web", "TARGETS": "cpu: 35%/80%, memory: <unknown>/100Mi",
                     "MINPODS": "1", "MAXPODS": "5", "REPLICAS": "2", "AGE": "60m"}
    v1 = {"metadata": meta("old"), "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "old"},
                                            "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}}
    assert row("HorizontalPodAutoscaler", v1)["TARGETS"] == "cpu: <unknown>/50%"
    assert row("HorizontalPodAutoscaler", {"metadata": meta("none"), "spec": {}})["TARGETS"] == "<none>"


def test_bindings_list_subjects_when_wide():
    rb = {"metadata": meta("read"), "roleRef": {"kind": "ClusterRole", "name": "view"},
          "subjects": [{"kind": "User", "name": "ann"}, {"kind": "ServiceAccount", "name": "bot", "namespace": "ci"},
                       {"kind": "Group", "name": "devs"}, {"kind": "User", "name": "bob"}]}
    text = printers.table("RoleBinding", [rb], all_namespaces=False, wide=True, now=NOW).splitlines()
    assert text[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert row("RoleBinding", rb) == {"NAME": "read", "ROLE": "ClusterRole/view", "AGE": "60m", "USERS": "ann, bob",
                                      "GROUPS": "devs", "SERVICEACCOUNTS": "ci:bot"}


def test_storage_kinds():
    sc = {"metadata": meta("local", annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
          "provisioner": "kubedeck.io/docker-volume"}
    assert list(row("StorageClass", sc).values()) == ["local (default)", "kubedeck.io/docker-volume", "Delete",
                                                      "Immediate", False, "60m"]
    pv = {"metadata": meta("pv1"), "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                            "claimRef": {"namespace": "default", "name": "data"},
                                            "storageClassName": "local"}, "status": {"phase": "Bound"}}
    assert list(row("PersistentVolume", pv).values()) == ["pv1", "1Gi", "RWO", "Retain", "Bound", "default/data",
                                                          "local", "<unset>", "", "60m", "Filesystem"]
    driver = {"metadata": meta("csi.example.com"), "spec": {}}
    assert list(row("CSIDriver", driver).values()) == ["csi.example.com", True, False, False, "<unset>", False,
                                                       "Persistent", "60m"]


def test_control_plane_kinds():
    csr = {"metadata": meta("req"), "spec": {"signerName": "kubernetes.io/kube-apiserver-client",
                                             "username": "ann", "expirationSeconds": 86400},
           "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"}}
    assert list(row("CertificateSigningRequest", csr).values()) == [
        "req", "60m", "kubernetes.io/kube-apiserver-client", "ann", "24h", "Approved,Issued"]
    assert row("APIService", {"metadata": meta("v1.apps"), "spec": {}})["SERVICE"] == "Local"
    metrics = {"metadata": meta("v1beta1.metrics.k8s.io"), "spec": {"service": {"namespace": "kube-system",
                                                                               "name": "metrics-server"}},
               "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]}}
    assert list(row("APIService", metrics).values())[1:3] == ["kube-system/metrics-server", "False (MissingEndpoints)"]
    revision = {"metadata": meta("web-5d4f", ownerReferences=[{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                                                "name": "web", "controller": True}]), "revision": 3}
    assert list(row("ControllerRevision", revision).values()) == ["web-5d4f", "statefulset.apps/web", "3", "60m"]
    quota = {"metadata": meta("q"), "status": {"hard": {"limits.cpu": "2", "pods": "10", "requests.cpu": "1"},
                                               "used": {"pods": "3"}}}
    assert list(row("ResourceQuota", quota).values()) == ["q", "60m", "pods: 3/10, requests.cpu: 0/1",
                                                          "limits.cpu: 0/2"]
