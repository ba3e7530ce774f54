"""Kubernetes resource quantities (`500m`, `1Gi`, `1e3`) as floats in base units."""

from __future__ import annotations

import re

_SUFFIX = {"": 1, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "P": 1e15, "E": 1e18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
           "Pi": 2**50, "Ei": 2**60}
_RE = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$")


def parse_quantity(value) -> float:
    """Raises ValueError on anything Kubernetes would reject (`1Gb`, `two`)."""
    if isinstance(value, (int, float)):
        return float(value)
    m = _RE.match(str(value).strip())
    if not m:
        raise ValueError(f"invalid quantity {value!r}")
    num = float(m.group(1))
    if m.group(2):
        return num * 10 ** int(m.group(2)[1:])
    return num * _SUFFIX[m.group(3) or ""]
