"""pod_start_ratio: a Deployment scaled 0 -> N until N pods are Running, against creating
and starting the same N containers directly through the Docker SDK at the same
concurrency (the agent's Docker thread pool size), in the same run, repeats interleaved (raw first, then kubedeck first, ...).

An extra row shows raw Docker doing what a kubedeck pod really costs: a sandbox
("pause") container plus the app container joined to its network namespace.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from common import BUSYBOX, L_CLUSTER, Engine, Result, follow_pods, log, median, running, spread, wait_for

AGENT_DOCKER_WORKERS = 16   # engine/agent/docker_io.py DockerIO(workers=16)


def deployment(n: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "podstart", "namespace": "default"},
            "spec": {"replicas": n, "selector": {"matchLabels": {"app": "podstart"}},
                     "template": {"metadata": {"labels": {"app": "podstart"}},
                                  "spec": {"terminationGracePeriodSeconds": 0,
                                           "containers": [{"name": "main", "image": BUSYBOX,
                                                           "command": ["sleep", "3600"]}]}}}}


def raw_start(docker, n: int, pairs: bool) -> float:
    """Seconds to create+start n containers (or n sandbox+app pairs) with the SDK."""
    from kubedeck.engine.pause import PAUSE_IMAGE

    api = docker.api
    tag = f"kdbench-raw-{uuid.uuid4().hex[:6]}"
    net = docker.networks.create(tag, driver="bridge", labels={L_CLUSTER: tag})
    labels = {L_CLUSTER: tag}

    def one(i: int) -> str:
        if pairs:
            sb = api.create_container(PAUSE_IMAGE, name=f"{tag}-sb-{i}", labels=labels,
                                      networking_config=api.create_networking_config(
                                          {tag: api.create_endpoint_config()}),
                                      host_config=api.create_host_config(network_mode=tag, ipc_mode="shareable"))
            api.start(sb["Id"])
            hc = api.create_host_config(network_mode=f"container:{sb['Id']}", ipc_mode=f"container:{sb['Id']}")
        else:
            hc = api.create_host_config(network_mode=tag)
        c = api.create_container(BUSYBOX, name=f"{tag}-{i}", command=["sleep", "3600"], labels=labels,
                                 host_config=hc)
        api.start(c["Id"])
        return c["Id"]

    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(AGENT_DOCKER_WORKERS) as pool:
            list(pool.map(one, range(n)))
        return time.perf_counter() - t0
    finally:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda c: c.remove(force=True),
                          docker.containers.list(all=True, filters={"label": f"{L_CLUSTER}={tag}"})))
        for _ in range(50):  # Docker releases a removed container's endpoint a moment later
            try:
                net.remove()
                break
            except Exception:  # noqa: BLE001
                time.sleep(0.1)
        else:  # Docker 20.10 sometimes keeps a phantom endpoint until the daemon restarts
            log(f"network {tag} could not be removed (Docker reports active endpoints); "
                f"remove it with `docker network rm {tag}` after restarting dockerd")


def kubedeck_start(eng: Engine, n: int) -> float:
    eng.client.patch("Deployment", "default", "podstart", {"spec": {"replicas": 0}})
    wait_for(lambda: not eng.pods("app=podstart") and not eng.docker.containers.list(
        all=True, filters={"label": [f"{L_CLUSTER}={eng.name}", "io.kubedeck.role=app"]}), 120, 0.2,
        what="scale to 0")
    t0 = time.perf_counter()
    eng.client.patch("Deployment", "default", "podstart", {"spec": {"replicas": n}})
    # on a watch, as `kubectl wait` and `rollout status` do (a LIST every 50 ms cost the
    # engine and this process CPU that the containers being started needed)
    follow_pods(eng, "app=podstart", lambda up, _: up >= n, 300, match=running)
    return time.perf_counter() - t0


def run(docker, quick: bool) -> Result:
    n = 20 if quick else 50
    # one repeat's ratio varies by about 5 % (sd, measured over 8 repeats on 2 cores):
    # 4 repeats, each pair's order the reverse of the last, keep a run's median near the mean
    repeats = 4
    raw, pairs, kd = [], [], []
    with Engine(docker) as eng:
        eng.client.create(deployment(0))
        for i in range(repeats):
            if i % 2 == 0:
                raw.append(raw_start(docker, n, pairs=False))
                kd.append(kubedeck_start(eng, n))
            else:
                kd.append(kubedeck_start(eng, n))
                raw.append(raw_start(docker, n, pairs=False))
            pairs.append(raw_start(docker, n, pairs=True))
            log(f"pod_start #{i + 1}: raw {raw[-1]:.2f}s  kubedeck {kd[-1]:.2f}s  raw pairs {pairs[-1]:.2f}s")
        eng.client.patch("Deployment", "default", "podstart", {"spec": {"replicas": 0}})
    ratios = [k / r for k, r in zip(kd, raw)]
    res = Result("pod_start_ratio", median(ratios), "<= 1.15",
                 f"Deployment 0->{n} pods Running vs {n} containers create+start via Docker SDK "
                 f"({AGENT_DOCKER_WORKERS} threads)",
                 baseline_label=f"raw Docker SDK, {n} containers, {AGENT_DOCKER_WORKERS} threads",
                 baseline=median(raw), kubedeck=median(kd), unit="s", repeats=repeats, spread=spread(ratios))
    res.rows.append({"label": "raw pairs", "detail": f"raw Docker, {n} sandbox+app pairs (what a pod costs)",
                     "value": f"{median(pairs):.3g} s"})
    res.rows.append({"label": "vs pairs", "detail": "kubedeck / raw pairs",
                     "value": f"{median([k / p for k, p in zip(kd, pairs)]):.3g}"})
    res.rows.append({"label": "per pod", "detail": "kubedeck seconds per pod",
                     "value": f"{median(kd) / n * 1000:.0f} ms"})
    res.notes.append("a single-container pod is one container; pods with several containers or init containers add a pause sandbox (the 'raw pairs' row)")
    return res
