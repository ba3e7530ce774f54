"""Semantic checks, after Kubernetes' ``pkg/apis/*/validation``.

The schema only knows shapes and types; these rules know what Kubernetes
itself rejects: names, labels, quantities, ports, selectors that do not match
their templates, restart policies, base64 in Secrets, and so on.  Every check
reads the object defensively (a field of the wrong type has already been
reported by the schema, so it is just skipped here).

``check(doc)`` returns a list of ManifestErrors, each naming its field path.
"""
from __future__ import annotations

import base64
import binascii

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
    parse_quantity,
    path_segment_problem,
    qualified_name_problem,
)

__all__ = ["check", "selector_matches"]

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
_NODE_PORT_RANGE = (30000, 32767)


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


class _Checker:
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
        q = parse_quantity(value)
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
    def pod_spec(self, spec, path, *, owner: str | None):
        if not isinstance(spec, dict):
            return
        volumes = _l(spec.get("volumes"))
        volume_names = set(self.extra_volumes)
        for i, vol in enumerate(volumes):
            if not isinstance(vol, dict):
                continue
            vpath = path + ("volumes", i)
            name = vol.get("name")
            if isinstance(name, str):
                problem = dns1123_label_problem(name)
                if problem:
                    self.err(vpath + ("name",), f"invalid volume name {_q(name)}: {problem}")
                if name in volume_names:
                    self.err(vpath + ("name",), f"duplicate volume name {_q(name)}")
                volume_names.add(name)
            sources = [k for k in vol if k != "name" and vol[k] is not None]
            if len(sources) > 1:
                self.err(vpath, "may not specify more than one volume type (found " + ", ".join(sources) + ")")
            for src in ("configMap", "secret"):
                items = _l(_d(vol.get(src)).get("items"))
                for j, item in enumerate(items):
                    p = _d(item).get("path")
                    if isinstance(p, str) and (p.startswith("/") or ".." in p.split("/")):
                        self.err(vpath + (src, "items", j, "path"), f"invalid path {_q(p)}: must be relative and may not contain \"..\"")
            pvc = _d(vol.get("persistentVolumeClaim"))
            if "persistentVolumeClaim" in vol and isinstance(vol.get("persistentVolumeClaim"), dict) and not pvc.get("claimName"):
                self.err(vpath + ("persistentVolumeClaim",), 'missing required field "claimName"')

        containers = spec.get("containers")
        if isinstance(containers, list) and not containers:
            self.err(path + ("containers",), "at least one container is required")
        seen_names: dict[str, tuple] = {}
        for group in ("initContainers", "containers", "ephemeralContainers"):
            for i, c in enumerate(_l(spec.get(group))):
                if isinstance(c, dict):
                    self.container(c, path + (group, i), volume_names=volume_names, seen=seen_names,
                                   ephemeral=group == "ephemeralContainers")

        policy = spec.get("restartPolicy")
        if owner in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
            if isinstance(policy, str) and policy != "Always":
                self.err(path + ("restartPolicy",), _supported(policy, ("Always",)))
        elif owner in ("Job", "CronJob"):
            if policy is None:
                self.err(path, 'missing required field "restartPolicy": a Job\'s pods need "OnFailure" or "Never"')
            elif isinstance(policy, str) and policy not in ("OnFailure", "Never"):
                self.err(path + ("restartPolicy",), _supported(policy, ("OnFailure", "Never")))
        elif isinstance(policy, str) and policy not in _RESTART_POLICIES:
            self.err(path + ("restartPolicy",), _supported(policy, _RESTART_POLICIES))

        grace = spec.get("terminationGracePeriodSeconds")
        if _is_int(grace) and grace < 0:
            self.err(path + ("terminationGracePeriodSeconds",), "must be greater than or equal to 0")
        deadline = spec.get("activeDeadlineSeconds")
        if _is_int(deadline) and deadline <= 0:
            self.err(path + ("activeDeadlineSeconds",), "must be greater than 0")
        self.labels(spec.get("nodeSelector"), path + ("nodeSelector",))
        for i, tol in enumerate(_l(spec.get("tolerations"))):
            tol = _d(tol)
            tpath = path + ("tolerations", i)
            op = tol.get("operator")
            if isinstance(op, str) and op not in ("Exists", "Equal"):
                self.err(tpath + ("operator",), _supported(op, ("Exists", "Equal")))
            if op == "Exists" and tol.get("value") not in (None, ""):
                self.err(tpath + ("value",), 'must be empty when operator is "Exists"')
            if op != "Exists" and tol.get("key") in (None, ""):
                self.err(tpath + ("operator",), 'must be "Exists" when key is empty')
            effect = tol.get("effect")
            if isinstance(effect, str) and effect and effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
                self.err(tpath + ("effect",), _supported(effect, ("NoSchedule", "PreferNoSchedule", "NoExecute")))
            key = tol.get("key")
            if isinstance(key, str) and key:
                problem = qualified_name_problem(key)
                if problem:
                    self.err(tpath + ("key",), f"invalid toleration key {_q(key)}: {problem}")

    def container(self, c, path, *, volume_names, seen, ephemeral):
        name = c.get("name")
        if isinstance(name, str):
            problem = dns1123_label_problem(name)
            if problem:
                self.err(path + ("name",), f"invalid container name {_q(name)}: {problem}")
            if name in seen:
                self.err(path + ("name",), f"duplicate container name {_q(name)} (also at {format_path(seen[name])})")
            else:
                seen[name] = path
        image = c.get("image")
        if image is None or (isinstance(image, str) and not image.strip()):
            self.err(path, 'missing required field "image"')
        policy = c.get("imagePullPolicy")
        if isinstance(policy, str) and policy not in _PULL_POLICIES:
            self.err(path + ("imagePullPolicy",), _supported(policy, _PULL_POLICIES))

        port_names = set()
        port_keys = set()
        for i, port in enumerate(_l(c.get("ports"))):
            if not isinstance(port, dict):
                continue
            ppath = path + ("ports", i)
            self.port_number(port.get("containerPort"), ppath + ("containerPort",), what="containerPort")
            if "hostPort" in port and _is_int(port.get("hostPort")) and port["hostPort"] != 0:
                self.port_number(port["hostPort"], ppath + ("hostPort",), what="hostPort")
            pname = port.get("name")
            if isinstance(pname, str) and pname:
                problem = iana_svc_name_problem(pname)
                if problem:
                    self.err(ppath + ("name",), f"invalid port name {_q(pname)}: {problem}")
                if pname in port_names:
                    self.err(ppath + ("name",), f"duplicate port name {_q(pname)}")
                port_names.add(pname)
            proto = port.get("protocol")
            if isinstance(proto, str) and proto not in _PROTOCOLS:
                self.err(ppath + ("protocol",), _supported(proto, _PROTOCOLS))
            key = (port.get("containerPort"), proto if isinstance(proto, str) and proto else "TCP")
            if _is_int(key[0]):
                if key in port_keys:
                    self.err(ppath, f"duplicate port {key[0]}/{key[1]}")
                port_keys.add(key)

        for i, env in enumerate(_l(c.get("env"))):
            if not isinstance(env, dict):
                continue
            epath = path + ("env", i)
            ename = env.get("name")
            if isinstance(ename, str):
                problem = env_var_name_problem(ename)
                if problem:
                    self.err(epath + ("name",), f"invalid environment variable name {_q(ename)}: {problem}")
            if env.get("value") not in (None, "") and env.get("valueFrom") is not None:
                self.err(epath, "may not have both value and valueFrom")
            vf = env.get("valueFrom")
            if isinstance(vf, dict):
                sources = [k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef") if vf.get(k) is not None]
                if len(sources) != 1:
                    self.err(epath + ("valueFrom",), "must specify exactly one of fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef")
                for ref in ("configMapKeyRef", "secretKeyRef"):
                    r = vf.get(ref)
                    if isinstance(r, dict) and isinstance(r.get("key"), str):
                        problem = config_key_problem(r["key"])
                        if problem:
                            self.err(epath + ("valueFrom", ref, "key"), f"invalid key {_q(r['key'])}: {problem}")
        for i, ef in enumerate(_l(c.get("envFrom"))):
            ef = _d(ef)
            sources = [k for k in ("configMapRef", "secretRef") if ef.get(k) is not None]
            if len(sources) != 1:
                self.err(path + ("envFrom", i), "must specify exactly one of configMapRef or secretRef")
            prefix = ef.get("prefix")
            if isinstance(prefix, str) and prefix:
                problem = env_var_name_problem(prefix)
                if problem:
                    self.err(path + ("envFrom", i, "prefix"), f"invalid prefix {_q(prefix)}: {problem}")

        self.resources(c.get("resources"), path + ("resources",))

        mount_paths = set()
        for i, m in enumerate(_l(c.get("volumeMounts"))):
            if not isinstance(m, dict):
                continue
            mpath = path + ("volumeMounts", i)
            mname = m.get("name")
            if isinstance(mname, str) and mname not in volume_names:
                self.err(mpath + ("name",), f"volume {_q(mname)} is not declared in the pod's volumes")
            mp = m.get("mountPath")
            if isinstance(mp, str):
                if not mp:
                    self.err(mpath + ("mountPath",), "must not be empty")
                elif mp in mount_paths:
                    self.err(mpath + ("mountPath",), f"duplicate mountPath {_q(mp)}")
                mount_paths.add(mp)
            sub = m.get("subPath")
            if isinstance(sub, str) and (sub.startswith("/") or ".." in sub.split("/")):
                self.err(mpath + ("subPath",), f"invalid subPath {_q(sub)}: must be relative and may not contain \"..\"")

        for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = c.get(probe_name)
            if isinstance(probe, dict):
                self.probe(probe, path + (probe_name,), kind=probe_name)
        lifecycle = _d(c.get("lifecycle"))
        for hook in ("postStart", "preStop"):
            if isinstance(lifecycle.get(hook), dict):
                self.handler(lifecycle[hook], path + ("lifecycle", hook))

    def handler(self, h, path) -> int:
        kinds = [k for k in ("exec", "httpGet", "tcpSocket", "grpc", "sleep") if h.get(k) is not None]
        if len(kinds) > 1:
            self.err(path, "may not specify more than one handler type (found " + ", ".join(kinds) + ")")
        for k in ("httpGet", "tcpSocket"):
            sub = h.get(k)
            if isinstance(sub, dict):
                if sub.get("port") is None:
                    self.err(path + (k,), 'missing required field "port"')
                else:
                    self.int_or_name_port(sub.get("port"), path + (k, "port"))
        grpc = h.get("grpc")
        if isinstance(grpc, dict):
            self.port_number(grpc.get("port"), path + ("grpc", "port"))
        return len(kinds)

    def probe(self, probe, path, *, kind):
        if self.handler(probe, path) == 0:
            self.err(path, "must specify a handler type (exec, httpGet, tcpSocket or grpc)")
        for f in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                  "failureThreshold", "terminationGracePeriodSeconds"):
            v = probe.get(f)
            if _is_int(v) and v < 0:
                self.err(path + (f,), "must be greater than or equal to 0")
        succ = probe.get("successThreshold")
        if kind in ("livenessProbe", "startupProbe") and _is_int(succ) and succ != 1:
            self.err(path + ("successThreshold",), "must be 1")

    def pod_template(self, template, path, *, owner: str):
        if not isinstance(template, dict):
            return
        meta = _d(template.get("metadata"))
        self.labels(meta.get("labels"), path + ("metadata", "labels"))
        if template.get("spec") is None:
            self.err(path, 'missing required field "spec"')
        self.pod_spec(template.get("spec"), path + ("spec",), owner=owner)

    # -- kinds -------------------------------------------------------------------------
    def non_negative(self, spec, field, path):
        v = spec.get(field)
        if _is_int(v) and v < 0:
            self.err(path + (field,), f"{field} must be greater than or equal to 0 (it is {v})")

    def workload(self):
        spec = self.obj.get("spec")
        if not isinstance(spec, dict):
            if spec is None:
                self.err((), 'missing required field "spec"')
            return
        kind = self.kind
        path = ("spec",)
        if kind in ("Deployment", "ReplicaSet", "StatefulSet"):
            self.non_negative(spec, "replicas", path)
        for f in ("minReadySeconds", "revisionHistoryLimit"):
            self.non_negative(spec, f, path)
        template = spec.get("template")
        labels = _d(_d(_d(template).get("metadata")).get("labels"))
        if kind == "StatefulSet":
            for pvc in _l(spec.get("volumeClaimTemplates")):
                claim = _d(_d(pvc).get("metadata")).get("name")
                if isinstance(claim, str):
                    self.extra_volumes.add(claim)
        self.label_selector(spec.get("selector"), path + ("selector",), required=True,
                            template_labels=labels if isinstance(template, dict) else None)
        self.pod_template(template, path + ("template",), owner=kind)
        if kind == "Deployment":
            self.deployment_strategy(_d(spec.get("strategy")), path + ("strategy",))
        if kind == "StatefulSet":
            pmp = spec.get("podManagementPolicy")
            if isinstance(pmp, str) and pmp not in ("OrderedReady", "Parallel"):
                self.err(path + ("podManagementPolicy",), _supported(pmp, ("OrderedReady", "Parallel")))
            for i, pvc in enumerate(_l(spec.get("volumeClaimTemplates"))):
                if isinstance(pvc, dict):
                    self.pvc_spec(pvc.get("spec"), path + ("volumeClaimTemplates", i, "spec"))
        if kind == "DaemonSet":
            st = _d(spec.get("updateStrategy")).get("type")
            if isinstance(st, str) and st not in ("RollingUpdate", "OnDelete"):
                self.err(path + ("updateStrategy", "type"), _supported(st, ("RollingUpdate", "OnDelete")))

    def deployment_strategy(self, strategy, path):
        stype = strategy.get("type")
        if isinstance(stype, str) and stype not in ("RollingUpdate", "Recreate"):
            self.err(path + ("type",), _supported(stype, ("RollingUpdate", "Recreate")))
        ru = strategy.get("rollingUpdate")
        if stype == "Recreate" and ru is not None:
            self.err(path + ("rollingUpdate",), 'may not be specified when strategy type is "Recreate"')
        ru = _d(ru)
        zero = 0
        for f in ("maxSurge", "maxUnavailable"):
            v = ru.get(f)
            if v is None:
                continue
            if _is_int(v):
                if v < 0:
                    self.err(path + ("rollingUpdate", f), "must be greater than or equal to 0")
                zero += v == 0
            elif isinstance(v, str):
                if not is_percent(v):
                    self.err(path + ("rollingUpdate", f), f"invalid value {_q(v)}: must be an integer or a percentage (e.g. \"25%\")")
                else:
                    zero += int(v[:-1]) == 0
                    if f == "maxUnavailable" and int(v[:-1]) > 100:
                        self.err(path + ("rollingUpdate", f), "must not be greater than 100%")
        if zero == 2:
            self.err(path + ("rollingUpdate", "maxUnavailable"), "may not be 0 when maxSurge is 0")

    def job_spec(self, spec, path, *, owner):
        if not isinstance(spec, dict):
            if spec is None:
                self.err(path[:-1], f'missing required field "{path[-1]}"')
            return
        for f in ("parallelism", "completions", "backoffLimit"):
            self.non_negative(spec, f, path)
        for f in ("activeDeadlineSeconds",):
            v = spec.get(f)
            if _is_int(v) and v <= 0:
                self.err(path + (f,), "must be greater than 0")
        template = spec.get("template")
        labels = _d(_d(_d(template).get("metadata")).get("labels"))
        if spec.get("selector") is not None:
            self.label_selector(spec.get("selector"), path + ("selector",), required=False,
                                template_labels=labels if spec.get("manualSelector") else None)
        self.pod_template(template, path + ("template",), owner=owner)

    def job(self):
        self.job_spec(self.obj.get("spec"), ("spec",), owner="Job")

    def cronjob(self):
        spec = self.obj.get("spec")
        if not isinstance(spec, dict):
            if spec is None:
                self.err((), 'missing required field "spec"')
            return
        schedule = spec.get("schedule")
        if isinstance(schedule, str):
            s = schedule.strip()
            if s.startswith("TZ=") or s.startswith("CRON_TZ="):
                self.err(("spec", "schedule"), "TZ is not supported in schedule; use spec.timeZone")
            elif not (s.startswith("@") and s in ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")) \
                    and len(s.split()) != 5:
                self.err(("spec", "schedule"), f"invalid schedule {_q(schedule)}: expected 5 fields (minute hour day-of-month month day-of-week) or a macro like @hourly")
        cp = spec.get("concurrencyPolicy")
        if isinstance(cp, str) and cp not in ("Allow", "Forbid", "Replace"):
            self.err(("spec", "concurrencyPolicy"), _supported(cp, ("Allow", "Forbid", "Replace")))
        for f in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit", "startingDeadlineSeconds"):
            self.non_negative(spec, f, ("spec",))
        jt = spec.get("jobTemplate")
        if isinstance(jt, dict):
            self.labels(_d(jt.get("metadata")).get("labels"), ("spec", "jobTemplate", "metadata", "labels"))
            self.job_spec(jt.get("spec"), ("spec", "jobTemplate", "spec"), owner="CronJob")

    def pod(self):
        spec = self.obj.get("spec")
        if spec is None:
            self.err((), 'missing required field "spec"')
        self.pod_spec(spec, ("spec",), owner=None)

    def service(self):
        spec = self.obj.get("spec")
        if not isinstance(spec, dict):
            if spec is None:
                self.err((), 'missing required field "spec"')
            return
        path = ("spec",)
        stype = spec.get("type") or "ClusterIP"
        if isinstance(stype, str) and stype not in _SERVICE_TYPES:
            self.err(path + ("type",), _supported(stype, _SERVICE_TYPES))
        headless = spec.get("clusterIP") == "None"
        if stype == "ExternalName":
            ext = spec.get("externalName")
            if not ext:
                self.err(path, 'missing required field "externalName" (needed when type is "ExternalName")')
            elif isinstance(ext, str):
                problem = dns1123_subdomain_problem(ext.rstrip("."))
                if problem:
                    self.err(path + ("externalName",), f"invalid externalName {_q(ext)}: {problem}")
        if headless and stype in ("NodePort", "LoadBalancer"):
            self.err(path + ("clusterIP",), f'may not be "None" for type {_q(stype)}')
        ports = spec.get("ports")
        if not _l(ports) and not headless and stype != "ExternalName":
            self.err(path, 'missing required field "ports" (only headless and ExternalName services may omit it)')
        multi = len(_l(ports)) > 1
        names, keys, node_ports = set(), set(), set()
        for i, port in enumerate(_l(ports)):
            if not isinstance(port, dict):
                continue
            ppath = path + ("ports", i)
            name = port.get("name")
            if isinstance(name, str) and name:
                problem = dns1123_label_problem(name)
                if problem:
                    self.err(ppath + ("name",), f"invalid port name {_q(name)}: {problem}")
                if name in names:
                    self.err(ppath + ("name",), f"duplicate port name {_q(name)}")
                names.add(name)
            elif multi:
                self.err(ppath, 'missing required field "name" (every port needs a name when a service has more than one)')
            number = port.get("port")
            self.port_number(number, ppath + ("port",))
            proto = port.get("protocol") or "TCP"
            if isinstance(proto, str) and proto not in _PROTOCOLS:
                self.err(ppath + ("protocol",), _supported(proto, _PROTOCOLS))
            if not isinstance(proto, str):
                proto = "TCP"
            if _is_int(number):
                if (number, proto) in keys:
                    self.err(ppath, f"duplicate port {number}/{proto}")
                keys.add((number, proto))
            if port.get("targetPort") is not None:
                self.int_or_name_port(port.get("targetPort"), ppath + ("targetPort",), what="targetPort")
            node_port = port.get("nodePort")
            if node_port is not None and _is_int(node_port) and node_port != 0:
                if stype not in ("NodePort", "LoadBalancer"):
                    self.err(ppath + ("nodePort",), f'may not be used when service type is {_q(stype)} (only "NodePort" and "LoadBalancer")')
                elif not _NODE_PORT_RANGE[0] <= node_port <= _NODE_PORT_RANGE[1]:
                    self.err(ppath + ("nodePort",), f"invalid nodePort {node_port}: must be in the range {_NODE_PORT_RANGE[0]}-{_NODE_PORT_RANGE[1]}")
                elif (node_port, proto) in node_ports:
                    self.err(ppath + ("nodePort",), f"duplicate nodePort {node_port}")
                node_ports.add((node_port, proto))
        selector = spec.get("selector")
        if isinstance(selector, dict):
            self.labels(selector, path + ("selector",))
        policy = spec.get("externalTrafficPolicy")
        if isinstance(policy, str) and policy not in ("Cluster", "Local"):
            self.err(path + ("externalTrafficPolicy",), _supported(policy, ("Cluster", "Local")))

    def ingress(self):
        spec = self.obj.get("spec")
        if not isinstance(spec, dict):
            if spec is None:
                self.err((), 'missing required field "spec"')
            return
        path = ("spec",)
        rules = _l(spec.get("rules"))
        if spec.get("defaultBackend") is None and not rules:
            self.err(path, "either defaultBackend or rules must be specified")
        if isinstance(spec.get("defaultBackend"), dict):
            self.ingress_backend(spec["defaultBackend"], path + ("defaultBackend",))
        for i, rule in enumerate(rules):
            rule = _d(rule)
            rpath = path + ("rules", i)
            host = rule.get("host")
            if isinstance(host, str) and host:
                h = host[2:] if host.startswith("*.") else host
                problem = dns1123_subdomain_problem(h)
                if problem:
                    self.err(rpath + ("host",), f"invalid host {_q(host)}: {problem}")
            http = rule.get("http")
            if isinstance(http, dict):
                for j, p in enumerate(_l(http.get("paths"))):
                    p = _d(p)
                    ppath = rpath + ("http", "paths", j)
                    pt = p.get("pathType")
                    if isinstance(pt, str) and pt not in ("Exact", "Prefix", "ImplementationSpecific"):
                        self.err(ppath + ("pathType",), _supported(pt, ("Exact", "Prefix", "ImplementationSpecific")))
                    pv = p.get("path")
                    if isinstance(pv, str) and pt in ("Exact", "Prefix") and not pv.startswith("/"):
                        self.err(ppath + ("path",), f'invalid path {_q(pv)}: must be an absolute path (start with "/")')
                    if isinstance(p.get("backend"), dict):
                        self.ingress_backend(p["backend"], ppath + ("backend",))
        for i, tls in enumerate(_l(spec.get("tls"))):
            for j, host in enumerate(_l(_d(tls).get("hosts"))):
                if isinstance(host, str):
                    h = host[2:] if host.startswith("*.") else host
                    problem = dns1123_subdomain_problem(h)
                    if problem:
                        self.err(path + ("tls", i, "hosts", j), f"invalid host {_q(host)}: {problem}")

    def ingress_backend(self, backend, path):
        svc, res = backend.get("service"), backend.get("resource")
        if (svc is None) == (res is None):
            self.err(path, "must specify exactly one of service or resource")
        if isinstance(svc, dict):
            name = svc.get("name")
            if isinstance(name, str):
                problem = dns1123_label_problem(name)
                if problem:
                    self.err(path + ("service", "name"), f"invalid service name {_q(name)}: {problem}")
            port = svc.get("port")
            if port is None:
                self.err(path + ("service",), 'missing required field "port"')
            elif isinstance(port, dict):
                has_num, has_name = port.get("number") is not None, bool(port.get("name"))
                if has_num == has_name:
                    self.err(path + ("service", "port"), "must specify exactly one of number or name")
                self.port_number(port.get("number"), path + ("service", "port", "number"))
                if isinstance(port.get("name"), str) and port["name"]:
                    problem = iana_svc_name_problem(port["name"])
                    if problem:
                        self.err(path + ("service", "port", "name"), f"invalid port name {_q(port['name'])}: {problem}")

    def config_keys(self, mapping, path, seen):
        if not isinstance(mapping, dict):
            return
        for key in mapping:
            problem = config_key_problem(key)
            if problem:
                self.err(path + (key,), f"invalid key {_q(key)}: {problem}")
            if key in seen:
                self.err(path + (key,), f"duplicate key {_q(key)}: also in {seen[key]}")
            else:
                seen[key] = path[-1]

    def base64_values(self, mapping, path):
        if not isinstance(mapping, dict):
            return
        for key, value in mapping.items():
            if not isinstance(value, str):
                continue
            try:
                base64.b64decode("".join(value.split()), validate=True)
            except (binascii.Error, ValueError):
                self.err(path + (key,), f"invalid base64 in {path[-1]}[{_q(key)}]")

    def configmap(self):
        seen = {}
        self.config_keys(self.obj.get("data"), ("data",), seen)
        self.config_keys(self.obj.get("binaryData"), ("binaryData",), seen)
        self.base64_values(self.obj.get("binaryData"), ("binaryData",))

    def secret(self):
        data, string_data = self.obj.get("data"), self.obj.get("stringData")
        self.config_keys(data, ("data",), {})
        self.config_keys(string_data, ("stringData",), {})
        self.base64_values(data, ("data",))
        stype = self.obj.get("type")
        keys = set(_d(data)) | set(_d(string_data))
        required = {
            "kubernetes.io/tls": ("tls.crt", "tls.key"),
            "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
            "kubernetes.io/dockercfg": (".dockercfg",),
            "kubernetes.io/basic-auth": (),
            "kubernetes.io/ssh-auth": ("ssh-privatekey",),
        }.get(stype if isinstance(stype, str) else "", ())
        for key in required:
            if key not in keys:
                self.err(("data",) if "data" in self.obj else (), f'missing required key "{key}" for a Secret of type {_q(stype)}')

    def pvc_spec(self, spec, path):
        if not isinstance(spec, dict):
            if spec is None:
                self.err(path[:-1], f'missing required field "{path[-1]}"')
            return
        modes = spec.get("accessModes")
        if not _l(modes):
            self.err(path, 'missing required field "accessModes" (at least one access mode is required)')
        for i, mode in enumerate(_l(modes)):
            if isinstance(mode, str) and mode not in _ACCESS_MODES:
                self.err(path + ("accessModes", i), _supported(mode, _ACCESS_MODES))
        requests = _d(_d(spec.get("resources")).get("requests"))
        if spec.get("dataSource") is None and spec.get("dataSourceRef") is None and spec.get("volumeName") is None:
            if requests.get("storage") is None:
                self.err(path + ("resources",), 'missing required field "requests.storage"')
        self.resources(spec.get("resources"), path + ("resources",))
        storage = parse_quantity(requests.get("storage")) if requests.get("storage") is not None else None
        if storage is not None and storage <= 0:
            self.err(path + ("resources", "requests", "storage"), "must be greater than 0")
        vm = spec.get("volumeMode")
        if isinstance(vm, str) and vm not in ("Filesystem", "Block"):
            self.err(path + ("volumeMode",), _supported(vm, ("Filesystem", "Block")))

    def pvc(self):
        self.pvc_spec(self.obj.get("spec"), ("spec",))

    def crd(self):
        spec = _d(self.obj.get("spec"))
        names = _d(spec.get("names"))
        group, plural = spec.get("group"), names.get("plural")
        name = _d(self.obj.get("metadata")).get("name")
        if isinstance(group, str) and isinstance(plural, str) and isinstance(name, str) and name != f"{plural}.{group}":
            self.err(("metadata", "name"), f'must be spec.names.plural + "." + spec.group ({_q(plural + "." + group)})')
        scope = spec.get("scope")
        if isinstance(scope, str) and scope not in ("Namespaced", "Cluster"):
            self.err(("spec", "scope"), _supported(scope, ("Namespaced", "Cluster")))

    def run(self):
        self.metadata()
        kind = self.kind
        if kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
            self.workload()
        elif kind == "Job":
            self.job()
        elif kind == "CronJob":
            self.cronjob()
        elif kind == "Pod":
            self.pod()
        elif kind == "Service":
            self.service()
        elif kind == "Ingress":
            self.ingress()
        elif kind == "ConfigMap":
            self.configmap()
        elif kind == "Secret":
            self.secret()
        elif kind == "PersistentVolumeClaim":
            self.pvc()
        elif kind == "CustomResourceDefinition":
            self.crd()
        elif kind == "PodTemplate":
            self.pod_template(self.obj.get("template"), ("template",), owner="PodTemplate")


def check(doc: Document) -> list[ManifestError]:
    """Kubernetes' semantic rules for one (schema-checked) Kubernetes object."""
    checker = _Checker(doc)
    checker.run()
    return checker.errors
