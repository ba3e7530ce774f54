"""`kubectl top pods` and `kubectl top nodes` against a live kubedeck, checked against
`docker stats`: one pod burns a third of a CPU (its limit), one holds 48 MiB in a tmpfs. Both kubectl
generations run (`kubectl.1.33` and `kubectl.1.27`); a missing binary fails.

The readings agree within 20 %, compared as often as needed while the pods run: the
sampler's rate spans ~10 s and `docker stats` ~1 s, so a neighbour's burst on a shared
machine can push one pair apart for a moment, but not every pair for a minute.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import wait_for
from e2e_kit import kubectl_binaries

pytestmark = pytest.mark.docker

PODS = """
apiVersion: v1
kind: Pod
metadata: {name: burn, labels: {app: burn}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: burn
    image: busybox:1.36
    command: ["sh", "-c", "while :; do :; done"]
    # a third of a core, held by its CPU quota: steady readings even on a machine whose
    # other tests keep both cores busy (and those tests keep the other two thirds)
    resources: {limits: {cpu: 300m}}
---
apiVersion: v1
kind: Pod
metadata: {name: mem, labels: {app: mem}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: mem
    image: busybox:1.36
    command: ["sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 && sleep 3600"]
"""
MI = 1 << 20
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "kB": 1000, "MB": 10**6, "GB": 10**9}


def kubectl(engine, binary: str, *args: str) -> str:
    r = subprocess.run([binary, "--kubeconfig", str(engine.state / "kubeconfig"), *args],
                       check=False, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"{binary} {' '.join(args)} failed ({r.returncode}):\n{r.stderr}{r.stdout}"
    return r.stdout


def table(text: str) -> dict[str, list[str]]:
    """`kubectl top` output as name -> the other columns."""
    lines = text.strip().splitlines()
    return {cols[0]: cols[1:] for cols in (line.split() for line in lines[1:])}


def cores(text: str) -> float:
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def mebibytes(text: str) -> float:
    assert text.endswith("Mi"), text
    return float(text[:-2])


def docker_stats(engine) -> dict[str, tuple[float, float]]:
    """Pod container id -> (cores, MiB) from `docker stats --no-stream`, pods only (no
    Service proxies); sandboxes included, as the node's usage includes them."""
    ids = [c["Id"] for c in engine.docker.api.containers(filters={"label": [f"io.kubedeck.cluster={engine.name}",
                                                                             "io.kubernetes.pod.uid"]})]
    r = subprocess.run(["docker", "stats", "--no-stream", "--no-trunc", "--format", "{{json .}}", *ids],
                       capture_output=True, text=True, timeout=60, check=True)
    out = {}
    for line in r.stdout.splitlines():
        row = json.loads(line)
        used = row["MemUsage"].split("/")[0].strip()
        unit = next(u for u in sorted(UNITS, key=len, reverse=True) if used.endswith(u))
        out[row["ID"]] = (float(row["CPUPerc"].rstrip("%")) / 100,
                          float(used[:-len(unit)]) * UNITS[unit] / MI)
    return out


def container_of(engine, pod: str) -> str:
    st = engine.client.get("Pod", "default", pod)["status"]["containerStatuses"][0]
    return st["containerID"].removeprefix("docker://")


def near(got: float, want: float) -> bool:
    return abs(got - want) <= 0.2 * want


def test_top_pods_and_nodes_agree_with_docker_stats(engine):
    binaries = kubectl_binaries()
    engine.write("pods.yaml", PODS)
    wait_for(lambda: engine.running_ready("app in (burn,mem)", 2), 90, what="burn and mem running")
    burn, mem = container_of(engine, "burn"), container_of(engine, "mem")
    seen: dict[str, str] = {}

    def pods_agree(binary: str) -> bool:
        top = table(kubectl(engine, binary, "top", "pods", "-n", "default"))
        stats = docker_stats(engine)
        seen["pods"] = f"kubectl: {top}, docker: {stats}"
        filled = stats[mem][1] > 40  # dd is done
        return filled and (near(cores(top["burn"][0]), stats[burn][0]) and cores(top["burn"][0]) > 0.2
                and cores(top["mem"][0]) < 0.05
                and near(mebibytes(top["mem"][1]), stats[mem][1]) and mebibytes(top["burn"][1]) < 10)

    def nodes_agree(binary: str) -> bool:
        rows = table(kubectl(engine, binary, "top", "nodes"))
        stats = docker_stats(engine)
        seen["nodes"] = f"kubectl: {rows}, docker: {stats}"
        cpu, mib = sum(cores(r[0]) for r in rows.values()), sum(mebibytes(r[2]) for r in rows.values())
        return near(cpu, sum(c for c, _ in stats.values())) and near(mib, sum(m for _, m in stats.values()))

    for binary in binaries:
        wait_for(lambda b=binary: pods_agree(b), 90, interval=2, what=f"{binary} top pods ~ docker stats: {seen}")
        wait_for(lambda b=binary: nodes_agree(b), 90, interval=2, what=f"{binary} top nodes ~ docker stats: {seen}")
        # a named pod, and a label selector, as kubectl asks for them
        one = table(kubectl(engine, binary, "top", "pod", "mem", "--containers"))
        assert list(one) == ["mem"] and one["mem"][0] == "mem", one
        assert list(table(kubectl(engine, binary, "top", "pods", "-l", "app=burn"))) == ["burn"]
    # the API itself: metrics-server's object shape
    raw = json.loads(kubectl(engine, binaries[0], "get", "--raw",
                             "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/burn"))
    assert raw["kind"] == "PodMetrics" and raw["metadata"]["labels"] == {"app": "burn"}
    assert raw["window"].endswith("s") and cores(raw["containers"][0]["usage"]["cpu"].rstrip("n")) > 10**8
