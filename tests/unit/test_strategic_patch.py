"""Strategic merge patch, JSON patch and content-type dispatch (engine/api/strategic.py,
engine/api/patches.py).

The kubectl tests replay request bodies real kubectl sent (tests/unit/data/kubectl_patches.json
says how they were captured) against the object kubectl had read; the rest exercise each
directive on small objects."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from kubedeck.engine.api.patch_error import PatchError
from kubedeck.engine.api.patches import (
    MAX_JSON_PATCH_OPERATIONS,
    apply_patch,
    json_patch,
)
from kubedeck.engine.api.strategic import strategic_merge_patch

CAPTURED = json.loads((Path(__file__).parent / "data" / "kubectl_patches.json").read_text())
BASE = CAPTURED["base"]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p", "labels": {"app": "web", "tier": "fe"}, "finalizers": ["a", "b"]},
    "spec": {
        "containers": [{"name": "a", "image": "busybox:1.36", "command": ["sleep", "1"]},
                       {"name": "b", "image": "busybox:1.36"},
                       {"name": "c", "image": "busybox:1.36"}],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "securityContext": {"runAsUser": 1000},
    },
}


def kubectl(name: str) -> dict:
    """Apply a captured kubectl request to the object kubectl had read."""
    req = CAPTURED["requests"][name]
    return apply_patch(BASE, json.dumps(req["body"]).encode(), content_type=req["contentType"],
                       api_version="apps/v1", kind="Deployment")


def pod_patch(patch: dict, pod: dict = POD) -> dict:
    return strategic_merge_patch(pod, patch, api_version="v1", kind="Pod")


def names(items: list) -> list:
    return [i["name"] for i in items]


def directive_keys(value, path="") -> list:
    """Every `$...` key left anywhere in a value."""
    if isinstance(value, dict):
        return [f"{path}/{k}" for k in value if k.startswith("$")] + [
            p for k, v in value.items() for p in directive_keys(v, f"{path}/{k}")]
    if isinstance(value, list):
        return [p for v in value for p in directive_keys(v, path)]
    return []


def containers(obj: dict) -> list:
    return obj["spec"]["template"]["spec"]["containers"]


def env(container: dict) -> list:
    return [(e["name"], e["value"]) for e in container.get("env", [])]


# --- bodies real kubectl sends ------------------------------------------------------------

def test_kubectl_set_image_merges_the_container_by_name_and_keeps_the_order():
    base_before = copy.deepcopy(BASE)
    body = CAPTURED["requests"]["set_image"]["body"]
    assert "$setElementOrder/containers" in body["spec"]["template"]["spec"]
    out = kubectl("set_image")
    web, sidecar = containers(out)
    assert (web["name"], web["image"], sidecar["name"], sidecar["image"]) == (
        "web", "busybox:1.37", "sidecar", "busybox:1.36")
    assert env(web) == [("A", "1"), ("B", "2")] and web["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert directive_keys(out) == []
    assert BASE == base_before  # the stored object is not touched


def test_kubectl_set_env_merges_env_by_name_in_every_container():
    web, sidecar = containers(kubectl("set_env"))
    assert env(web) == [("A", "1"), ("B", "22"), ("D", "4")]
    assert env(sidecar) == [("B", "22"), ("D", "4")]


def test_kubectl_set_env_removal_sends_a_delete_directive():
    web, sidecar = containers(kubectl("set_env_remove"))
    assert env(web) == [("B", "2")] and "env" not in sidecar


def test_kubectl_rollout_restart_annotates_the_pod_template():
    out = kubectl("rollout_restart")
    meta = out["spec"]["template"]["metadata"]
    assert meta["labels"] == {"app": "web"}
    assert list(meta["annotations"]) == ["kubectl.kubernetes.io/restartedAt"]
    assert out["spec"]["template"]["spec"] == BASE["spec"]["template"]["spec"]


def test_kubectl_label_and_annotate_send_json_merge_patches():
    assert CAPTURED["requests"]["label"]["contentType"] == "application/merge-patch+json"
    assert CAPTURED["requests"]["annotate"]["contentType"] == "application/merge-patch+json"
    assert kubectl("label")["metadata"]["labels"] == {"app": "web", "color": "blue"}
    annotations = kubectl("annotate")["metadata"]["annotations"]
    assert annotations["note"] == "hi" and LAST_APPLIED in annotations


def test_kubectl_client_side_apply_three_way_patch():
    body = CAPTURED["requests"]["apply"]["body"]
    out = kubectl("apply")
    meta = out["metadata"]
    assert meta["labels"] == {"app": "web", "env": "prod"}  # tier: null
    assert meta["finalizers"] == ["example.com/a", "example.com/c"]  # union, delete list, set order
    assert meta["annotations"][LAST_APPLIED] == body["metadata"]["annotations"][LAST_APPLIED]
    spec = out["spec"]
    assert spec["strategy"] == {"type": "Recreate"}  # $retainKeys dropped rollingUpdate
    sidecar, web = containers(out)  # $setElementOrder put sidecar first
    assert (sidecar["name"], sidecar["image"], web["name"], web["image"]) == (
        "sidecar", "busybox:1.36", "web", "busybox:1.37")
    assert env(web) == [("A", "1"), ("C", "3")]
    assert web["imagePullPolicy"] == "IfNotPresent"  # fields apply never set stay
    assert spec["template"]["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "cfg"}}]
    assert (spec["replicas"], spec["revisionHistoryLimit"], out["status"]) == (2, 10, BASE["status"])
    assert directive_keys(out) == []


def test_kubectl_edit_two_way_patch():
    out = kubectl("edit")
    assert out["metadata"]["labels"] == {"app": "web"}
    assert out["metadata"]["finalizers"] == ["example.com/b"]
    web, sidecar = containers(out)
    assert env(web) == [("B", "2"), ("A", "1")]  # reordered by $setElementOrder/env alone
    assert sidecar["image"] == "busybox:1.37"
    assert out["spec"]["template"]["spec"]["volumes"] == [{"name": "data", "hostPath": {"path": "/srv"}}]
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_kubectl_json_patch_test_op():
    req = CAPTURED["requests"]["patch_json_test"]
    assert req["contentType"] == "application/json-patch+json"
    assert kubectl("patch_json_test") == BASE
    failing = [{"op": "test", "path": "/spec/replicas", "value": 3}]
    with pytest.raises(PatchError) as err:
        json_patch(BASE, failing)
    assert (err.value.code, err.value.reason) == (422, "Invalid")
    assert err.value.message == "testing value /spec/replicas failed: test failed"


# --- maps ---------------------------------------------------------------------------------

def test_null_deletes_a_key_and_maps_merge_recursively():
    out = pod_patch({"metadata": {"labels": {"tier": None, "new": "x"}}, "spec": {"securityContext": None}})
    assert out["metadata"]["labels"] == {"app": "web", "new": "x"}
    assert "securityContext" not in out["spec"]


def test_patch_replace_in_a_map_replaces_it():
    out = pod_patch({"metadata": {"labels": {"$patch": "replace", "only": "this"}}})
    assert out["metadata"]["labels"] == {"only": "this"}


def test_patch_delete_in_a_map_empties_it_and_adds_nothing_where_absent():
    out = pod_patch({"spec": {"securityContext": {"$patch": "delete"}, "dnsConfig": {"$patch": "delete"}}})
    assert out["spec"]["securityContext"] == {}  # as apimachinery: the map stays, empty
    assert "dnsConfig" not in out["spec"]


def test_patch_merge_in_a_map_merges():
    out = pod_patch({"metadata": {"labels": {"$patch": "merge", "x": "1"}}})
    assert out["metadata"]["labels"] == {"app": "web", "tier": "fe", "x": "1"}


def test_unknown_directive_is_a_bad_request():
    with pytest.raises(PatchError) as err:
        pod_patch({"metadata": {"labels": {"$patch": "frobnicate"}}})
    assert err.value.code == 400 and "unknown patch type: frobnicate" in err.value.message


def test_field_with_replace_strategy_is_replaced_whole():
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"},
           "spec": {"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 1}}
    out = strategic_merge_patch(pdb, {"spec": {"selector": {"matchExpressions": []}}},
                                api_version="policy/v1", kind="PodDisruptionBudget")
    assert out["spec"]["selector"] == {"matchExpressions": []}


# --- lists --------------------------------------------------------------------------------

def test_merge_list_merges_by_key_and_puts_new_items_before_later_server_only_ones():
    out = pod_patch({"spec": {"containers": [{"name": "b", "image": "busybox:1.37"}, {"name": "d", "image": "x"}]}})
    assert names(out["spec"]["containers"]) == ["a", "b", "d", "c"]  # apimachinery's interleave
    assert out["spec"]["containers"][1] == {"name": "b", "image": "busybox:1.37"}
    assert out["spec"]["containers"][0]["command"] == ["sleep", "1"]


def test_merge_key_other_than_name():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}}
    out = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}},
                                api_version="v1", kind="Service")
    assert out["spec"]["ports"] == [{"name": "http", "port": 80},
                                    {"name": "https", "port": 443, "targetPort": 8443}]


def test_set_element_order_reorders_without_changing_items():
    order = [{"name": "c"}, {"name": "a"}, {"name": "b"}]
    out = pod_patch({"spec": {"$setElementOrder/containers": order}})
    assert names(out["spec"]["containers"]) == ["c", "a", "b"]
    assert out["spec"]["containers"][1]["command"] == ["sleep", "1"]


def test_set_element_order_with_add_and_delete_keeps_server_only_items_in_place():
    patch = {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "d"}],
                      "containers": [{"name": "d", "image": "x"}, {"name": "a", "$patch": "delete"}]}}
    assert names(pod_patch(patch)["spec"]["containers"]) == ["b", "c", "d"]


def test_set_element_order_that_contradicts_the_patch_list_is_a_bad_request():
    patch = {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                      "containers": [{"name": "b", "image": "x"}, {"name": "a", "image": "y"}]}}
    with pytest.raises(PatchError) as err:
        pod_patch(patch)
    assert err.value.code == 400 and "doesn't match $setElementOrder list" in err.value.message


def test_patch_delete_and_replace_elements_in_a_merge_list():
    out = pod_patch({"spec": {"containers": [{"name": "b", "$patch": "delete"}]}})
    assert names(out["spec"]["containers"]) == ["a", "c"]
    out = pod_patch({"spec": {"containers": [{"$patch": "replace"}, {"name": "z", "image": "x"}]}})
    assert out["spec"]["containers"] == [{"name": "z", "image": "x"}]


def test_merge_list_element_without_merge_key_is_a_bad_request():
    with pytest.raises(PatchError) as err:
        pod_patch({"spec": {"containers": [{"image": "x"}]}})
    assert err.value.code == 400 and "does not contain declared merge key: name" in err.value.message


def test_primitive_merge_list_is_a_set_union_and_delete_list_removes():
    out = pod_patch({"metadata": {"finalizers": ["b", "c"], "$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert out["metadata"]["finalizers"] == ["b", "c"]
    out = pod_patch({"metadata": {"finalizers": ["c", "a"]}})
    assert out["metadata"]["finalizers"] == ["c", "a", "b"]  # the patch's order; server-only b after a
    no_list = copy.deepcopy(POD)
    del no_list["metadata"]["finalizers"]
    out = pod_patch({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, no_list)
    assert "finalizers" not in out["metadata"]


def test_list_without_strategy_is_replaced():
    out = pod_patch({"spec": {"containers": [{"name": "a", "command": ["true"]}]}})
    assert out["spec"]["containers"][0]["command"] == ["true"]


def test_retain_keys_clears_the_other_union_members():
    patch = {"spec": {"volumes": [{"name": "data", "$retainKeys": ["name", "secret"],
                                   "secret": {"secretName": "s"}}]}}
    assert pod_patch(patch)["spec"]["volumes"] == [{"name": "data", "secret": {"secretName": "s"}}]


def test_retain_keys_must_cover_the_patch():
    patch = {"spec": {"volumes": [{"name": "data", "$retainKeys": ["name"], "secret": {"secretName": "s"}}]}}
    with pytest.raises(PatchError) as err:
        pod_patch(patch)
    assert err.value.code == 400 and "invalid patch format of retainKeys" in err.value.message


def test_directives_in_values_new_to_the_object_are_applied_not_stored():
    patch = {"spec": {"$setElementOrder/initContainers": [{"name": "y"}, {"name": "x"}],
                      "initContainers": [{"name": "y", "image": "i", "$retainKeys": ["name", "image"]},
                                         {"name": "x", "image": "i", "env": [{"name": "E", "value": "1", "valueFrom": None}]},
                                         {"name": "gone", "$patch": "delete"}]}}
    out = pod_patch(patch)
    assert out["spec"]["initContainers"] == [{"name": "y", "image": "i"},
                                             {"name": "x", "image": "i", "env": [{"name": "E", "value": "1"}]}]
    assert directive_keys(out) == []


def test_lists_of_lists_and_mixed_element_types_are_rejected():
    with pytest.raises(PatchError) as err:
        pod_patch({"metadata": {"finalizers": [["x"]]}})
    assert (err.value.code, err.value.message) == (422, "lists of lists are not supported")
    with pytest.raises(PatchError) as err:
        pod_patch({"metadata": {"finalizers": [1]}})
    assert err.value.code == 400 and "not identical" in err.value.message


# --- kinds and errors ---------------------------------------------------------------------

def test_custom_resources_get_unsupported_media_type():
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(cr, {"spec": {}}, api_version="example.com/v1", kind="Widget")
    status = err.value.status()
    assert (status["code"], status["reason"], status["kind"]) == (415, "UnsupportedMediaType", "Status")
    assert "application/merge-patch+json" in status["message"]


def test_a_patch_that_is_not_an_object_is_a_bad_request():
    with pytest.raises(PatchError) as err:
        pod_patch(["not", "a", "map"])
    assert (err.value.code, err.value.message) == (400, "invalid JSON document")


# --- JSON patch and content types -----------------------------------------------------------

def test_json_patch_applies_operations_in_order_without_touching_the_input():
    before = copy.deepcopy(POD)
    ops = [{"op": "add", "path": "/metadata/labels/x", "value": "1"},
           {"op": "replace", "path": "/spec/containers/0/image", "value": "busybox:1.37"},
           {"op": "remove", "path": "/metadata/finalizers/0"},
           {"op": "move", "from": "/metadata/labels/tier", "path": "/metadata/labels/layer"},
           {"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/annotations"},
           {"op": "test", "path": "/metadata/labels/x", "value": "1"},
           {"op": "add", "path": "/spec/containers/-", "value": {"name": "d", "image": "x"}}]
    out = json_patch(POD, ops)
    assert out["metadata"]["labels"] == {"app": "web", "x": "1", "layer": "fe"}
    assert (out["metadata"]["finalizers"], out["metadata"]["annotations"]) == (["b"], "web")
    assert out["spec"]["containers"][0]["image"] == "busybox:1.37"
    assert names(out["spec"]["containers"]) == ["a", "b", "c", "d"]
    assert POD == before


@pytest.mark.parametrize(("ops", "message"), [
    ([{"op": "remove", "path": "/spec/nope"}],
     'remove operation does not apply: doc is missing path: "/spec/nope": missing value'),
    ([{"op": "add", "path": "/spec/a/b", "value": 1}],
     'add operation does not apply: doc is missing path: "/spec/a/b": missing value'),
    ([{"op": "replace", "path": "/spec/nope", "value": 1}],
     "replace operation does not apply: doc is missing key: /spec/nope: missing value"),
    ([{"op": "move", "from": "/spec/nope", "path": "/spec/x"}],
     "move operation does not apply: doc is missing from path: /spec/nope: missing value"),
    ([{"op": "frob", "path": "/spec"}], "Unexpected kind: frob"),
])
def test_json_patch_operations_that_do_not_apply_are_invalid(ops, message):
    with pytest.raises(PatchError) as err:
        json_patch(POD, ops)
    assert (err.value.code, err.value.reason, err.value.message) == (422, "Invalid", message)


def test_json_patch_that_is_not_a_list_of_operations_is_a_bad_request():
    for body, word in (({"op": "add"}, "object"), (["x"], "string")):
        with pytest.raises(PatchError) as err:
            json_patch(POD, body)
        assert err.value.code == 400 and f"cannot unmarshal {word}" in err.value.message


def test_json_patch_operation_limit():
    ops = [{"op": "test", "path": "/kind", "value": "Pod"}] * (MAX_JSON_PATCH_OPERATIONS + 1)
    with pytest.raises(PatchError) as err:
        json_patch(POD, ops)
    assert (err.value.code, err.value.reason) == (413, "RequestEntityTooLarge")


def test_apply_patch_picks_the_patch_kind_from_the_content_type():
    body = b'{"spec": {"containers": [{"name": "b", "image": "y"}]}}'
    smp = apply_patch(POD, body, content_type="application/strategic-merge-patch+json; charset=utf-8",
                      api_version="v1", kind="Pod")
    merge = apply_patch(POD, body, content_type="application/merge-patch+json", api_version="v1", kind="Pod")
    assert names(smp["spec"]["containers"]) == ["a", "b", "c"]
    assert merge["spec"]["containers"] == [{"name": "b", "image": "y"}]  # RFC 7386 replaces lists
    ops = b'[{"op": "replace", "path": "/metadata/name", "value": "q"}]'
    out = apply_patch(POD, ops, content_type="application/json-patch+json", api_version="v1", kind="Pod")
    assert out["metadata"]["name"] == "q"


@pytest.mark.parametrize(("content_type", "body", "code"), [
    ("application/apply-patch+yaml", b"{}", 415),
    ("text/plain", b"{}", 415),
    ("application/merge-patch+json", b"{not json", 400),
    ("application/strategic-merge-patch+json", b"[1]", 400),
])
def test_apply_patch_errors(content_type, body, code):
    with pytest.raises(PatchError) as err:
        apply_patch(POD, body, content_type=content_type, api_version="v1", kind="Pod")
    assert err.value.code == code
