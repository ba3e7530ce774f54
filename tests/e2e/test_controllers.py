"""Controllers and scheduler end to end on real Docker: Deployments (surge/unavailable
step by step, undo, Recreate, progress deadline, history), StatefulSets, DaemonSets on 3
nodes, Jobs, CronJobs, garbage collection, node failure, scheduling and self-healing
after an engine SIGKILL.

The tests share one engine (`shared_engine`: reset after each, the node's labels and
taints too), but those that kill it or start it with other nodes."""

from __future__ import annotations

import signal
import time

import pytest
from conftest import wait_for

from kubedeck.engine.paths import path_for

pytestmark = pytest.mark.shared_engine

BUSY = "busybox:1.36"
# Stops on SIGTERM, as a well-behaved app does: an `exec sleep` is PID 1, which ignores
# SIGTERM, so each pod's stop would wait out its whole grace period before the SIGKILL.
SLEEP = "trap 'exit 0' TERM; sleep 3600 & wait"


def deployment(name: str, replicas: int, *, env: str = "1", strategy: dict | None = None,
               ready_delay: int = 0, extra_spec: dict | None = None, image: str = BUSY,
               pod_extra: dict | None = None) -> dict:
    c = {"name": "app", "image": image, "imagePullPolicy": "IfNotPresent",
         "command": ["sh", "-c", SLEEP], "env": [{"name": "VERSION", "value": env}],
         "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1,
                            "initialDelaySeconds": ready_delay}}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     **({"strategy": strategy} if strategy else {}), **(extra_spec or {}),
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"terminationGracePeriodSeconds": 1, "containers": [c],
                                           **(pod_extra or {})}}}}


def live(pods: list[dict]) -> list[dict]:
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def ready(p: dict) -> bool:
    return not p["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions") or [])


def hash_of(p: dict) -> str:
    return p["metadata"]["labels"].get("pod-template-hash", "")


def set_env(engine, name: str, value: str) -> None:
    d = engine.client.get("Deployment", "default", name)
    d["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "VERSION", "value": value}]
    engine.client.request("PUT", path_for("Deployment", "default", name), json=d)


def condition(obj: dict, ctype: str) -> dict:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == ctype), {})


def rollout_done(engine, name: str, replicas: int):
    d = engine.client.get("Deployment", "default", name)
    st = d.get("status") or {}
    pods = engine.pods(f"app={name}")
    ok = (st.get("observedGeneration") == d["metadata"]["generation"] and st.get("updatedReplicas") == replicas
          and st.get("availableReplicas") == replicas and st.get("replicas") == replicas
          and len(pods) == replicas and all(ready(p) for p in pods))
    return d if ok else None


# ---- Deployments ---------------------------------------------------------------------
def test_rolling_update_limits_step_by_step_and_undo(engine):
    engine.client.create(deployment("web", 4, ready_delay=1, strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}))
    wait_for(lambda: rollout_done(engine, "web", 4), 90, what="4 ready pods")
    first = {hash_of(p) for p in engine.pods("app=web")}
    set_env(engine, "web", "2")
    most, fewest, steps, seen = 0, 99, [], set()

    def observe():
        nonlocal most, fewest
        pods = engine.pods("app=web")
        alive = live(pods)
        most = max(most, len(alive))
        fewest = min(fewest, sum(1 for p in alive if ready(p)))
        step = (sum(1 for p in alive if hash_of(p) not in first), sum(1 for p in alive if hash_of(p) in first))
        if not steps or steps[-1] != step:
            steps.append(step)
        seen.update(hash_of(p) for p in alive)
        return len(seen) > 1 and rollout_done(engine, "web", 4)
    wait_for(observe, 120, interval=0.05, what="rollout to VERSION=2")
    print(f"rollout steps (new, old): {steps}; max pods {most}, min ready {fewest}")
    assert most <= 5, steps  # replicas + maxSurge
    assert fewest >= 3, steps  # replicas - maxUnavailable
    assert len(steps) >= 3  # it really went in steps
    second = {hash_of(p) for p in engine.pods("app=web")}
    assert second.isdisjoint(first)
    history = engine.cli("rollout", "history", "deployment/web").stdout
    assert "1 " in history and "2 " in history
    # undo goes back to revision 1's template: the old ReplicaSet scales up again, as revision 3
    engine.cli("rollout", "undo", "deployment/web")
    wait_for(lambda: rollout_done(engine, "web", 4) and {hash_of(p) for p in engine.pods("app=web")} == first,
             120, what="rolled back to the first template")
    d = engine.client.get("Deployment", "default", "web")
    assert d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "1"
    rss = {r["metadata"]["labels"]["pod-template-hash"]: r for r in engine.client.list("ReplicaSet", "default")}
    assert rss[first.pop()]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert condition(d, "Progressing")["reason"] == "NewReplicaSetAvailable"
    assert condition(d, "Available")["status"] == "True"


def test_recreate_stops_every_old_pod_before_any_new_one(engine):
    engine.client.create(deployment("rec", 3, strategy={"type": "Recreate"}))
    wait_for(lambda: rollout_done(engine, "rec", 3), 90, what="3 ready pods")
    first = {hash_of(p) for p in engine.pods("app=rec")}
    set_env(engine, "rec", "2")
    mixed = []

    def observe():
        pods = engine.pods("app=rec")  # terminating pods included: they must be gone first
        hashes = {hash_of(p) for p in pods}
        if hashes & first and hashes - first:
            mixed.append([(p["metadata"]["name"], bool(p["metadata"].get("deletionTimestamp"))) for p in pods])
        return not hashes & first and rollout_done(engine, "rec", 3)
    wait_for(observe, 120, interval=0.05, what="recreated")
    assert not mixed, mixed[:3]


def test_progress_deadline_and_revision_history_limit(engine):
    engine.client.create(deployment("hist", 1, extra_spec={"revisionHistoryLimit": 1,
                                                            "progressDeadlineSeconds": 4}))
    wait_for(lambda: rollout_done(engine, "hist", 1), 60, what="first rollout")
    for v in ("2", "3"):
        set_env(engine, "hist", v)
        wait_for(lambda v=v: rollout_done(engine, "hist", 1) and
                 engine.pods("app=hist")[0]["spec"]["containers"][0]["env"][0]["value"] == v, 60,
                 what=f"rollout {v}")
    # revisionHistoryLimit 1: the current ReplicaSet plus one old one
    wait_for(lambda: len(engine.client.list("ReplicaSet", "default")) == 2, 20, what="old ReplicaSets pruned")
    revs = sorted(int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
                  for r in engine.client.list("ReplicaSet", "default"))
    assert revs == [2, 3]
    # an image that cannot start: Progressing=False/ProgressDeadlineExceeded after 4 s
    d = engine.client.get("Deployment", "default", "hist")
    c = d["spec"]["template"]["spec"]["containers"][0]
    c["image"], c["imagePullPolicy"] = "busybox:does-not-exist", "Never"
    engine.client.request("PUT", path_for("Deployment", "default", "hist"), json=d)
    t0 = time.monotonic()
    bad = wait_for(lambda: [p for p in engine.pods("app=hist") if any(
        (s.get("state") or {}).get("waiting", {}).get("reason") == "ErrImageNeverPull"
        for s in (p.get("status") or {}).get("containerStatuses") or [])], 30, what="ErrImageNeverPull")
    assert bad
    d = wait_for(lambda: (lambda d: d if condition(d, "Progressing").get("reason") == "ProgressDeadlineExceeded"
                          else None)(engine.client.get("Deployment", "default", "hist")), 30,
                 what="ProgressDeadlineExceeded")
    print(f"ProgressDeadlineExceeded after {time.monotonic() - t0:.1f}s (deadline 4s)")
    assert condition(d, "Progressing")["status"] == "False"
    # the old pod keeps serving: maxUnavailable 25% of 1 rounds down to 0
    assert sum(1 for p in engine.pods("app=hist") if ready(p)) == 1


# ---- StatefulSets ----------------------------------------------------------------------
def statefulset(name: str, replicas: int, policy: str = "OrderedReady", ready_cmd: str = "true") -> dict:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": "default"},
            "spec": {"serviceName": name, "replicas": replicas, "podManagementPolicy": policy,
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "db", "image": BUSY,
                                         "command": ["sh", "-c", "echo $(hostname) >> /data/log; cat /data/log; "
                                                     + SLEEP],
                                         "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                                         "readinessProbe": {"exec": {"command": ["sh", "-c", ready_cmd]},
                                                            "periodSeconds": 1, "initialDelaySeconds": 1}}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                         "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Mi"}}}}]}}


def test_statefulset_order_and_per_ordinal_data(engine):
    engine.client.create(statefulset("db", 3))
    violations, order = [], []

    def observe():
        pods = {p["metadata"]["name"]: p for p in engine.pods("app=db")}
        for i in (1, 2):
            name, prev = f"db-{i}", f"db-{i - 1}"
            if name in pods and name not in order:
                order.append(name)
                if not (prev in pods and ready(pods[prev])):
                    violations.append(f"{name} created before {prev} was Ready")
        if "db-0" in pods and "db-0" not in order:
            order.insert(0, "db-0")
        return len(pods) == 3 and all(ready(p) for p in pods.values())
    wait_for(observe, 120, interval=0.05, what="3 ready StatefulSet pods")
    assert not violations and order == ["db-0", "db-1", "db-2"], (violations, order)
    claims = sorted(c["metadata"]["name"] for c in engine.client.list("PersistentVolumeClaim", "default"))
    assert claims == ["data-db-0", "data-db-1", "data-db-2"]
    # data in the claim survives pod deletion and comes back to the same ordinal
    uid = engine.client.get("Pod", "default", "db-1")["metadata"]["uid"]
    engine.client.delete("Pod", "default", "db-1")
    wait_for(lambda: (lambda p: p["metadata"]["uid"] != uid and ready(p))(
        engine.client.get("Pod", "default", "db-1")), 60, what="db-1 back")
    logs = wait_for(lambda: engine.cli("logs", "db-1").stdout.split(), 20, what="db-1 logs")
    assert logs == ["db-1", "db-1"], logs
    # scale down: in reverse order, one at a time
    engine.client.patch("StatefulSet", "default", "db", {"spec": {"replicas": 1}})
    gone = []

    def shrinking():
        names = {p["metadata"]["name"] for p in live(engine.pods("app=db"))}
        for n in ("db-2", "db-1"):
            if n not in names and n not in gone:
                gone.append(n)
        return names == {"db-0"}
    wait_for(shrinking, 60, interval=0.05, what="scaled down to db-0")
    assert gone == ["db-2", "db-1"]
    # the claims stay after scale-down
    assert len(engine.client.list("PersistentVolumeClaim", "default")) == 3


def test_statefulset_rolling_update_goes_in_reverse_ordinal_order(engine):
    engine.client.create(statefulset("ru", 3))
    wait_for(lambda: len([p for p in engine.pods("app=ru") if ready(p)]) == 3, 120, what="3 ready pods")
    before = {p["metadata"]["name"]: p["metadata"]["uid"] for p in engine.pods("app=ru")}
    engine.client.patch("StatefulSet", "default", "ru", {"spec": {"template": {"metadata": {
        "annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}}}})
    replaced: list[str] = []

    def progress():
        pods = {p["metadata"]["name"]: p for p in engine.pods("app=ru")}
        for name, uid in before.items():
            p = pods.get(name)
            if (p is None or p["metadata"]["uid"] != uid) and name not in replaced:
                replaced.append(name)
        return len(replaced) == 3 and all(n in pods and ready(pods[n]) and pods[n]["metadata"]["uid"] != before[n]
                                          for n in before)
    wait_for(progress, 180, interval=0.05, what="every pod replaced")
    assert replaced == ["ru-2", "ru-1", "ru-0"], replaced


def test_statefulset_parallel_does_not_wait_for_readiness(engine):
    engine.client.create(statefulset("par", 3, policy="Parallel", ready_cmd="false"))
    pods = wait_for(lambda: (lambda ps: ps if len(ps) == 3 else None)(engine.pods("app=par")), 30,
                    what="3 pods at once")
    assert not any(ready(p) for p in pods)
    ordered = engine.client.create(statefulset("ord", 3, ready_cmd="false"))
    assert ordered["spec"]["podManagementPolicy"] == "OrderedReady" and ordered["spec"]["replicas"] == 3

    def ord0_running_not_ready():
        pods = engine.pods("app=ord")
        assert [p["metadata"]["name"] for p in pods] in ([], ["ord-0"]), "ord-1 came before ord-0 was Ready"
        return pods and (pods[0].get("status") or {}).get("phase") == "Running" and not ready(pods[0])
    wait_for(ord0_running_not_ready, 30, what="ord-0 Running, not Ready")
    # ord-0's readiness probe now fails every second and each result reaches the
    # controller; for 3 s no ord-1 may appear (an absence has to be watched for a while)
    until = time.monotonic() + 3

    def alone_for_3s():
        assert ord0_running_not_ready(), "ord-0 is no longer Running and not Ready"
        return time.monotonic() > until
    wait_for(alone_for_3s, 10, what="3 s of ord-0 alone")


# ---- DaemonSets, nodes, cordon and drain ---------------------------------------------------
def daemonset(name: str, node_selector: dict | None = None) -> dict:
    spec = {"terminationGracePeriodSeconds": 1,
            "containers": [{"name": "d", "image": BUSY, "command": ["sh", "-c", SLEEP]}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def on_nodes(engine, selector: str) -> list[str]:
    return sorted(p["spec"].get("nodeName") for p in live(engine.pods(selector)))


def test_daemonset_on_three_nodes_taints_selector_cordon_and_drain(make_engine):
    engine = make_engine("--nodes", "3")
    nodes = sorted(n["metadata"]["name"] for n in engine.client.list("Node"))
    assert nodes == ["kubedeck", "kubedeck-m02", "kubedeck-m03"]
    n = engine.client.get("Node", "", "kubedeck-m02")
    assert condition(n, "Ready")["status"] == "True" and condition(n, "MemoryPressure")["status"] == "False"
    assert n["status"]["allocatable"]["memory"] and n["status"]["allocatable"]["cpu"]
    engine.client.patch("Node", "", "kubedeck-m02", {"metadata": {"labels": {"role": "edge"}}})
    engine.client.create(daemonset("agent"))
    engine.client.create(daemonset("edge", {"role": "edge"}))
    wait_for(lambda: on_nodes(engine, "app=agent") == nodes and
             sum(1 for p in engine.pods("app=agent") if ready(p)) == 3, 60, what="one agent per node")
    wait_for(lambda: on_nodes(engine, "app=edge") == ["kubedeck-m02"], 30, what="edge daemon on m02 only")
    # a NoExecute taint the daemon does not tolerate removes it from that node
    engine.client.patch("Node", "", "kubedeck-m03", {"spec": {"taints": [
        {"key": "dedicated", "value": "db", "effect": "NoExecute"}]}})
    wait_for(lambda: on_nodes(engine, "app=agent") == ["kubedeck", "kubedeck-m02"], 30, what="daemon off m03")
    ds = wait_for(lambda: (lambda d: d if d["status"].get("desiredNumberScheduled") == 2 else None)(
        engine.client.get("DaemonSet", "default", "agent")), 10, what="status")
    assert ds["status"]["currentNumberScheduled"] == 2
    engine.client.patch("Node", "", "kubedeck-m03", {"spec": {"taints": None}})
    wait_for(lambda: on_nodes(engine, "app=agent") == nodes, 30, what="daemon back on m03")
    # a node label the selector no longer matches: the edge daemon goes
    engine.client.patch("Node", "", "kubedeck-m02", {"metadata": {"labels": {"role": None}}})
    wait_for(lambda: on_nodes(engine, "app=edge") == [], 30, what="edge daemon gone")
    # cordon keeps daemons (they tolerate node.kubernetes.io/unschedulable), new pods go elsewhere
    engine.client.create(deployment("web", 3))
    wait_for(lambda: rollout_done(engine, "web", 3), 60, what="web ready")
    assert on_nodes(engine, "app=web") == nodes  # spread one per node
    out = engine.cli("cordon", "kubedeck-m02").stdout
    assert "cordoned" in out
    node = wait_for(lambda: (lambda n: n if any(t["key"] == "node.kubernetes.io/unschedulable"
                                                for t in n["spec"].get("taints") or []) else None)(
        engine.client.get("Node", "", "kubedeck-m02")), 10, what="unschedulable taint")
    assert node["spec"]["unschedulable"] is True
    out = engine.cli("drain", "kubedeck-m02", "--ignore-daemonsets").stdout
    assert "drained" in out and "ignoring DaemonSet-managed Pods" in out
    wait_for(lambda: rollout_done(engine, "web", 3), 60, what="web pod replaced elsewhere")
    assert "kubedeck-m02" not in on_nodes(engine, "app=web")
    assert "kubedeck-m02" in on_nodes(engine, "app=agent")  # the daemon stayed
    # a bare pod needs --force
    engine.client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "namespace": "default"},
                          "spec": {"nodeName": "kubedeck-m03", "terminationGracePeriodSeconds": 1,
                                   "containers": [{"name": "c", "image": BUSY, "command": ["sleep", "3600"]}]}})
    r = engine.cli("drain", "kubedeck-m03", check=False)
    assert r.returncode == 1 and "--force" in r.stderr
    engine.cli("uncordon", "kubedeck-m02")
    engine.cli("uncordon", "kubedeck-m03")
    node = wait_for(lambda: (lambda n: n if not n["spec"].get("taints") else None)(
        engine.client.get("Node", "", "kubedeck-m02")), 10, what="taint removed")
    assert not node["spec"].get("unschedulable")


def test_node_stop_moves_pods_and_start_brings_it_back(make_engine):
    engine = make_engine("--nodes", "3")
    engine.client.create(deployment("web", 3))
    wait_for(lambda: rollout_done(engine, "web", 3), 60, what="web ready")
    assert on_nodes(engine, "app=web") == ["kubedeck", "kubedeck-m02", "kubedeck-m03"]
    victim = next(p for p in engine.pods("app=web") if p["spec"]["nodeName"] == "kubedeck-m02")
    t0 = time.monotonic()
    engine.cli("node", "stop", "kubedeck-m02")
    node = wait_for(lambda: (lambda n: n if condition(n, "Ready").get("status") == "Unknown" else None)(
        engine.client.get("Node", "", "kubedeck-m02")), 10, what="m02 NotReady")
    assert condition(node, "Ready")["reason"] == "NodeStatusUnknown"
    assert {(t["key"], t["effect"]) for t in node["spec"]["taints"]} == {
        ("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")}
    assert "NotReady" in engine.cli("get", "nodes").stdout
    wait_for(lambda: rollout_done(engine, "web", 3) and "kubedeck-m02" not in on_nodes(engine, "app=web"),
             60, interval=0.1, what="pod recreated on another node")
    took = time.monotonic() - t0
    print(f"node stop -> replacement pod Ready on another node: {took:.1f}s (eviction timeout 5s)")
    assert took >= 4.5  # not before the eviction timeout
    # the evicted pod's deletion finishes on its own time, apart from the replacement's readiness
    wait_for(lambda: victim["metadata"]["name"] not in {p["metadata"]["name"] for p in engine.pods("app=web")},
             30, what="the evicted pod gone")
    wait_for(lambda: not [c for c in engine.containers()
                          if c.labels.get("io.kubernetes.pod.uid") == victim["metadata"]["uid"]], 30,
             what="the evicted pod's containers removed")
    engine.cli("node", "start", "kubedeck-m02")
    node = wait_for(lambda: (lambda n: n if condition(n, "Ready").get("status") == "True" else None)(
        engine.client.get("Node", "", "kubedeck-m02")), 10, what="m02 Ready again")
    assert not node["spec"].get("taints")
    engine.cli("scale", "deployment/web", "--replicas=4")
    wait_for(lambda: rollout_done(engine, "web", 4), 60, what="scaled")
    assert "kubedeck-m02" in on_nodes(engine, "app=web")  # schedulable again


def test_nodes_from_cluster_config_file(tmp_path, docker_client):
    from conftest import Engine

    eng = Engine(tmp_path, docker_client)
    eng.state.mkdir(parents=True)
    (eng.state / "cluster.yaml").write_text(
        "podEvictionTimeoutSeconds: 2\n"
        "nodes:\n"
        "- {name: small, cpu: '1', memory: 64Mi, labels: {size: small}}\n"
        "- {name: big, cpu: '4', memory: 4Gi, taints: [{key: dedicated, value: big, effect: NoSchedule}]}\n")
    try:
        eng.start()
        nodes = {n["metadata"]["name"]: n for n in eng.client.list("Node")}
        assert set(nodes) == {"small", "big"}
        assert nodes["small"]["status"]["allocatable"]["memory"] == "64Mi"
        assert nodes["small"]["metadata"]["labels"]["size"] == "small"
        assert nodes["big"]["spec"]["taints"][0]["key"] == "dedicated"
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
               "spec": {"containers": [{"name": "c", "image": BUSY, "command": ["sleep", "3600"],
                                        "resources": {"requests": {"memory": "128Mi"}}}]}}
        eng.client.create(pod)
        msg = wait_for(lambda: condition(eng.client.get("Pod", "default", "p"), "PodScheduled").get("message"), 10,
                       what="unschedulable")
        assert msg == ("0/2 nodes are available: 1 Insufficient memory, "
                       "1 node(s) had untolerated taint {dedicated: big}.")
    finally:
        eng.cleanup()


# ---- Jobs and CronJobs -----------------------------------------------------------------------
def job(name: str, cmd: str, **spec) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"},
            "spec": {**spec, "template": {"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                                                    "containers": [{"name": "c", "image": BUSY,
                                                                    "command": ["sh", "-c", cmd]}]}}}}


def finished(engine, name: str) -> dict | None:
    try:
        j = engine.client.get("Job", "default", name)
    except Exception:  # noqa: BLE001
        return None
    c = next((c for c in (j.get("status") or {}).get("conditions") or []
              if c["type"] in ("Complete", "Failed") and c["status"] == "True"), None)
    return j if c else None


def test_jobs_backoff_completions_deadline_and_ttl(engine):
    t0 = time.monotonic()
    engine.client.create(job("fail", "exit 1", backoffLimit=1))
    engine.client.create(job("many", "sleep 1", completions=4, parallelism=2))
    engine.client.create(job("slow", "sleep 300", activeDeadlineSeconds=3))
    engine.client.create(job("brief", "true", ttlSecondsAfterFinished=2))
    most_active = [0]

    def many_done():
        pods = [p for p in engine.pods("job-name=many")]
        running = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        most_active[0] = max(most_active[0], len(running))
        return finished(engine, "many")
    j = wait_for(many_done, 90, interval=0.1, what="job many complete")
    assert condition(j, "Complete")["status"] == "True" and j["status"]["succeeded"] == 4
    assert most_active[0] == 2  # parallelism
    assert len(engine.pods("job-name=many")) == 4
    j = wait_for(lambda: finished(engine, "slow"), 30, what="job slow past its deadline")
    assert condition(j, "Failed")["reason"] == "DeadlineExceeded"
    wait_for(lambda: not live(engine.pods("job-name=slow")), 30, what="slow's pod deleted")
    # ttlSecondsAfterFinished: the Job and its pod are deleted 2 s after it finished
    wait_for(lambda: "brief" not in {j["metadata"]["name"] for j in engine.client.list("Job", "default")}, 60,
             what="job brief deleted by its TTL")
    wait_for(lambda: not engine.pods("job-name=brief"), 30, what="brief's pod deleted")
    # backoffLimit 1: two failed pods (the second after the 10 s back-off), then Failed
    j = wait_for(lambda: finished(engine, "fail"), 60, what="job fail")
    took = time.monotonic() - t0
    assert condition(j, "Failed")["reason"] == "BackoffLimitExceeded", j["status"]
    assert j["status"]["failed"] == 2
    pods = engine.pods("job-name=fail")
    assert len(pods) == 2 and all(p["status"]["phase"] == "Failed" for p in pods)
    print(f"backoffLimit 1 job failed after {took:.1f}s")
    # that no third pod comes later is shown on a fake clock: tests/unit/test_controllers_manager.py
    assert len(engine.pods("job-name=fail")) == 2


def test_cronjob_fires_on_the_minute(engine):
    engine.client.create({"apiVersion": "batch/v1", "kind": "CronJob",
                          "metadata": {"name": "tick", "namespace": "default"},
                          "spec": {"schedule": "* * * * *", "concurrencyPolicy": "Forbid",
                                   "successfulJobsHistoryLimit": 1,
                                   "jobTemplate": {"spec": {"template": {"spec": {
                                       "restartPolicy": "Never",
                                       "containers": [{"name": "c", "image": BUSY,
                                                       "command": ["sh", "-c", "date"]}]}}}}}})
    jobs = wait_for(lambda: engine.client.list("Job", "default"), 75, interval=0.2, what="the first run")
    fired = time.time()
    name = jobs[0]["metadata"]["name"]
    minute = int(name.rsplit("-", 1)[1])
    assert name == f"tick-{minute}" and abs(fired - minute * 60) < 10, (name, fired)
    assert jobs[0]["metadata"]["ownerReferences"][0]["name"] == "tick"
    wait_for(lambda: finished(engine, name), 60, what="the run completes")
    cj = wait_for(lambda: (lambda c: c if c["status"].get("lastSuccessfulTime") and not c["status"].get("active")
                           else None)(engine.client.get("CronJob", "default", "tick")), 20,
                  what="CronJob status")
    assert cj["status"]["lastScheduleTime"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(minute * 60))
    # suspend: no new run
    engine.client.patch("CronJob", "default", "tick", {"spec": {"suspend": True}})
    assert len(engine.client.list("Job", "default")) == 1


# ---- garbage collection ----------------------------------------------------------------------
def delete_with(engine, kind: str, name: str, policy: str) -> dict:
    return engine.client.request("DELETE", path_for(kind, "default", name), params={"propagationPolicy": policy})


def test_cascading_delete_background_foreground_and_orphan(engine):
    for name in ("bg", "fg", "orph"):
        engine.client.create(deployment(name, 2))
    for name in ("bg", "fg", "orph"):
        wait_for(lambda name=name: rollout_done(engine, name, 2), 90, what=f"{name} ready")
    # background (the default): the owner goes at once, ReplicaSet and pods after it
    engine.client.delete("Deployment", "default", "bg")
    wait_for(lambda: not engine.pods("app=bg") and not [r for r in engine.client.list("ReplicaSet", "default")
                                                        if r["metadata"]["name"].startswith("bg-")], 60,
             what="bg's ReplicaSet and pods gone")
    # foreground: the owner stays, marked, until its dependents are gone
    out = delete_with(engine, "Deployment", "fg", "Foreground")
    assert out["metadata"].get("deletionTimestamp") and "foregroundDeletion" in out["metadata"]["finalizers"]
    seen_owner_with_pods = False

    def fg_gone():
        nonlocal seen_owner_with_pods
        try:
            d = engine.client.get("Deployment", "default", "fg")
        except Exception:  # noqa: BLE001 - NotFound: the owner went last
            return not engine.pods("app=fg")
        assert d["metadata"].get("deletionTimestamp")
        if engine.pods("app=fg"):
            seen_owner_with_pods = True
        return False
    wait_for(fg_gone, 60, interval=0.05, what="foreground delete done")
    assert seen_owner_with_pods
    # orphan: the ReplicaSet and pods stay, without the owner reference
    before = {p["metadata"]["uid"] for p in engine.pods("app=orph")}
    delete_with(engine, "Deployment", "orph", "Orphan")
    wait_for(lambda: "orph" not in {d["metadata"]["name"] for d in engine.client.list("Deployment", "default")}, 10)
    # that the GC never deletes them later is shown on a fake clock: tests/unit/test_controllers_manager.py
    rs = [r for r in engine.client.list("ReplicaSet", "default") if r["metadata"]["name"].startswith("orph-")]
    assert len(rs) == 1 and not rs[0]["metadata"].get("ownerReferences")
    assert {p["metadata"]["uid"] for p in live(engine.pods("app=orph"))} == before


# ---- scheduler -------------------------------------------------------------------------------
def pod(name: str, memory: str | None = None, **spec) -> dict:
    c = {"name": "c", "image": BUSY, "command": ["sh", "-c", SLEEP]}
    if memory:
        c["resources"] = {"requests": {"memory": memory}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [c], **spec}}


def test_pending_until_room_appears(engine):
    from kubedeck.engine.quantity import parse_quantity

    node = engine.client.list("Node")[0]
    alloc = parse_quantity(node["status"]["allocatable"]["memory"])
    big = f"{int(alloc * 0.6 / 2**20)}Mi"
    engine.client.create(pod("big1", big))
    wait_for(lambda: ready(engine.client.get("Pod", "default", "big1")), 60, what="big1 running")
    engine.client.create(pod("big2", big))
    msg = wait_for(lambda: condition(engine.client.get("Pod", "default", "big2"), "PodScheduled").get("message"),
                   10, what="big2 unschedulable")
    assert msg == "0/1 nodes are available: 1 Insufficient memory."
    p = engine.client.get("Pod", "default", "big2")
    assert p["status"]["phase"] == "Pending" and not p["spec"].get("nodeName")
    assert "Insufficient memory" in engine.cli("describe", "pod", "big2").stdout
    engine.client.create(pod("picky", nodeSelector={"disk": "ssd"}))
    engine.client.create(pod("shy", tolerations=[]))
    engine.client.patch("Node", "", "kubedeck", {"spec": {"taints": [{"key": "team", "value": "a",
                                                                       "effect": "NoSchedule"}]}})
    msg = wait_for(lambda: condition(engine.client.get("Pod", "default", "picky"), "PodScheduled").get("message"),
                   10, what="picky unschedulable")
    assert msg in ("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",)
    engine.client.patch("Node", "", "kubedeck", {"spec": {"taints": None}})
    # room appears: big2 is scheduled by itself
    engine.client.delete("Pod", "default", "big1")
    wait_for(lambda: ready(engine.client.get("Pod", "default", "big2")), 60, what="big2 scheduled and running")
    # a label appears: picky is scheduled by itself
    engine.client.patch("Node", "", "kubedeck", {"metadata": {"labels": {"disk": "ssd"}}})
    wait_for(lambda: engine.client.get("Pod", "default", "picky")["spec"].get("nodeName") == "kubedeck", 10)


def test_taint_message(engine):
    engine.client.patch("Node", "", "kubedeck", {"spec": {"taints": [{"key": "team", "value": "a",
                                                                       "effect": "NoSchedule"}]}})
    wait_for(lambda: engine.client.get("Node", "", "kubedeck")["spec"].get("taints"), 5)
    engine.client.create(pod("shy"))
    msg = wait_for(lambda: condition(engine.client.get("Pod", "default", "shy"), "PodScheduled").get("message"),
                   10, what="shy unschedulable")
    assert msg == "0/1 nodes are available: 1 node(s) had untolerated taint {team: a}."
    engine.client.create(pod("brave", tolerations=[{"key": "team", "operator": "Equal", "value": "a",
                                                    "effect": "NoSchedule"}]))
    wait_for(lambda: ready(engine.client.get("Pod", "default", "brave")), 60, what="tolerating pod runs")


# ---- self-healing ----------------------------------------------------------------------------
def test_deleted_pod_is_replaced(engine):
    engine.client.create(deployment("heal", 2))
    wait_for(lambda: rollout_done(engine, "heal", 2), 60)
    victim = engine.pods("app=heal")[0]["metadata"]
    engine.client.delete("Pod", "default", victim["name"])
    wait_for(lambda: rollout_done(engine, "heal", 2) and victim["uid"] not in
             {p["metadata"]["uid"] for p in engine.pods("app=heal")}, 60, what="replaced")


def pod_containers(engine) -> list:
    """The cluster's containers but the host's NodePort helper, which stays once a pod has
    run (it routes pods to the API, engine/in_cluster.py)."""
    return [c for c in engine.containers() if c.labels.get("io.kubedeck.role") != "nodeport-kernel"]


def container_summary(engine) -> list:
    return sorted((c.labels.get("io.kubernetes.pod.name"), c.labels.get("io.kubernetes.container.name", "sandbox"),
                   c.status, c.name[:60]) for c in pod_containers(engine))


@pytest.mark.own_engine
def test_engine_sigkill_mid_scale_up_and_mid_rollout(engine):
    engine.client.create(deployment("big", 0))
    wait_for(lambda: engine.client.get("Deployment", "default", "big").get("status"), 10)
    engine.client.patch("Deployment", "default", "big", {"spec": {"replicas": 10}})
    wait_for(lambda: sum(1 for p in engine.pods("app=big") if (p.get("status") or {}).get("phase") == "Running")
             >= 3, 60, interval=0.02, what="a few pods running")
    engine.kill(signal.SIGKILL)
    n_before = len(pod_containers(engine))
    running_before = sum(1 for c in pod_containers(engine) if c.status == "running")
    engine.start()
    wait_for(lambda: rollout_done(engine, "big", 10), 120, what="10 ready pods after restart")
    pods = engine.pods("app=big")
    assert len(pods) == 10 and len({p["metadata"]["name"] for p in pods}) == 10
    running = lambda: [c for c in pod_containers(engine) if c.status == "running"]  # noqa: E731
    try:
        wait_for(lambda: len(running()) == 10, 30, what="one container per (single-container) pod")
    except AssertionError as e:
        raise AssertionError(f"{e}: {container_summary(engine)}") from None
    assert {c.labels["io.kubernetes.pod.uid"] for c in pod_containers(engine)} == {p["metadata"]["uid"] for p in pods}
    # a container created but not yet started at the kill is started afresh, never kept
    assert not [c for c in pod_containers(engine) if c.status == "created"], container_summary(engine)
    assert len(pod_containers(engine)) == 10, container_summary(engine)
    print(f"containers at the kill: {n_before} ({running_before} running); after restart: {len(pod_containers(engine))} for {len(pods)} pods")
    # mid-rollout
    engine.client.patch("Deployment", "default", "big", {"spec": {"replicas": 4}})
    wait_for(lambda: rollout_done(engine, "big", 4), 60, what="scaled to 4")
    old = {hash_of(p) for p in engine.pods("app=big")}
    set_env(engine, "big", "2")
    wait_for(lambda: any(hash_of(p) not in old for p in engine.pods("app=big")), 30, interval=0.02,
             what="rollout started")
    engine.kill(signal.SIGKILL)
    engine.start()
    d = wait_for(lambda: rollout_done(engine, "big", 4), 120, what="rollout completes after restart")
    assert not {hash_of(p) for p in engine.pods("app=big")} & old
    assert d["status"]["updatedReplicas"] == 4
    rs = sorted(r["spec"]["replicas"] for r in engine.client.list("ReplicaSet", "default"))
    assert rs == [0, 4]
    wait_for(lambda: len([c for c in pod_containers(engine) if c.status == "running"]) == 4, 30,
             what="no leaked containers")
