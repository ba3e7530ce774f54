"""Server-side apply and managedFields (engine/api/ssa.py), as pure functions.

The expected FieldsV1 documents are derived from structured-merge-diff v4.4 (what a 1.30
API server runs): ToFieldSet members, sorted path elements, "." written after the
children of a node that is also a member, map-list keys as sorted compact JSON.
"""

import copy
import json
import re

import pytest
from kubedeck.engine.fieldmanager.fieldset import from_fields_v1, to_fields_v1
from kubedeck.engine.fieldmanager.ssa import (
    LAST_APPLIED,
    ApplyConflict,
    FieldSetError,
    default_manager,
    server_side_apply,
    track_update,
)

DEPLOY = {"api_version": "apps/v1", "kind": "Deployment"}


def deployment(**spec_overrides):
    dep = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "web", "image": "nginx:1.25",
                    "ports": [{"containerPort": 80}],
                    "env": [{"name": "A", "value": "1"}],
                }]},
            },
        },
    }
    dep["spec"].update(spec_overrides)
    return dep


def apply(live, config, manager="kubectl", force=False, **kw):
    return server_side_apply(live, config, manager=manager, force=force, **{**DEPLOY, **kw})


def entries(obj):
    return {(e["manager"], e["operation"], e.get("subresource", "")): e
            for e in obj["metadata"].get("managedFields", [])}


def owned(obj, manager, operation="Apply", subresource=""):
    entry = entries(obj).get((manager, operation, subresource))
    return from_fields_v1(entry["fieldsV1"]) if entry else set()


def container(obj, name="web"):
    return next(c for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == name)


# What a 1.30 API server writes for the apply of deployment(): atomic selector is one
# leaf, containers by name, ports by containerPort+protocol (protocol defaulted to TCP),
# env by name, and no "." on struct fields or map entries.
EXPECTED_FIELDS_V1 = (
    '{"f:metadata":{"f:labels":{"f:app":{}}},'
    '"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{'
    '"f:metadata":{"f:labels":{"f:app":{}}},'
    '"f:spec":{"f:containers":{"k:{\\"name\\":\\"web\\"}":{'
    '"f:env":{"k:{\\"name\\":\\"A\\"}":{"f:name":{},"f:value":{},".":{}}},'
    '"f:image":{},"f:name":{},'
    '"f:ports":{"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":{"f:containerPort":{},".":{}}},'
    '".":{}}}}}}}'
)


def test_first_apply_creates_with_one_apply_entry_as_a_real_server_writes_it():
    obj = apply(None, deployment())
    assert obj["spec"]["replicas"] == 2 and container(obj)["image"] == "nginx:1.25"
    [entry] = obj["metadata"]["managedFields"]
    assert list(entry) == ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]
    assert entry["manager"] == "kubectl" and entry["operation"] == "Apply"
    assert entry["apiVersion"] == "apps/v1" and entry["fieldsType"] == "FieldsV1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["time"])
    assert json.dumps(entry["fieldsV1"], separators=(",", ":")) == EXPECTED_FIELDS_V1


def test_fields_v1_round_trips_and_parses_dot_as_membership():
    doc = json.loads(EXPECTED_FIELDS_V1)
    paths = from_fields_v1(doc)
    assert (("f", "spec"), ("f", "replicas")) in paths
    assert (("f", "spec"),) not in paths  # a struct field with members below is not one
    item = (("f", "spec"), ("f", "template"), ("f", "spec"), ("f", "containers"), ("k", '{"name":"web"}'))
    assert item in paths
    assert json.dumps(to_fields_v1(paths), separators=(",", ":")) == EXPECTED_FIELDS_V1


def test_reapply_without_a_field_removes_it():
    first = deployment(strategy={"type": "Recreate"})
    first["metadata"]["annotations"] = {"team": "a"}
    live = apply(None, first)
    second = deployment()
    second["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "B", "value": "2"}]
    out = apply(live, second)
    assert "strategy" not in out["spec"]  # the struct goes whole once nothing in it is owned
    assert "annotations" not in out["metadata"]
    assert container(out)["env"] == [{"name": "B", "value": "2"}]
    fields = json.dumps(entries(out)[("kubectl", "Apply", "")]["fieldsV1"])
    assert "strategy" not in fields and '\\"A\\"' not in fields and '\\"B\\"' in fields


def test_reapply_keeps_fields_it_never_applied():
    live = apply(None, deployment())
    live["status"] = {"replicas": 2}
    live["spec"]["revisionHistoryLimit"] = 10  # defaulted by the server: owned by no one
    out = apply(live, deployment(replicas=3))
    assert out["spec"]["replicas"] == 3
    assert out["spec"]["revisionHistoryLimit"] == 10 and out["status"] == {"replicas": 2}


def test_two_managers_sharing_a_field_keep_it_until_both_let_go():
    live = apply(None, deployment())
    shared = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web"}, "spec": {"replicas": 2}}
    live = apply(live, shared, manager="ops")  # same value: no conflict, both own it
    replicas = (("f", "spec"), ("f", "replicas"))
    assert replicas in owned(live, "kubectl") and replicas in owned(live, "ops")
    without = deployment()
    del without["spec"]["replicas"]
    live = apply(live, without)
    assert live["spec"]["replicas"] == 2  # ops still owns it
    assert replicas not in owned(live, "kubectl")
    live = apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                        "spec": {"paused": True}}, manager="ops")
    assert "replicas" not in live["spec"] and live["spec"]["paused"] is True


def test_conflict_with_an_update_manager_and_force_takes_ownership():
    live = apply(None, deployment())
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    live = track_update(live, scaled, manager="kubectl", subresource="scale", **DEPLOY)
    assert owned(live, "kubectl", "Update", "scale") == {(("f", "spec"), ("f", "replicas"))}
    with pytest.raises(ApplyConflict) as info:
        apply(live, deployment())
    err = info.value
    assert err.conflicts == [("kubectl", ".spec.replicas")]
    status = err.status()
    assert status["code"] == 409 and status["reason"] == "Conflict" and status["status"] == "Failure"
    assert status["message"] == ('Apply failed with 1 conflict: conflict with "kubectl" with subresource '
                                 '"scale" using apps/v1: .spec.replicas')
    assert status["details"]["causes"] == [{
        "type": "FieldManagerConflict", "field": ".spec.replicas",
        "message": 'conflict with "kubectl" with subresource "scale" using apps/v1'}]
    # the same value is no conflict: the applier shares the field
    assert apply(live, deployment(replicas=5))["spec"]["replicas"] == 5
    out = apply(live, deployment(), force=True)
    assert out["spec"]["replicas"] == 2
    assert ("kubectl", "Update", "scale") not in entries(out)  # its only field moved
    assert (("f", "spec"), ("f", "replicas")) in owned(out, "kubectl")


def test_conflicts_with_client_side_apply_list_every_field_by_manager():
    csa = deployment(replicas=3)
    container(csa)["image"] = "nginx:1.24"
    live = track_update(None, csa, manager="kubectl-client-side-apply", **DEPLOY)
    live = apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                        "spec": {"paused": False, "replicas": 3}}, manager="ops")
    with pytest.raises(ApplyConflict) as info:
        apply(live, deployment(paused=True))
    msg = info.value.status()["message"]
    assert msg == (
        'Apply failed with 4 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:\n'
        '- .spec.replicas\n'
        '- .spec.template.spec.containers[name="web"].image\n'
        'conflicts with "ops":\n'
        '- .spec.paused\n'
        '- .spec.replicas')
    assert [c["field"] for c in info.value.status()["details"]["causes"]][:2] == [
        ".spec.replicas", '.spec.template.spec.containers[name="web"].image']


def client_side_applied(config):
    """What `kubectl apply` (client-side) leaves: the annotation and an Update entry."""
    obj = copy.deepcopy(config)
    obj["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(config)}
    return track_update(None, obj, manager="kubectl-client-side-apply", **DEPLOY)


def test_kubectl_takes_over_fields_client_side_apply_left_as_applied():
    live = client_side_applied(deployment(replicas=3))
    with pytest.raises(ApplyConflict) as info:  # another manager: a plain conflict
        apply(live, deployment(), manager="ci")
    assert info.value.status()["message"] == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas')
    out = apply(live, deployment())  # kubectl: the live value is the last-applied one
    assert out["spec"]["replicas"] == 2
    replicas = (("f", "spec"), ("f", "replicas"))
    assert replicas in owned(out, "kubectl")
    assert replicas not in owned(out, "kubectl-client-side-apply", "Update")
    annotation = out["metadata"]["annotations"][LAST_APPLIED]
    assert annotation.endswith("\n") and json.loads(annotation) == deployment()


def test_kubectl_still_conflicts_where_the_live_value_left_the_last_applied_one():
    live = client_side_applied(deployment(replicas=3))
    edited = copy.deepcopy(live)
    edited["spec"]["replicas"] = 7  # a client-side apply whose annotation is stale
    edited["metadata"]["annotations"][LAST_APPLIED] = json.dumps(deployment(replicas=3))
    live = track_update(live, edited, manager="kubectl-client-side-apply", **DEPLOY)
    with pytest.raises(ApplyConflict) as info:
        apply(live, deployment())
    assert info.value.conflicts == [("kubectl-client-side-apply", ".spec.replicas")]


def test_map_keyed_lists_merge_per_item():
    live = apply(None, deployment())
    sidecar = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"template": {"spec": {"containers": [
                   {"name": "web", "env": [{"name": "C", "value": "3"}],
                    "ports": [{"containerPort": 80, "protocol": "UDP"}]},
                   {"name": "log", "image": "busybox:1.36"}]}}}}
    live = apply(live, sidecar, manager="mesh")
    web = container(live)
    assert web["image"] == "nginx:1.25"  # untouched fields of the shared item stay
    assert web["env"] == [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]
    assert web["ports"] == [{"containerPort": 80}, {"containerPort": 80, "protocol": "UDP"}]
    assert container(live, "log")["image"] == "busybox:1.36"
    mesh = owned(live, "mesh")
    ports = (("f", "spec"), ("f", "template"), ("f", "spec"), ("f", "containers"),
             ("k", '{"name":"web"}'), ("f", "ports"))
    assert ports + (("k", '{"containerPort":80,"protocol":"UDP"}'),) in mesh
    assert ports + (("k", '{"containerPort":80,"protocol":"TCP"}'),) not in mesh
    # the first manager re-applies with a new image: the sidecar and mesh's items stay
    new = deployment()
    container(new)["image"] = "nginx:1.26"
    out = apply(live, new)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["web", "log"]
    assert container(out)["image"] == "nginx:1.26" and len(container(out)["env"]) == 2


def test_map_list_order_follows_structured_merge_diff():
    # shared items in config order, a live-only item after the live item it followed
    def pod(*names):
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": [{"name": n, "image": "i"} for n in names]}}
    live = server_side_apply(None, pod("a", "c"), manager="m1", force=False, api_version="v1", kind="Pod")
    live = server_side_apply(live, pod("b"), manager="m2", force=False, api_version="v1", kind="Pod")
    assert [c["name"] for c in live["spec"]["containers"]] == ["a", "c", "b"]
    out = server_side_apply(live, pod("c", "a"), manager="m1", force=False, api_version="v1", kind="Pod")
    assert [c["name"] for c in out["spec"]["containers"]] == ["c", "b", "a"]


def test_set_lists_merge_per_value():
    def with_finalizers(*names):
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": list(names)}}
    kw = {"force": False, "api_version": "v1", "kind": "ConfigMap"}
    live = server_side_apply(None, with_finalizers("a/x"), manager="m1", **kw)
    live = server_side_apply(live, with_finalizers("b/y"), manager="m2", **kw)
    assert live["metadata"]["finalizers"] == ["a/x", "b/y"]
    m2 = next(e for e in live["metadata"]["managedFields"] if e["manager"] == "m2")
    assert m2["fieldsV1"] == {"f:metadata": {"f:finalizers": {'v:"b/y"': {}}}}
    out = server_side_apply(live, with_finalizers(), manager="m1", **kw)
    assert out["metadata"]["finalizers"] == ["b/y"]


def test_atomic_lists_are_replaced_and_owned_whole():
    first = deployment()
    container(first)["args"] = ["-a", "-b"]
    first["spec"]["template"]["spec"]["tolerations"] = [{"key": "k", "operator": "Exists"}]
    live = apply(None, first)
    args = (("f", "spec"), ("f", "template"), ("f", "spec"), ("f", "containers"),
            ("k", '{"name":"web"}'), ("f", "args"))
    assert args in owned(live, "kubectl")
    second = copy.deepcopy(first)
    container(second)["args"] = ["-c"]
    second["spec"]["template"]["spec"]["tolerations"] = [{"key": "j", "operator": "Exists"}]
    out = apply(live, second)
    assert container(out)["args"] == ["-c"]
    assert out["spec"]["template"]["spec"]["tolerations"] == [{"key": "j", "operator": "Exists"}]
    # another applier with other args conflicts on the whole list
    with pytest.raises(ApplyConflict) as info:
        apply(out, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                    "spec": {"template": {"spec": {"containers": [{"name": "web", "args": ["-d"]}]}}}},
              manager="other")
    assert info.value.conflicts == [("kubectl", '.spec.template.spec.containers[name="web"].args')]


def test_an_apply_that_changes_nothing_returns_the_live_object():
    live = apply(None, deployment())
    live["metadata"]["managedFields"][0]["time"] = "2020-01-01T00:00:00Z"
    assert apply(live, deployment()) == live  # same fields, same time: nothing to store


def test_status_and_server_set_metadata_in_the_config_are_ignored():
    config = deployment()
    config["status"] = {"replicas": 9}
    config["metadata"].update(uid="u-1", resourceVersion="7", generation=3,
                              creationTimestamp="2020-01-01T00:00:00Z", managedFields=[{"manager": "x"}])
    live = apply(None, deployment())
    live["metadata"].update(uid="real", resourceVersion="42")
    live["status"] = {"replicas": 2}
    out = apply(live, config)
    assert out["status"] == {"replicas": 2}
    assert out["metadata"]["uid"] == "real" and out["metadata"]["resourceVersion"] == "42"
    assert "generation" not in out["metadata"] and "creationTimestamp" not in out["metadata"]
    assert [e["manager"] for e in out["metadata"]["managedFields"]] == ["kubectl"]
    assert "f:status" not in out["metadata"]["managedFields"][0]["fieldsV1"]


def test_update_on_create_owns_every_field_with_dots_where_go_adds_them():
    obj = track_update(None, deployment(), manager="kubectl-create", **DEPLOY)
    [entry] = obj["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("kubectl-create", "Update")
    fields = entry["fieldsV1"]
    assert fields["f:metadata"]["f:labels"] == {"f:app": {}, ".": {}}  # a map created: owned
    assert "." not in fields["f:spec"] and "." not in fields["f:spec"]["f:template"]
    containers = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert "." not in containers  # a required list: present in every Go object
    assert containers['k:{"name":"web"}']["."] == {}
    assert containers['k:{"name":"web"}']["f:env"]["."] == {}


def test_update_takes_changed_fields_and_drops_emptied_entries():
    live = track_update(None, deployment(), manager="kubectl-create", **DEPLOY)
    edited = copy.deepcopy(live)
    edited["spec"]["replicas"] = 4
    edited["metadata"]["labels"]["tier"] = "front"
    live = track_update(live, edited, manager="kubectl-edit", **DEPLOY)
    edit = owned(live, "kubectl-edit", "Update")
    assert edit == {(("f", "spec"), ("f", "replicas")), (("f", "metadata"), ("f", "labels"), ("f", "tier"))}
    assert (("f", "spec"), ("f", "replicas")) not in owned(live, "kubectl-create", "Update")
    # status written through /status is owned there, and only there
    with_status = copy.deepcopy(live)
    with_status["status"] = {"replicas": 4}
    live = track_update(live, with_status, manager="kube-controller-manager", subresource="status", **DEPLOY)
    assert owned(live, "kube-controller-manager", "Update", "status") == {(("f", "status"), ("f", "replicas"))}
    # another edit takes both edit fields: kubectl-edit's entry goes
    again = copy.deepcopy(live)
    again["spec"]["replicas"] = 1
    del again["metadata"]["labels"]["tier"]
    live = track_update(live, again, manager="kubectl-patch", **DEPLOY)
    assert ("kubectl-edit", "Update", "") not in entries(live)
    assert [e["operation"] for e in live["metadata"]["managedFields"]] == ["Update"] * 3


def test_update_keeps_managed_fields_a_client_left_out_and_honours_ones_it_sends():
    live = apply(None, deployment())
    plain = copy.deepcopy(live)
    del plain["metadata"]["managedFields"]
    plain["spec"]["paused"] = True
    out = track_update(live, plain, manager="python", **DEPLOY)
    assert set(entries(out)) == {("kubectl", "Apply", ""), ("python", "Update", "")}
    cleared = copy.deepcopy(out)
    cleared["metadata"]["managedFields"] = [{}]
    assert "managedFields" not in track_update(out, cleared, manager="python", **DEPLOY)["metadata"]


def test_apply_entries_sort_before_update_entries():
    live = track_update(None, deployment(), manager="kubectl-create", **DEPLOY)
    live = apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                        "spec": {"paused": True}}, manager="zz")
    assert [(e["manager"], e["operation"]) for e in live["metadata"]["managedFields"]] == [
        ("zz", "Apply"), ("kubectl-create", "Update")]


def test_custom_resources_have_granular_maps_and_atomic_lists():
    kw = {"force": False, "api_version": "example.com/v1", "kind": "Widget"}
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
          "spec": {"size": 1, "tags": ["a", "b"], "nested": {"x": 1}}}
    live = server_side_apply(None, cr, manager="m1", **kw)
    assert live["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:spec": {".": {}, "f:nested": {".": {}, "f:x": {}}, "f:size": {}, "f:tags": {}}}
    out = server_side_apply(live, {**cr, "spec": {"nested": {"y": 2}}}, manager="m2", **kw)
    assert out["spec"] == {"size": 1, "tags": ["a", "b"], "nested": {"x": 1, "y": 2}}


def test_a_map_list_item_without_its_key_is_an_error():
    bad = deployment()
    bad["spec"]["template"]["spec"]["containers"][0]["env"] = [{"value": "1"}]
    with pytest.raises(FieldSetError) as info:
        apply(None, bad)
    assert str(info.value) == (
        '.spec.template.spec.containers[name="web"].env: element 0: associative list with keys '
        'has an element that omits key field "name" (and doesn\'t have default value)')


def test_default_manager_from_user_agent():
    assert default_manager("kubectl/v1.30.2 (linux/amd64) kubernetes/3968350") == "kubectl"
    assert default_manager("OpenAPI-Generator/30.1.0/python") == "OpenAPI-Generator"
    assert default_manager("my\x07tool") == "mytool"
    assert default_manager("x" * 300) == "x" * 128
    assert default_manager("") == ""
