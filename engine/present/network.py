"""kubectl's printers for Ingress, IngressClass (`networking.k8s.io/v1`) and
EndpointSlice (`discovery.k8s.io/v1`), as in `printers.go`."""

from __future__ import annotations

from datetime import datetime

from . import format as fmt
from .columns import AGE, Column, Printer, created, name, name_column, register
from .descriptions import DOC


def ingress_hosts(ing: dict) -> str:
    """kubectl's `formatHosts`: up to three hosts, `*` when no rule names one, and
    `+ N more...` (N counting rules) when rules follow the one that gave the third."""
    rules = (ing.get("spec") or {}).get("rules") or []
    hosts: list[str] = []
    for rule in rules:
        if len(hosts) == 3:
            return f"{','.join(hosts)} + {len(rules) - 3} more..."
        if rule.get("host"):
            hosts.append(rule["host"])
    return ",".join(hosts) or "*"


def _ingress_cells(ing: dict, now: datetime) -> list:
    spec = ing.get("spec") or {}
    return [name(ing), spec.get("ingressClassName") or "<none>", ingress_hosts(ing),
            fmt.load_balancer_address(ing.get("status")), "80, 443" if spec.get("tls") else "80",
            fmt.age(created(ing), now)]


register(Printer("Ingress", (
    name_column(),
    Column("Class", description="The name of the IngressClass resource that should be used for additional configuration"),
    Column("Hosts", description="Hosts that incoming requests are matched against before the ingress rule"),
    Column("Address", description="Address is a list containing ingress points for the load-balancer"),
    Column("Ports", description="Ports of TLS configurations that open"),
    AGE,
), _ingress_cells))


def _ingress_class_cells(ic: dict, now: datetime) -> list:
    spec = ic.get("spec") or {}
    params = spec.get("parameters")
    text = "<none>"
    if params:
        text = params.get("kind", "") + (f".{params['apiGroup']}" if params.get("apiGroup") else "")
        text += "/" + params.get("name", "")
    return [name(ic), spec.get("controller", ""), text, fmt.age(created(ic), now)]


register(Printer("IngressClass", (
    name_column(),
    Column("Controller", description="Controller that is responsible for handling this class"),
    Column("Parameters", description="A reference to a resource with additional parameters"),
    AGE,
), _ingress_class_cells))


def _first_three(items: list[str], count: int) -> str:
    """kubectl's `listWithMoreString`."""
    text = ",".join(items[:3])
    if count > 3:
        return f"{text} + {count - 3} more..."
    return text or "<unset>"


def _slice_cells(eps: dict, now: datetime) -> list:
    ports = [str(p["port"]) if p.get("port") is not None else (p.get("name") or "*") for p in eps.get("ports") or []]
    addresses = [a for e in eps.get("endpoints") or [] for a in e.get("addresses") or []]
    return [name(eps), eps.get("addressType", ""), _first_three(ports, len(ports)),
            _first_three(addresses, len(addresses)), fmt.age(created(eps), now)]


register(Printer("EndpointSlice", (
    name_column(),
    Column("AddressType", description=DOC["eps.addressType"]),
    Column("Ports", description=DOC["eps.ports"]),
    Column("Endpoints", description=DOC["eps.endpoints"]),
    AGE,
), _slice_cells))
