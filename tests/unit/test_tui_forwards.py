"""Pure helpers of `f` port-forward: the ports prompt and the default remote port."""

from __future__ import annotations

import pytest

from kubedeck.tui.forwards import default_port, parse_ports


def test_parse_ports_forms():
    assert parse_ports("8080:80") == (8080, 80)
    assert parse_ports(":80") == (0, 80)
    assert parse_ports(" 9000 ") == (9000, 9000)
    for bad in ("abc", "80:", "1:70000", "x:80"):
        with pytest.raises(ValueError):
            parse_ports(bad)


def test_default_port_per_kind():
    pod_spec = {"containers": [{"name": "a"}, {"name": "b", "ports": [{"containerPort": 8080}]}]}
    assert default_port("Pod", {"spec": pod_spec}) == 8080
    assert default_port("Deployment", {"spec": {"template": {"spec": pod_spec}}}) == 8080
    assert default_port("Service", {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}) == 80
    assert default_port("Pod", {"spec": {"containers": [{"name": "a"}]}}) is None
