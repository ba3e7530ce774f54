"""Semantic checks, after Kubernetes' ``pkg/apis/*/validation``.

The schema only knows shapes and types; these rules know what Kubernetes
itself rejects: names, labels, quantities, ports, selectors that do not match
their templates, restart policies, base64 in Secrets, and so on.  Every check
reads the object defensively (a field of the wrong type has already been
reported by the schema, so it is just skipped here).

``check(doc)`` returns a list of ManifestErrors, each naming its field path.
"""
from __future__ import annotations

from .semantic_base import (
    Document, ManifestError, _d, _is_int, _l, _q, _supported, is_percent, selector_matches,
)
from .semantic_objects import _ObjectChecks

__all__ = ["check", "selector_matches"]


class _Checker(_ObjectChecks):
    def non_negative(self, spec, field, path):
        v = spec.get(field)
        if _is_int(v) and v < 0:
            self.err(path + (field,), f"{field} must be greater than or equal to 0 (it is {v})")

    def workload(self):
        spec = self.spec_mapping()
        if spec is None:
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
        spec = self.spec_mapping()
        if spec is None:
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
