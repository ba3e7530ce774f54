"""A pod's quality-of-service class, by Kubernetes' rules (`GetPodQOS`).

Only cpu and memory count, over containers and init containers together:
- BestEffort: no container requests or limits either (zero quantities do not count);
- Guaranteed: every container limits both cpu and memory, and the pod's summed requests
  equal its summed limits for each (a missing request defaults to its limit);
- Burstable: anything else.
"""

from __future__ import annotations

from decimal import Decimal

from .quantity import container_requests, parse_decimal

_QOS_RESOURCES = ("cpu", "memory")


def qos_class(pod: dict) -> str:
    spec = pod.get("spec") or {}
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for name, q in container_requests(container).items():
            if name in _QOS_RESOURCES and q > 0:
                requests[name] = requests.get(name, Decimal(0)) + q
        found = set()
        for name, value in ((container.get("resources") or {}).get("limits") or {}).items():
            q = parse_decimal(value)
            if name in _QOS_RESOURCES and q is not None and q > 0:
                found.add(name)
                limits[name] = limits.get(name, Decimal(0)) + q
        if found != set(_QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests.keys() == limits.keys() and all(limits[n] == q for n, q in requests.items()):
        return "Guaranteed"
    return "Burstable"
