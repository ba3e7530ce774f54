"""Protobuf request bodies (engine/api/protobuf.py) decode to the dict the JSON body of the
same object gives.

Two kinds of input: bodies captured from the real kubectl 1.33 (`kubectl create ...`
against a recording server), compared with what `--dry-run=client -o json` prints for the
same command; and objects encoded here with the shipped descriptors, written the way Go's
marshaller writes them (every non-pointer scalar, zero or not), so the rules for zeros,
inlined fields and the special types are each exercised.
"""

from __future__ import annotations

import base64
import json

import pytest

from kubedeck.engine.api import protobuf
from kubedeck.engine.store import StoreError

# kubectl.1.33 create deployment web --image=busybox:1.36 --replicas=0 --port=8080 -- sleep 3600
KUBECTL_DEPLOYMENT = bytes.fromhex(
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412d0010a1f0a0377656212001a0022002a00320038"
    "0042005a0a0a036170701203776562129e010800120c0a0a0a0361707012037765621a83010a1c0a0012001a0022002a"
    "003200380042005a0a0a036170701203776562126312450a0762757379626f78120c62757379626f783a312e33361a05"
    "736c6565701a04333630302a00320b0a00100018903f22002a0042006a007200800100880100900100a201001a003200"
    "42004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a00"
    "2200")
KUBECTL_DEPLOYMENT_JSON = {
    "kind": "Deployment", "apiVersion": "apps/v1",
    "metadata": {"name": "web", "creationTimestamp": None, "labels": {"app": "web"}},
    "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "busybox", "image": "busybox:1.36",
                                                   "command": ["sleep", "3600"],
                                                   "ports": [{"containerPort": 8080}], "resources": {}}]}},
             "strategy": {}},
    "status": {}}
# kubectl.1.33 create service nodeport web --tcp=80:http
KUBECTL_SERVICE = bytes.fromhex(
    "6b3873000a0d0a027631120753657276696365126b0a1f0a0377656212001a0022002a003200380042005a0a0a036170"
    "70120377656212440a1e0a0738302d6874747012035443501850220a080110001a04687474702800120a0a0361707012"
    "037765621a0022084e6f6465506f72743a00420052005a00600068001a020a001a002200")
KUBECTL_SERVICE_JSON = {
    "kind": "Service", "apiVersion": "v1",
    "metadata": {"name": "web", "creationTimestamp": None, "labels": {"app": "web"}},
    "spec": {"ports": [{"name": "80-http", "protocol": "TCP", "port": 80, "targetPort": "http"}],
             "selector": {"app": "web"}, "type": "NodePort"},
    "status": {"loadBalancer": {}}}


def message(name: str):
    types = protobuf._types()
    return types.get_class(types.pool.FindMessageTypeByName(name))()


def envelope(api_version: str, kind: str, obj) -> bytes:
    unknown = message("k8s.io.apimachinery.pkg.runtime.Unknown")
    unknown.typeMeta.apiVersion, unknown.typeMeta.kind = api_version, kind
    unknown.raw = obj.SerializeToString()
    return protobuf.MAGIC + unknown.SerializeToString()


def go_meta(meta, name: str) -> None:
    """ObjectMeta as Go writes a new object's: every non-pointer field, zero or not."""
    meta.name = name
    meta.generateName = meta.namespace = meta.selfLink = meta.uid = meta.resourceVersion = ""
    meta.generation = 0
    meta.creationTimestamp.SetInParent()  # Go's zero Time: an empty message


def test_real_kubectl_bodies_equal_their_json():
    assert protobuf.decode(KUBECTL_DEPLOYMENT) == KUBECTL_DEPLOYMENT_JSON
    assert protobuf.decode(KUBECTL_SERVICE) == KUBECTL_SERVICE_JSON


def test_deployment_with_probes_quantities_and_intstr_ports():
    d = message("k8s.io.api.apps.v1.Deployment")
    go_meta(d.metadata, "web")
    d.metadata.creationTimestamp.seconds = 1700000000
    d.spec.replicas = 2
    d.spec.minReadySeconds = 0  # non-pointer, omitempty: JSON drops it
    d.spec.paused = False
    d.spec.selector.matchLabels["app"] = "web"
    d.spec.template.metadata.labels["app"] = "web"
    pod = d.spec.template.spec
    pod.terminationGracePeriodSeconds = 0  # a pointer: the zero is kept
    pod.automountServiceAccountToken = False
    c = pod.containers.add(name="web", image="busybox:1.36", workingDir="", stdin=False, tty=False)
    c.args.extend(["httpd", "-f"])
    c.ports.add(name="http", containerPort=8080, protocol="TCP", hostPort=0)
    c.resources.limits["cpu"].string = "500m"
    c.resources.limits["memory"].string = "64Mi"
    c.resources.requests["cpu"].string = "100m"
    # on the wire, ProbeHandler and VolumeSource are fields of their own (`handler`, `volumeSource`)
    c.readinessProbe.handler.httpGet.path = "/"
    c.readinessProbe.handler.httpGet.port.type = 1
    c.readinessProbe.handler.httpGet.port.strVal = "http"
    c.readinessProbe.handler.httpGet.port.intVal = 0
    c.readinessProbe.periodSeconds = 1
    c.readinessProbe.initialDelaySeconds = 0
    c.livenessProbe.handler.tcpSocket.port.type = 0
    c.livenessProbe.handler.tcpSocket.port.intVal = 8080
    vol = pod.volumes.add(name="conf")
    vol.volumeSource.configMap.localObjectReference.name = "conf"  # inlined too
    vol.volumeSource.configMap.defaultMode = 420
    strategy = d.spec.strategy
    strategy.type = "RollingUpdate"
    strategy.rollingUpdate.maxSurge.type = 1
    strategy.rollingUpdate.maxSurge.strVal = "25%"
    strategy.rollingUpdate.maxUnavailable.type = 0
    strategy.rollingUpdate.maxUnavailable.intVal = 0
    d.status.SetInParent()

    assert protobuf.decode(envelope("apps/v1", "Deployment", d)) == {
        "kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "web", "creationTimestamp": "2023-11-14T22:13:20Z"},
        "spec": {
            "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                "terminationGracePeriodSeconds": 0, "automountServiceAccountToken": False,
                "containers": [{
                    "name": "web", "image": "busybox:1.36", "args": ["httpd", "-f"],
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "100m"}},
                    "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
                    "livenessProbe": {"tcpSocket": {"port": 8080}},
                }],
                # VolumeSource is inlined into Volume in JSON; defaultMode is a pointer
                "volumes": [{"name": "conf", "configMap": {"name": "conf", "defaultMode": 420}}],
            }},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
        },
        "status": {}}


def test_configmap_binary_data_and_empty_values():
    cm = message("k8s.io.api.core.v1.ConfigMap")
    go_meta(cm.metadata, "conf")
    cm.data["greeting"] = "hello"
    cm.data["empty"] = ""
    cm.binaryData["blob"] = b"\x00\xff\x10k8s"
    cm.immutable = False  # a pointer: false is a value
    assert protobuf.decode(envelope("v1", "ConfigMap", cm)) == {
        "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "conf", "creationTimestamp": None},
        "data": {"greeting": "hello", "empty": ""},
        "binaryData": {"blob": base64.b64encode(b"\x00\xff\x10k8s").decode()},
        "immutable": False}


def test_service_ports_and_int64_stay_numbers():
    svc = message("k8s.io.api.core.v1.Service")
    go_meta(svc.metadata, "web")
    svc.metadata.deletionGracePeriodSeconds = 9_000_000_000  # int64: json_format would give a string
    svc.spec.type = "NodePort"
    svc.spec.selector["app"] = "web"
    svc.spec.ports.add(name="", protocol="TCP", port=80, nodePort=0)
    svc.spec.ports[0].targetPort.type = 0
    svc.spec.ports[0].targetPort.intVal = 8080
    svc.spec.clusterIP = ""
    svc.status.loadBalancer.SetInParent()
    out = protobuf.decode(envelope("v1", "Service", svc))
    assert out == {
        "kind": "Service", "apiVersion": "v1",
        "metadata": {"name": "web", "creationTimestamp": None, "deletionGracePeriodSeconds": 9_000_000_000},
        "spec": {"type": "NodePort", "selector": {"app": "web"},
                 "ports": [{"protocol": "TCP", "port": 80, "targetPort": 8080}]},
        "status": {"loadBalancer": {}}}
    assert json.dumps(out["metadata"]["deletionGracePeriodSeconds"]) == "9000000000"


def test_micro_time_raw_extension_managed_fields_and_nulls():
    lease = message("k8s.io.api.coordination.v1.Lease")
    go_meta(lease.metadata, "lock")
    entry = lease.metadata.managedFields.add(manager="kubectl", operation="Update", apiVersion="v1",
                                             fieldsType="FieldsV1")
    entry.fieldsV1.Raw = b'{"f:spec":{"f:holderIdentity":{}}}'
    entry.time.seconds = 1700000000
    lease.spec.holderIdentity = "me"
    lease.spec.renewTime.seconds = 1700000001
    lease.spec.renewTime.nanos = 123456789
    assert protobuf.decode(envelope("coordination.k8s.io/v1", "Lease", lease))["spec"] == {
        "holderIdentity": "me", "renewTime": "2023-11-14T22:13:21.123456Z"}
    assert protobuf.decode(envelope("coordination.k8s.io/v1", "Lease", lease))["metadata"]["managedFields"] == [
        {"manager": "kubectl", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
         "time": "2023-11-14T22:13:20Z", "fieldsV1": {"f:spec": {"f:holderIdentity": {}}}}]

    rev = message("k8s.io.api.apps.v1.ControllerRevision")
    go_meta(rev.metadata, "web-1")
    rev.data.raw = b'{"spec":{"template":{"metadata":{"labels":{"a":"b"}}}}}'
    rev.revision = 1
    assert protobuf.decode(envelope("apps/v1", "ControllerRevision", rev))["data"] == {
        "spec": {"template": {"metadata": {"labels": {"a": "b"}}}}}

    role = message("k8s.io.api.rbac.v1.ClusterRole")  # `rules` has no omitempty: a nil list is null
    go_meta(role.metadata, "agg")
    role.aggregationRule.clusterRoleSelectors.add().matchLabels["a"] = "b"
    assert protobuf.decode(envelope("rbac.authorization.k8s.io/v1", "ClusterRole", role))["rules"] is None

    csr = message("k8s.io.api.certificates.v1.CertificateSigningRequest")
    go_meta(csr.metadata, "csr")
    csr.spec.signerName = "example.com/x"
    csr.spec.extra["groups"].items.extend(["a", "b"])
    assert protobuf.decode(envelope("certificates.k8s.io/v1", "CertificateSigningRequest", csr))["spec"][
        "extra"] == {"groups": ["a", "b"]}


def test_delete_options_of_any_group_are_meta_v1s():
    opts = message("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions")
    opts.propagationPolicy = "Foreground"
    opts.gracePeriodSeconds = 0
    assert protobuf.decode(envelope("apps/v1", "DeleteOptions", opts)) == {
        "kind": "DeleteOptions", "apiVersion": "apps/v1", "propagationPolicy": "Foreground",
        "gracePeriodSeconds": 0}


@pytest.mark.parametrize(("body", "code", "message"), [
    (b"", 400, "the object provided is unrecognized: empty data"),
    (b'{"kind": "ConfigMap"}', 400, "provided data does not appear to be a protobuf message, "
                                    "expected prefix [107 56 115 0]"),
    (protobuf.MAGIC, 400, "empty body"),
    (protobuf.MAGIC + b"\x0a\xff", 400, "runtime.Unknown: Error parsing message"),
    (KUBECTL_SERVICE[:-20], 400, "runtime.Unknown: Error parsing message"),
    (protobuf.MAGIC + b"\x0a\x04\x0a\x02v1", 400, "Object 'Kind' is missing"),
    (protobuf.MAGIC + b"\x0a\x05\x12\x03Pod", 400, "Object 'apiVersion' is missing"),
])
def test_malformed_bodies_are_400(body, code, message):
    with pytest.raises(StoreError) as e:
        protobuf.decode(body)
    assert (e.value.code, e.value.reason) == (code, "BadRequest")
    assert message in e.value.message


def test_a_broken_object_inside_a_good_envelope_names_its_kind():
    unknown = message("k8s.io.apimachinery.pkg.runtime.Unknown")
    unknown.typeMeta.apiVersion, unknown.typeMeta.kind = "apps/v1", "Deployment"
    unknown.raw = b"\x0a\x05\x0a\x03we"  # metadata's length runs past the end
    with pytest.raises(StoreError) as e:
        protobuf.decode(protobuf.MAGIC + unknown.SerializeToString())
    assert e.value.code == 400
    assert e.value.message.startswith('the object provided is unrecognized: Deployment in version "v1" '
                                      "cannot be handled as a Deployment: ")


def test_unknown_kinds_and_groups():
    with pytest.raises(StoreError) as e:
        protobuf.decode(envelope("v1", "Gadget", message("k8s.io.api.core.v1.ConfigMap")))
    assert (e.value.code, e.value.message) == (
        400, 'the object provided is unrecognized: no kind "Gadget" is registered for version "v1"')
    # a custom resource's group: the API server takes no protobuf for those
    with pytest.raises(StoreError) as e:
        protobuf.decode(envelope("example.com/v1", "Widget", message("k8s.io.api.core.v1.ConfigMap")))
    assert (e.value.code, e.value.reason) == (415, "UnsupportedMediaType")
    assert "accepted media types include: application/json, application/yaml" in e.value.message
