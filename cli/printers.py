"""kubectl-style output for the CLI. Tables render from the same `meta.k8s.io/v1` Table the
API serves (kubedeck.engine.present), so `kubedeck get` prints kubectl's columns and cells."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

from kubedeck.engine.client import Client
from kubedeck.engine.manifests.kinds import is_namespaced
from kubedeck.engine.present import describe as describe_text
from kubedeck.engine.present.table import render
from kubedeck.engine.present.table import table as table_of


def table(kind: str, items: list[dict], *, all_namespaces: bool, wide: bool = False,
          headers: bool = True, now: datetime | None = None) -> str:
    data = table_of(kind, items, now=now or datetime.now(UTC))
    return render(data, wide=wide, headers=headers, namespace_column=all_namespaces and is_namespaced(kind))


def describe(obj: dict, events: list[dict]) -> str:
    return describe_text.describe(obj, describe_text.events_for(obj, events), datetime.now(UTC))


def rollout_status(client: Client, kind: str, ns: str, name: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        d = client.get(kind, ns, name)
        spec, st = d["spec"], d.get("status") or {}
        want = int(spec.get("replicas", 1))
        updated, avail, total = st.get("updatedReplicas", 0), st.get("availableReplicas", 0), st.get("replicas", 0)
        if st.get("observedGeneration", 0) < d["metadata"].get("generation", 1):
            msg = "Waiting for deployment spec update to be observed..."
        elif updated < want:
            msg = f'Waiting for deployment "{name}" rollout to finish: {updated} out of {want} new replicas have been updated...'
        elif total > updated:
            msg = f'Waiting for deployment "{name}" rollout to finish: {total - updated} old replicas are pending termination...'
        elif avail < updated:
            msg = f'Waiting for deployment "{name}" rollout to finish: {avail} of {updated} updated replicas are available...'
        else:
            print(f'deployment "{name}" successfully rolled out')
            return 0
        if msg != last:
            print(msg)
            last = msg
        if time.monotonic() > deadline:
            print("error: timed out waiting for the condition", file=sys.stderr)
            return 1
        time.sleep(0.5)


def _revisions(client: Client, ns: str, name: str) -> list[tuple[int, dict]]:
    d = client.get("Deployment", ns, name)
    out = []
    for rs in client.list("ReplicaSet", ns):
        if any(r.get("uid") == d["metadata"]["uid"] for r in rs["metadata"].get("ownerReferences") or []):
            rev = int((rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "0"))
            out.append((rev, rs))
    return sorted(out, key=lambda x: x[0])


def rollout_history(client: Client, ns: str, name: str) -> str:
    lines = [f"deployment.apps/{name}", "REVISION  CHANGE-CAUSE"]
    for rev, rs in _revisions(client, ns, name):
        cause = (rs["metadata"].get("annotations") or {}).get("kubernetes.io/change-cause", "<none>")
        lines.append(f"{rev:<9} {cause}")
    return "\n".join(lines)


def rollout_undo(client: Client, ns: str, name: str) -> int:
    revs = _revisions(client, ns, name)
    if len(revs) < 2:
        print(f'error: no rollout history found for deployment "{name}"', file=sys.stderr)
        return 1
    template = revs[-2][1]["spec"]["template"]
    labels = {k: v for k, v in (template["metadata"].get("labels") or {}).items() if k != "pod-template-hash"}
    d = client.get("Deployment", ns, name)
    d["spec"]["template"] = {**template, "metadata": {**template["metadata"], "labels": labels}}
    from kubedeck.engine.paths import path_for

    client.request("PUT", path_for("Deployment", ns, name), json=d)
    print(f"deployment.apps/{name} rolled back")
    return 0
