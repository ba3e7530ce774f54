"""kubectl-apply three-way merge and JSON merge patch, as pure functions."""

from kubedeck.engine.merge import merge_patch, three_way


def test_merge_patch_rfc7386():
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": None, "e": 4}, "f": [1]}) == \
        {"a": 1, "b": {"d": 3, "e": 4}, "f": [1]}
    assert merge_patch({"a": 1}, [1, 2]) == [1, 2]


def test_fields_the_file_never_changed_keep_their_live_value():
    last = {"spec": {"replicas": 1, "image": "a"}}
    live = {"spec": {"replicas": 5, "image": "a", "defaulted": True}, "status": {"x": 1}}
    new = {"spec": {"replicas": 1, "image": "b"}}
    out = three_way(live, last, new)
    assert out == {"spec": {"replicas": 5, "image": "b", "defaulted": True}, "status": {"x": 1}}


def test_fields_the_file_changes_or_drops_are_applied():
    last = {"spec": {"replicas": 1, "paused": True}}
    live = {"spec": {"replicas": 5, "paused": True}}
    out = three_way(live, last, {"spec": {"replicas": 3}})
    assert out == {"spec": {"replicas": 3}}


def test_lists_replace_whole_when_changed():
    last = {"ports": [1, 2]}
    assert three_way({"ports": [1, 2, 9]}, last, {"ports": [1, 2]}) == {"ports": [1, 2, 9]}
    assert three_way({"ports": [1, 2, 9]}, last, {"ports": [3]}) == {"ports": [3]}
