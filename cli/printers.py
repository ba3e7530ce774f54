"""kubectl-style output for the CLI. Column rules are shared with the TUI
(kubedeck.tui.resources / describe are pure functions, no Textual)."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone

from kubedeck.engine.client import Client


def table(kind: str, items: list[dict], *, all_namespaces: bool, wide: bool = False,
          headers: bool = True) -> str:
    from kubedeck.tui.resources import KINDS as VIEWS, ResourceKind

    rk = next((v for v in VIEWS if v.kind == kind), None) or ResourceKind(kind.lower() + "s", kind)
    now = datetime.now(timezone.utc)
    cols = list(rk.headers)
    rows = [rk.row(o, now)[0] for o in items]
    if rk.namespaced and not all_namespaces:
        cols, rows = cols[1:], [r[1:] for r in rows]
    if kind == "Pod" and not wide:  # kubectl shows NODE and IP only with -o wide
        keep = [i for i, c in enumerate(cols) if c not in ("NODE", "IP")]
        cols, rows = [cols[i] for i in keep], [[r[i] for i in keep] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(cols, *rows)]
    fmt_row = lambda r: "   ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
    lines = ([fmt_row(cols)] if headers else []) + [fmt_row(r) for r in rows]
    return "\n".join(lines)


def describe(obj: dict, events: list[dict]) -> str:
    from kubedeck.tui.describe import describe as render, events_for

    return render(obj, events_for(obj, events), datetime.now(timezone.utc))


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
    from kubedeck.engine.api.paths import path_for

    client.request("PUT", path_for("Deployment", ns, name), json=d)
    print(f"deployment.apps/{name} rolled back")
    return 0
