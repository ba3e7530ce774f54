"""HorizontalPodAutoscaler controller (autoscaling/v2), as kube-controller-manager's
podautoscaler runs it, keyed by HPA and requeued every `SYNC_SECONDS` (its
--horizontal-pod-autoscaler-sync-period):

- the target (`scaleTargetRef`: a Deployment, ReplicaSet or StatefulSet) gives the current
  replicas and, through its selector, the pods; a target at 0 replicas is left alone
  (`ScalingDisabled`);
- `Resource` metrics (cpu, memory) come from the node agent's sampler, the one behind
  `metrics.k8s.io` (engine/agent/metrics.py): utilization is the pods' usage over their
  containers' requests (`averageUtilization`), or their average usage (`averageValue`);
  within 10 % of the target nothing changes (--horizontal-pod-autoscaler-tolerance);
  other metric types are reported as unsupported;
- the proposal, the largest over the metrics, is bounded by min/maxReplicas, then by
  `behavior`: stabilization (the highest proposal of the scale-down window, 300 s by
  default; the lowest of the scale-up window, 0 s) and the default rate limits (up: double
  or +4 pods per 15 s, whichever is more);
- a change is written to the target's `spec.replicas`, with the Event `SuccessfulRescale`;
  `status` gets currentReplicas, desiredReplicas, currentMetrics, lastScaleTime and the
  conditions AbleToScale, ScalingActive and ScalingLimited.

The sampler only runs while asked: each pass asks (`usage()`), and the first pass after an
idle spell finds no rates yet, so it is retried after `RETRY_SECONDS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..clock import Clock, iso
from ..quantity import container_requests, cpu_quantity, memory_quantity, parse_quantity
from ..selectors import matches_selector
from ..store import Store
from .base import Controller, Key, Objects
from .podutil import is_terminating

SYNC_SECONDS, RETRY_SECONDS = 15.0, 3.0
TOLERANCE = 0.1
DOWN_WINDOW = 300
DEFAULT_METRICS = [{"type": "Resource", "resource": {"name": "cpu",
                                                     "target": {"type": "Utilization", "averageUtilization": 80}}}]
# pod uid -> (cpu in cores, memory in bytes): the sampler's newest readings
Usage = Callable[[], dict[str, tuple[float, float]]]


class MetricsUnavailable(Exception):
    """(reason, message) for the ScalingActive condition."""


class HorizontalPodAutoscalerController(Controller):
    kinds = ("HorizontalPodAutoscaler",)
    component = "horizontal-pod-autoscaler"

    def __init__(self, store: Store, objects: Objects, clock: Clock, *, usage: Usage | None):
        """`usage`: the pods' newest usage (None: no node agent, as in most unit tests)."""
        super().__init__(store)
        self.objects, self.clock, self.usage = objects, clock, usage
        self.proposals: dict[Key, list[tuple[float, int]]] = {}  # the stabilization windows' memory

    def reconcile(self, key: Key) -> float | None:
        hpa = self.store.peek(*key)
        if hpa is None:
            self.proposals.pop(key, None)
            return None
        ns, spec = hpa["metadata"]["namespace"], hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        target = self.store.peek(ref.get("kind", ""), ns, ref.get("name", ""))
        conditions: dict[str, tuple[str, str, str]] = {}
        if target is None:
            conditions["AbleToScale"] = ("False", "FailedGetScale",
                                         f'the HPA controller was unable to get the target\'s current scale: '
                                         f'{ref.get("kind", "").lower()}s "{ref.get("name")}" not found')
            self._status(hpa, conditions, current=0, desired=0, metrics=[])
            return SYNC_SECONDS
        current = int((target.get("spec") or {}).get("replicas", 1))
        conditions["AbleToScale"] = ("True", "SucceededGetScale", "the HPA controller was able to get the target's current scale")
        if current == 0 and spec.get("minReplicas", 1) != 0:
            conditions["ScalingActive"] = ("False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
            self._status(hpa, conditions, current=0, desired=0, metrics=[])
            return SYNC_SECONDS
        try:
            proposal, metrics, reason = self._proposal(ns, target, spec.get("metrics") or DEFAULT_METRICS, current)
        except MetricsUnavailable as e:
            conditions["ScalingActive"] = ("False", *e.args)
            self._status(hpa, conditions, current=current, desired=current, metrics=[])
            return RETRY_SECONDS
        conditions["ScalingActive"] = ("True", "ValidMetricFound",
                                       "the HPA was able to successfully calculate a replica count from " + reason)
        low, high = int(spec.get("minReplicas", 1)), int(spec["maxReplicas"])
        bounded = min(max(proposal, low), high)
        conditions["ScalingLimited"] = (("True", "TooManyReplicas" if proposal > high else "TooFewReplicas",
                                         f"the desired replica count is {'more' if proposal > high else 'less'} "
                                         f"than the {'maximum' if proposal > high else 'minimum'} replica count")
                                        if bounded != proposal else
                                        ("False", "DesiredWithinRange", "the desired count is within the acceptable range"))
        desired = self._stabilized(key, spec.get("behavior") or {}, bounded, current)
        scaled = None
        if desired != current:
            new = {**target, "spec": {**target["spec"], "replicas": desired}}
            self.store.update(new, check_rv=False)
            scaled = iso(self.clock.now())
            why = f"{reason} above target" if desired > current else "All metrics below target"
            self.objects.record_event(hpa, "SuccessfulRescale", f"New size: {desired}; reason: {why}",
                                      component=self.component)
        self._status(hpa, conditions, current=current, desired=desired, metrics=metrics, scaled=scaled)
        return SYNC_SECONDS

    def _proposal(self, ns: str, target: dict, metrics: list[dict], current: int) -> tuple[int, list, str]:
        """(replicas the metrics ask for, status.currentMetrics, the deciding metric's words)."""
        selector = (target.get("spec") or {}).get("selector") or {}
        pods = [p for p in self.store.list("Pod", ns) if matches_selector(selector, p["metadata"].get("labels") or {})
                and not is_terminating(p) and (p.get("status") or {}).get("phase") in ("Running", "Pending")]
        usage = self.usage() if self.usage else {}
        best, out, words = -1, [], ""
        for m in metrics:
            resource = m.get("resource") or {}
            name, goal = resource.get("name"), resource.get("target") or {}
            if m.get("type") != "Resource" or name not in ("cpu", "memory"):
                raise MetricsUnavailable("FailedGetExternalMetric" if m.get("type") == "External" else "InvalidMetricSourceType",
                                         f"kubedeck computes Resource metrics of cpu and memory only, not {m.get('type')}")
            measured = [(p, usage[p["metadata"]["uid"]][0 if name == "cpu" else 1])
                        for p in pods if p["metadata"]["uid"] in usage]
            if not measured:
                raise MetricsUnavailable("FailedGetResourceMetric", f"unable to get metrics for resource {name}: "
                                         "no metrics returned from resource metrics API")
            used = sum(u for _, u in measured)
            if goal.get("type") == "AverageValue":
                average, want = used / len(measured), float(parse_quantity(goal["averageValue"]))
                ratio = average / want
                current_metric = {"averageValue": _quantity(name, average)}
            else:
                requested = sum(_request(p, name) for p, _ in measured)
                utilization = round(100 * used / requested)
                ratio = utilization / int(goal.get("averageUtilization", 80))
                current_metric = {"averageUtilization": utilization, "averageValue": _quantity(name, used / len(measured))}
            proposal = current if abs(1 - ratio) <= TOLERANCE else math.ceil(ratio * len(measured))
            out.append({"type": "Resource", "resource": {"name": name, "current": current_metric}})
            if proposal > best:
                best, words = proposal, f"{name} resource utilization (percentage of request)" \
                    if goal.get("type") != "AverageValue" else f"{name} resource"
        return best, out, words

    def _stabilized(self, key: Key, behavior: dict, proposal: int, current: int) -> int:
        """`behavior`'s stabilization windows over this HPA's recent proposals, then the
        default scale-up rate limit."""
        now = self.clock.monotonic()
        down = (behavior.get("scaleDown") or {}).get("stabilizationWindowSeconds", DOWN_WINDOW)
        up = (behavior.get("scaleUp") or {}).get("stabilizationWindowSeconds", 0)
        past = [(t, n) for t, n in self.proposals.get(key, []) if now - t < max(down, up)]
        self.proposals[key] = [*past, (now, proposal)]
        desired = proposal
        if proposal < current:
            desired = min(current, max([n for t, n in past if now - t < down] + [proposal]))
        elif proposal > current:
            desired = max(current, min([n for t, n in past if now - t < up] + [proposal]))
            desired = min(desired, max(current * 2, current + 4))
        return desired

    def _status(self, hpa: dict, conditions: dict, *, current: int, desired: int, metrics: list,
                scaled: str | None = None) -> None:
        old = hpa.get("status") or {}
        before = {c["type"]: c for c in old.get("conditions") or []}
        now = iso(self.clock.now())
        conds = []
        for kind, (status, reason, message) in conditions.items():
            prior = before.get(kind) or {}
            since = prior.get("lastTransitionTime") if prior.get("status") == status else now
            conds.append({"type": kind, "status": status, "lastTransitionTime": since or now,
                          "reason": reason, "message": message})
        status = {"currentReplicas": current, "desiredReplicas": desired, "currentMetrics": metrics or None,
                  "conditions": conds}
        if scaled or old.get("lastScaleTime"):
            status["lastScaleTime"] = scaled or old["lastScaleTime"]
        status = {k: v for k, v in status.items() if v is not None}
        if status != old:
            self.store.update_status("HorizontalPodAutoscaler", hpa["metadata"]["namespace"],
                                     hpa["metadata"]["name"], status)

def _request(pod: dict, name: str) -> float:
    """The pod's request of `name` (a limit alone counts as the request, as the API server
    defaults it); a container without one makes utilization unknowable."""
    total = 0.0
    for c in pod["spec"].get("containers") or []:
        value = container_requests(c).get(name)
        if value is None:
            raise MetricsUnavailable("FailedGetResourceMetric", f"failed to get {name} utilization: missing request "
                                     f"for {name} in container {c.get('name')} of Pod {pod['metadata']['name']}")
        total += float(value)
    return total


def _quantity(name: str, value: float) -> str:
    """An average as the HPA's status writes it: millicores, or bytes."""
    return cpu_quantity(round(value * 1000) * 10**6) if name == "cpu" else memory_quantity(round(value))
