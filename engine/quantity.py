"""Kubernetes resource quantities (`500m`, `1Gi`, `1e3`, `0.5`): the one parser.

The grammar is apimachinery's `resource.Quantity`: a signed decimal number followed by a
binary suffix (`Ki`..`Ei`), a decimal suffix (`n u m k M G T P E`) or a decimal exponent
(`e3`, `E-2`); no spaces. Any suffix is valid for any resource, so `memory: 500m` (half a
byte) is a valid quantity, not an error.

`parse_decimal` is exact (a Decimal, or None when the text is not a quantity): the
validator and comparisons use it. `parse_quantity` is the float form for arithmetic
(scheduler, Docker limits, display) and raises ValueError on anything Kubernetes would
reject. `pod_requests` sums a pod's effective cpu/memory requests by the scheduler's rule.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

__all__ = ["container_requests", "parse_decimal", "parse_quantity", "pod_requests", "quantity_or_zero"]

_SUFFIX = {
    "": Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}
_RE = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?")


def parse_decimal(value) -> Decimal | None:
    """``"1Gi"``, ``"500m"``, ``0.5``, ``"1e3"`` -> Decimal; None if not a quantity."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    m = _RE.fullmatch(value)
    if not m:
        return None
    number, suffix = m.group(1), m.group(2) or ""
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number) * (Decimal(10) ** int(suffix[1:]))
        return Decimal(number) * _SUFFIX[suffix]
    except (InvalidOperation, ValueError, OverflowError):
        return None


def parse_quantity(value) -> float:
    """The quantity in base units (cores, bytes) as a float; ValueError if it is not one."""
    exact = parse_decimal(value)
    if exact is None:
        raise ValueError(f"invalid quantity {value!r}")
    return float(exact)


def quantity_or_zero(value) -> float:
    """For display: an absent or invalid quantity counts as 0 instead of raising."""
    exact = parse_decimal(value)
    return float(exact) if exact is not None else 0.0


def container_requests(container: dict) -> dict[str, Decimal]:
    """A container's effective requests: a resource with a limit and no request requests
    its limit (the API server's defaulting, which kubedeck's store does not apply)."""
    resources = container.get("resources") or {}
    out: dict[str, Decimal] = {}
    for source in (resources.get("limits") or {}, resources.get("requests") or {}):
        for name, value in source.items():
            q = parse_decimal(value)
            if q is not None:
                out[name] = q
    return out


def pod_requests(pod: dict) -> tuple[float, float]:
    """(cpu cores, memory bytes) the scheduler counts for a pod: the sum over its
    containers, or the largest init container if that is more (init containers run one
    at a time, before the others)."""
    spec = pod.get("spec") or {}

    def total(containers) -> tuple[Decimal, Decimal]:
        reqs = [container_requests(c) for c in containers or []]
        return (sum((r.get("cpu", Decimal(0)) for r in reqs), Decimal(0)),
                sum((r.get("memory", Decimal(0)) for r in reqs), Decimal(0)))

    cpu, mem = total(spec.get("containers"))
    for init in spec.get("initContainers") or []:
        init_cpu, init_mem = total([init])
        cpu, mem = max(cpu, init_cpu), max(mem, init_mem)
    return float(cpu), float(mem)


# ---- writing quantities (metrics.k8s.io usage) ----------------------------------
def cpu_quantity(nanocores: int) -> str:
    """Canonical decimal quantity: "2", "250m", "12u", "1234567n"."""
    for scale, suffix in ((10**9, ""), (10**6, "m"), (10**3, "u")):
        if nanocores % scale == 0:
            return f"{nanocores // scale}{suffix}"
    return f"{nanocores}n"


def memory_quantity(num_bytes: int) -> str:
    """Canonical binary quantity: "64Mi", "12345Ki", or plain bytes."""
    for power, suffix in ((5, "Pi"), (4, "Ti"), (3, "Gi"), (2, "Mi"), (1, "Ki")):
        if num_bytes and num_bytes % 1024**power == 0:
            return f"{num_bytes // 1024**power}{suffix}"
    return str(num_bytes)
