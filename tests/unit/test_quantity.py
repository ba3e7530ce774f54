"""The one quantity parser (engine/quantity.py), pod requests, the QoS class (engine/qos.py)
and the nodes pane's PODS/CPU/MEM cells, which used to crash on `memory: 500m`."""

from __future__ import annotations

from decimal import Decimal

import pytest
from kubedeck.engine.present.format import node_usage
from kubedeck.engine.qos import qos_class
from kubedeck.engine.quantity import (
    parse_decimal,
    parse_quantity,
    pod_requests,
    quantity_or_zero,
)


@pytest.mark.parametrize(("text", "value"), [
    ("500m", Decimal("0.5")), ("1e3", Decimal(1000)), ("1E-2", Decimal("0.01")), ("1.5Gi", Decimal(1.5 * 2**30)),
    ("100Ki", Decimal(102400)), ("0.5", Decimal("0.5")), ("250m", Decimal("0.25")), (".5", Decimal("0.5")),
    ("+2", Decimal(2)), ("-1", Decimal(-1)), ("1M", Decimal(10**6)), ("12n", Decimal("12e-9")), (2, Decimal(2)),
    (0.5, Decimal("0.5")),
])
def test_quantities_parse(text, value):
    assert parse_decimal(text) == value
    assert parse_quantity(text) == float(value)


@pytest.mark.parametrize("bad", ["1Gb", "two", " 1Gi", "1 Gi", "", "Mi", "1e", True, None, float("nan"), {"a": 1}])
def test_not_quantities(bad):
    assert parse_decimal(bad) is None
    assert quantity_or_zero(bad) == 0.0
    with pytest.raises(ValueError, match="invalid quantity"):
        parse_quantity(bad)


def container(requests: dict | None = None, limits: dict | None = None) -> dict:
    resources = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": "c", "image": "busybox:1.36", "resources": resources}


def pod(*containers: dict, init: tuple[dict, ...] = (), node: str = "n1", phase: str = "Running") -> dict:
    return {"metadata": {"name": "p"}, "spec": {"nodeName": node, "containers": list(containers),
                                                "initContainers": list(init)}, "status": {"phase": phase}}


def test_pod_requests_default_to_limits_and_count_the_largest_init_container():
    p = pod(container({"cpu": "250m"}, {"cpu": "1", "memory": "64Mi"}), container({"memory": "500m"}),
            init=(container({"cpu": "2"}),))
    assert pod_requests(p) == (2.0, 64 * 2**20 + 0.5)


def test_nodes_pane_survives_memory_500m():
    node = {"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}}}
    pods = [pod(container({"cpu": "250m", "memory": "500m"})), pod(container({"memory": "128Mi"})),
            pod(container({"cpu": "1"}), phase="Succeeded"), pod(container({"cpu": "1"}), node="n2")]
    assert node_usage(node, pods) == ["2", "250m/4", "128Mi/8Gi"]


@pytest.mark.parametrize(("containers", "init", "qos"), [
    ([container()], (), "BestEffort"),
    ([container({"cpu": "0"}, {"memory": "0"})], (), "BestEffort"),
    ([container({"cpu": "100m"})], (), "Burstable"),
    ([container(None, {"cpu": "1", "memory": "1Gi"})], (), "Guaranteed"),
    ([container({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})], (), "Guaranteed"),
    ([container({"cpu": "500m", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})], (), "Burstable"),
    ([container(None, {"cpu": "1", "memory": "1Gi"}), container()], (), "Burstable"),
    ([container(None, {"cpu": "1"})], (), "Burstable"),
    ([container(None, {"cpu": "1", "memory": "1Gi"})], (container({"cpu": "1"}),), "Burstable"),
    ([container({"ephemeral-storage": "1Gi"})], (), "BestEffort"),
    ([container(None, {"cpu": "1000m", "memory": "1024Mi"})], (container(None, {"cpu": "1", "memory": "1Gi"}),),
     "Guaranteed"),
])
def test_qos_class(containers, init, qos):
    assert qos_class(pod(*containers, init=init)) == qos
