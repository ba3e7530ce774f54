"""The shipped samples: both validate; the demo runs fully offline; mlflow, whose images
cannot be pulled here, shows ImagePullBackOff with the registry's message."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

from conftest import wait_for

SAMPLES = Path(__file__).resolve().parents[2] / "sample-manifests"


def test_samples_validate_cleanly():
    from kubedeck.engine.manifests.validate import load_and_validate

    for name in ("demo", "mlflow"):
        docs, errors = load_and_validate(SAMPLES / name)
        assert docs and not [e for e in errors if e.severity == "error"], [str(e) for e in errors]


def test_demo_runs_offline(engine):
    shutil.copytree(SAMPLES / "demo", engine.folder, dirs_exist_ok=True)
    wait_for(lambda: engine.running_ready("app=web", 3), 90, what="3 web replicas ready")

    def phases():
        pods = engine.client.list("Pod", "default")
        return {p["metadata"]["name"].rsplit("-", 2)[0] if p["metadata"]["name"].startswith("web-")
                else p["metadata"]["name"]: p["status"].get("phase") for p in pods}
    wait_for(lambda: (lambda ph: ph.get("counter-0") == "Running" and ph.get("client") == "Running"
                      and "Succeeded" in ph.values())(phases()), 90, what="counter, client running and the job done")
    # the Job controller marks the Job on its next pass after the pod's Succeeded
    assert wait_for(lambda: any(c["type"] == "Complete" and c["status"] == "True" for c in
                                (engine.client.get("Job", "default", "hello").get("status") or {}).get("conditions") or []),
                    30, what="Job hello Complete")
    # the client reaches the web Service by name
    wait_for(lambda: "hello from web-" in b"".join(engine.client.logs("default", "client", tail=20)).decode(),
             60, what="client reaching http://web/ by name")
    svc = engine.client.get("Service", "default", "web")
    port = svc["spec"]["ports"][0]["nodePort"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
        assert b"hello from web-" in r.read()
    pvc = engine.client.get("PersistentVolumeClaim", "default", "data-counter-0")
    assert pvc["metadata"]["name"] == "data-counter-0"


def test_mlflow_without_registry_shows_image_pull_backoff(engine):
    shutil.copytree(SAMPLES / "mlflow", engine.folder, dirs_exist_ok=True)

    def waiting_reasons():
        out = {}
        for p in engine.client.list("Pod", "default"):
            for cs in (p.get("status") or {}).get("containerStatuses") or []:
                w = cs.get("state", {}).get("waiting")
                if w:
                    out[p["metadata"]["name"]] = w
        return out
    reasons = wait_for(lambda: (lambda r: r if len(r) >= 2 and all(
        w["reason"] in ("ErrImagePull", "ImagePullBackOff") for w in r.values()) else None)(waiting_reasons()),
        60, what="both pods failing to pull")
    assert any("ghcr.io" in w.get("message", "") or "registry" in w.get("message", "") or "no such host" in
               w.get("message", "") for w in reasons.values())
    wait_for(lambda: any(w["reason"] == "ImagePullBackOff" for w in waiting_reasons().values()), 60,
             what="ImagePullBackOff after the first failure")
    assert engine.client.status()["docker"] == "ok"
    assert engine.proc.poll() is None
