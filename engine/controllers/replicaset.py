"""ReplicaSet controller: keep exactly spec.replicas live pods owned by each ReplicaSet."""

from __future__ import annotations

from collections import defaultdict

from ..store import StoreError
from .podutil import is_available, is_ready, is_terminating, pod_from_template, pod_rank

BURST = 500  # pods created per ReplicaSet per pass, like the slow-start batch cap


class ReplicaSetController:
    def __init__(self, cluster):
        self.c = cluster
        self.store = cluster.store

    def reconcile(self) -> None:
        pods_by_owner: dict[str, list[dict]] = defaultdict(list)
        for pod in self.store.iter_kind("Pod"):
            for ref in pod["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "ReplicaSet" and ref.get("controller"):
                    pods_by_owner[ref["uid"]].append(pod)
        for rs in self.store.iter_kind("ReplicaSet"):
            if is_terminating(rs):
                continue
            self.sync(rs, pods_by_owner.get(rs["metadata"]["uid"], []))

    def sync(self, rs: dict, pods: list[dict]) -> None:
        live = [p for p in pods if not is_terminating(p)
                and (p.get("status") or {}).get("phase") not in ("Failed", "Succeeded")]
        want = int(rs["spec"].get("replicas", 1))
        meta = rs["metadata"]
        if len(live) < want:
            for _ in range(min(want - len(live), BURST)):
                pod = pod_from_template(rs["spec"]["template"], owner=rs, generate_name=f"{meta['name']}-")
                try:
                    created = self.store.create(pod)
                    self.c.record_event(rs, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
                except StoreError:
                    pass
        elif len(live) > want:
            for pod in sorted(live, key=pod_rank)[: len(live) - want]:
                try:
                    self.c.delete_object("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])
                    self.c.record_event(rs, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
                except StoreError:
                    pass
        mrs = int(rs["spec"].get("minReadySeconds", 0))
        status = {"replicas": len(live),
                  "fullyLabeledReplicas": len(live),
                  "readyReplicas": sum(1 for p in live if is_ready(p)),
                  "availableReplicas": sum(1 for p in live if is_available(p, mrs)),
                  "observedGeneration": meta.get("generation", 1)}
        self.store.update_status("ReplicaSet", meta["namespace"], meta["name"], status)
