"""Shared pieces of the semantic checks (see semantic.py): constants, small readers,
and the checker's core (errors, metadata, labels, selectors, quantities, ports)."""
from __future__ import annotations

import base64
import binascii

from ..quantity import parse_decimal
from .errors import ManifestError, format_path
from .loader import Document
from .names import (
    config_key_problem,
    dns1123_label_problem,
    dns1123_subdomain_problem,
    env_var_name_problem,
    iana_svc_name_problem,
    is_percent,
    label_value_problem,
    path_segment_problem,
    qualified_name_problem,
)


# kinds whose metadata.name must be a DNS-1123 label rather than a subdomain
_LABEL_NAMED = {"Service", "Namespace"}
_PATH_SEGMENT_NAMED = {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
_GENERATE_NAME_OK = {"Pod", "Job"}
_POD_TEMPLATE_OWNERS = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"}
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_SELECTOR_OPS = ("In", "NotIn", "Exists", "DoesNotExist")
_SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
_ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
#: kube-apiserver's default --service-node-port-range, both ends included; `serve
#: --service-node-port-range` narrows what the engine picks from, never widens it
NODE_PORT_RANGE = (30000, 32767)



def _d(value) -> dict:
    return value if isinstance(value, dict) else {}


def _l(value) -> list:
    return value if isinstance(value, list) else []


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _q(value) -> str:
    return '"' + str(value).replace('"', '\\"') + '"'


def _short(value, limit: int = 70) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _supported(value, allowed) -> str:
    return f"unsupported value {_q(value)}: supported values: " + ", ".join(_q(a) for a in allowed)


def selector_matches(selector: dict, labels: dict) -> bool:
    """LabelSelector (matchLabels + matchExpressions) against a label map."""
    labels = labels if isinstance(labels, dict) else {}
    for key, value in _d(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expr in _l(selector.get("matchExpressions")):
        expr = _d(expr)
        key, op, values = expr.get("key"), expr.get("operator"), _l(expr.get("values"))
        if not isinstance(key, str):
            return False
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


class _Base:
    def __init__(self, doc: Document):
        self.doc = doc
        self.obj = doc.obj
        self.kind = doc.kind
        self.errors: list[ManifestError] = []
        self.extra_volumes: set = set()  # StatefulSet volumeClaimTemplates

    def err(self, path, message: str, *, line_path=None, severity: str = "error"):
        e = self.doc.error(path, message, severity=severity)
        if line_path is not None:
            e = ManifestError(e.file, self.doc.line_of(line_path), e.object, e.field, e.message, e.severity)
        self.errors.append(e)

    def spec_mapping(self) -> dict | None:
        """The object's spec when it is a mapping, else None; a missing spec is an error
        here, one of another type is the schema check's to report."""
        spec = self.obj.get("spec")
        if spec is None:
            self.err((), 'missing required field "spec"')
        return spec if isinstance(spec, dict) else None

    # -- metadata -----------------------------------------------------------------
    def metadata(self):
        obj, kind = self.obj, self.kind
        if "metadata" not in obj or obj.get("metadata") is None:
            self.err((), 'missing required field "metadata"')
            return
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            return  # schema reports the type
        name = meta.get("name")
        if name in (None, ""):
            if kind in _GENERATE_NAME_OK and isinstance(meta.get("generateName"), str) and meta["generateName"]:
                problem = dns1123_subdomain_problem(meta["generateName"].rstrip("-") or "x")
                if problem:
                    self.err(("metadata", "generateName"), f"invalid generateName {_q(meta['generateName'])}: {problem}")
            else:
                self.err(("metadata",), 'missing required field "name"')
        elif isinstance(name, str):
            self.object_name(name)
        ns = meta.get("namespace")
        if isinstance(ns, str) and ns:
            problem = dns1123_label_problem(ns)
            if problem:
                self.err(("metadata", "namespace"), f"invalid namespace {_q(ns)}: {problem}")
        self.labels(meta.get("labels"), ("metadata", "labels"))
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            total = 0
            for key, value in annotations.items():
                problem = qualified_name_problem(key)
                if problem:
                    self.err(("metadata", "annotations", key), f"invalid annotation key {_q(_short(key))}: {problem}")
                total += len(key) + len(value if isinstance(value, str) else "")
            if total > 256 * 1024:
                self.err(("metadata", "annotations"), f"annotations are too long: must have at most 262144 bytes (they have {total})")

    def object_name(self, name: str):
        kind = self.kind
        if kind in _PATH_SEGMENT_NAMED:
            problem = path_segment_problem(name)
        elif kind in _LABEL_NAMED:
            problem = dns1123_label_problem(name)
        elif kind == "CronJob" and len(name) > 52:
            problem = f"must be no more than 52 characters (it has {len(name)})"
        else:
            problem = dns1123_subdomain_problem(name)
        if problem:
            self.err(("metadata", "name"), f"invalid name {_q(_short(name))}: {problem}")

    def labels(self, labels, path):
        if not isinstance(labels, dict):
            return
        for key, value in labels.items():
            problem = qualified_name_problem(key)
            if problem:
                self.err(path + (key,), f"invalid label key {_q(_short(key))}: {problem}")
            if isinstance(value, str):
                problem = label_value_problem(value)
                if problem:
                    self.err(path + (key,), f"invalid label value {_q(_short(value))}: {problem}")

    def label_selector(self, selector, path, *, required: bool, template_labels=None, template_path=None):
        if selector is None:
            if required:
                self.err(path[:-1], f'missing required field "{path[-1]}"')
            return
        if not isinstance(selector, dict):
            return
        before = len(self.errors)
        match_labels = selector.get("matchLabels")
        exprs = selector.get("matchExpressions")
        self.labels(match_labels, path + ("matchLabels",))
        for i, expr in enumerate(_l(exprs)):
            if not isinstance(expr, dict):
                continue
            epath = path + ("matchExpressions", i)
            key, op = expr.get("key"), expr.get("operator")
            values = expr.get("values")
            if isinstance(key, str):
                problem = qualified_name_problem(key)
                if problem:
                    self.err(epath + ("key",), f"invalid label key {_q(key)}: {problem}")
            if isinstance(op, str):
                if op not in _SELECTOR_OPS:
                    self.err(epath + ("operator",), _supported(op, _SELECTOR_OPS))
                elif op in ("In", "NotIn") and not _l(values):
                    self.err(epath + ("values",), f"must be specified when operator is {_q(op)}")
                elif op in ("Exists", "DoesNotExist") and _l(values):
                    self.err(epath + ("values",), f"may not be specified when operator is {_q(op)}")
        if template_labels is not None and len(self.errors) == before:
            if not _d(match_labels) and not _l(exprs):
                self.err(path, "empty selector is invalid: it would select every pod")
            elif not selector_matches(selector, template_labels):
                self.err(path, "selector does not match template labels",
                         line_path=path)

    # -- quantities and resources ------------------------------------------------------
    def quantity(self, value, path, *, what: str = "quantity", non_negative: bool = True):
        q = parse_decimal(value)
        if q is None:
            self.err(path, f"invalid quantity {_q(value)}")
            return None
        if non_negative and q < 0:
            self.err(path, f"{what} {_q(value)} must be greater than or equal to 0")
        return q

    def resources(self, res, path):
        if not isinstance(res, dict):
            return
        parsed = {}
        for section in ("limits", "requests"):
            values = res.get(section)
            if not isinstance(values, dict):
                continue
            for name, value in values.items():
                if value is None:
                    continue
                q = self.quantity(value, path + (section, name))
                if q is not None:
                    parsed[(section, name)] = (q, value)
        for (section, name), (q, raw) in parsed.items():
            if section != "requests":
                continue
            limit = parsed.get(("limits", name))
            if limit is not None and q > limit[0]:
                self.err(path + ("requests", name),
                         f"{name} request {_q(raw)} must be less than or equal to the {name} limit {_q(limit[1])}")

    # -- ports -----------------------------------------------------------------------
    def port_number(self, value, path, *, what="port", allow_zero=False):
        if not _is_int(value):
            return
        low = 0 if allow_zero else 1
        if not low <= value <= 65535:
            self.err(path, f"invalid {what} {value}: must be between {low if allow_zero else 1} and 65535, inclusive")

    def int_or_name_port(self, value, path, *, what="port"):
        if _is_int(value):
            self.port_number(value, path, what=what)
        elif isinstance(value, str):
            if value.isdigit():
                self.port_number(int(value), path, what=what)
                return
            problem = iana_svc_name_problem(value)
            if problem:
                self.err(path, f"invalid {what} name {_q(value)}: {problem}")

    # -- pods ------------------------------------------------------------------------
