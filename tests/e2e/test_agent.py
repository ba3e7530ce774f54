"""The node agent on real Docker: config, volumes, restarts, probes, logs, adoption.

The tests share one engine (`shared_engine`: reset after each), but those that kill it."""

from __future__ import annotations

import time

import pytest
from conftest import wait_for

pytestmark = pytest.mark.shared_engine


def pod_yaml(name: str, body: str) -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
{body}
"""


def status(engine, name: str) -> dict:
    return engine.client.get("Pod", "default", name).get("status") or {}


def cstatus(engine, name: str, idx: int = 0) -> dict:
    return (status(engine, name).get("containerStatuses") or [{}])[idx]


def logs(engine, name: str, **kw) -> str:
    return b"".join(engine.client.logs("default", name, **kw)).decode()


def test_env_waits_for_missing_configmap_then_starts(engine):
    engine.write("pod.yaml", pod_yaml("envpod", """
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "echo GREETING=$GREETING PASS=$PASS NAME=$MY_NAME X_$(echo $PREFIXED_k); sleep 3600"]
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: cfg, key: greeting}}
    - name: PASS
      valueFrom: {secretKeyRef: {name: sec, key: password}}
    - name: MY_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    envFrom:
    - prefix: PREFIXED_
      configMapRef: {name: cfg}
"""))
    st = wait_for(lambda: cstatus(engine, "envpod").get("state", {}).get("waiting", {}).get("reason")
                  == "CreateContainerConfigError" and cstatus(engine, "envpod"), 30, what="config error")
    assert 'configmap "cfg" not found' in st["state"]["waiting"]["message"]
    engine.write("cfg.yaml", """
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {greeting: hello, k: v}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
stringData: {password: s3cret}
""")
    wait_for(lambda: "running" in cstatus(engine, "envpod").get("state", {}), 30, what="pod started by itself")
    out = wait_for(lambda: logs(engine, "envpod"), 10, what="logs")
    assert "GREETING=hello PASS=s3cret NAME=envpod" in out


def test_killed_container_restarts_and_backs_off(engine):
    engine.write("pod.yaml", pod_yaml("crash", """
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "echo started $(date +%s%N); sleep 3600"]
"""))
    first = wait_for(lambda: "running" in cstatus(engine, "crash").get("state", {}) and cstatus(engine, "crash"),
                     30, what="running")
    cid = first["containerID"].removeprefix("docker://")
    engine.docker.containers.get(cid).kill()
    t0 = time.monotonic()
    again = wait_for(lambda: cstatus(engine, "crash").get("restartCount") == 1
                     and "running" in cstatus(engine, "crash")["state"] and cstatus(engine, "crash"),
                     10, interval=0.02, what="restarted")
    took = time.monotonic() - t0
    assert again["containerID"] != first["containerID"]
    assert again["lastState"]["terminated"]["exitCode"] == 137
    print(f"killed container running again after {took:.3f}s")
    # the previous container's logs are still there
    assert "started" in logs(engine, "crash", previous=True)
    # a second kill enters CrashLoopBackOff (10 s back-off)
    engine.docker.containers.get(again["containerID"].removeprefix("docker://")).kill()
    waiting = wait_for(lambda: cstatus(engine, "crash").get("state", {}).get("waiting"), 10, interval=0.02,
                       what="CrashLoopBackOff")
    assert waiting["reason"] == "CrashLoopBackOff"
    t1 = time.monotonic()
    wait_for(lambda: cstatus(engine, "crash").get("restartCount") == 2
             and "running" in cstatus(engine, "crash")["state"], 20, what="restart after back-off")
    assert 8 <= time.monotonic() - t1 <= 14


def test_restart_policy_never_and_exit_codes(engine):
    engine.write("pod.yaml", pod_yaml("once", """
  restartPolicy: Never
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "exit 3"]
"""))
    st = wait_for(lambda: status(engine, "once").get("phase") == "Failed" and status(engine, "once"), 30,
                  what="Failed")
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 3 and term["reason"] == "Error"


def test_init_containers_and_emptydir(engine):
    engine.write("pod.yaml", pod_yaml("init", """
  initContainers:
  - name: one
    image: busybox:1.36
    command: ["sh", "-c", "echo one >> /work/order"]
    volumeMounts: [{name: work, mountPath: /work}]
  - name: two
    image: busybox:1.36
    command: ["sh", "-c", "echo two >> /work/order"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "cat /data/order; sleep 3600"]
    volumeMounts: [{name: work, mountPath: /data}]
  volumes:
  - name: work
    emptyDir: {}
"""))
    wait_for(lambda: status(engine, "init").get("phase") == "Running", 60, what="running after inits")
    assert wait_for(lambda: logs(engine, "init", container="main"), 10).split() == ["one", "two"]


def test_pvc_data_survives_pod_deletion(engine):
    engine.write("pvc.yaml", """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 10Mi}}
""")
    body = """
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "echo run >> /data/runs; cat /data/runs | wc -l; sleep 3600"]
    volumeMounts: [{name: d, mountPath: /data}]
  volumes:
  - name: d
    persistentVolumeClaim: {claimName: data}
"""
    engine.write("pod.yaml", pod_yaml("store", body))
    wait_for(lambda: logs(engine, "store").strip() == "1", 60, what="first run")
    engine.client.delete("Pod", "default", "store", grace=0)
    wait_for(lambda: not engine.pods("app=store"), 30, what="pod deleted")
    engine.write("pod.yaml", pod_yaml("store", body) + "\n# again\n")
    wait_for(lambda: logs(engine, "store").strip() == "2", 60, what="data kept in the volume")


def test_configmap_volume_updates_in_place(engine):
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: files}\ndata: {motd: %s}\n"
    engine.write("cm.yaml", cm % "first")
    engine.write("pod.yaml", pod_yaml("reader", """
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "while true; do cat /etc/app/motd; echo; sleep 0.2; done"]
    volumeMounts: [{name: f, mountPath: /etc/app}]
  volumes:
  - name: f
    configMap: {name: files}
"""))
    wait_for(lambda: "first" in logs(engine, "reader", tail=1), 60, what="file projected")
    uid = engine.client.get("Pod", "default", "reader")["metadata"]["uid"]
    engine.write("cm.yaml", cm % "second")
    wait_for(lambda: "second" in logs(engine, "reader", tail=1), 20, what="file updated in place")
    assert engine.client.get("Pod", "default", "reader")["metadata"]["uid"] == uid


def test_liveness_failure_restarts_and_readiness_gates_ready(engine):
    engine.write("pod.yaml", pod_yaml("probed", """
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "touch /tmp/alive; sleep 3600"]
    livenessProbe:
      exec: {command: [test, -f, /tmp/alive]}
      periodSeconds: 1
      failureThreshold: 2
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
"""))
    wait_for(lambda: "running" in cstatus(engine, "probed").get("state", {}), 60, what="running")
    assert cstatus(engine, "probed")["ready"] is False  # nothing listens on 8080
    cid = cstatus(engine, "probed")["containerID"].removeprefix("docker://")
    engine.docker.containers.get(cid).exec_run(["rm", "/tmp/alive"])
    wait_for(lambda: cstatus(engine, "probed").get("restartCount") == 1, 30, what="liveness restart")
    events = engine.client.list("Event", "default")
    assert any(e["reason"] == "Unhealthy" and "Liveness" in e["message"] for e in events)
    # each failed attempt is reported, as the kubelet does: the never-ready readiness probe too
    assert any(e["reason"] == "Unhealthy" and e["message"].startswith("Readiness probe failed: ") and e["count"] >= 2
               for e in events), [e["message"] for e in events if e["reason"] == "Unhealthy"]


def test_oom_killed(engine):
    engine.write("pod.yaml", pod_yaml("hog", """
  restartPolicy: Never
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; while true; do x=$x$x; done"]
    resources:
      limits: {memory: 16Mi}
"""))
    st = wait_for(lambda: status(engine, "hog").get("phase") == "Failed" and status(engine, "hog"), 60,
                  what="OOM kill")
    assert st["containerStatuses"][0]["state"]["terminated"]["reason"] == "OOMKilled"


@pytest.mark.own_engine
def test_engine_sigkill_adopts_containers(engine):
    engine.write("pod.yaml", pod_yaml("keeper", """
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "sleep 3600"]
"""))
    wait_for(lambda: "running" in cstatus(engine, "keeper").get("state", {}), 60, what="running")
    before = sorted(c.id for c in engine.containers())
    engine.kill()
    engine.start()
    wait_for(lambda: engine.client.get("Pod", "default", "keeper"), 10)
    # give the new engine a full sync, then nothing may have changed
    engine.write("other.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: marker}\n")
    wait_for(lambda: engine.client.get("ConfigMap", "default", "marker"), 10, what="new engine syncing")
    after = sorted(c.id for c in engine.containers())
    assert after == before
    assert cstatus(engine, "keeper")["restartCount"] == 0
    assert all(c.status == "running" for c in engine.containers())


def test_graceful_delete_honours_grace_period(engine):
    engine.write("pod.yaml", pod_yaml("slow", """
  terminationGracePeriodSeconds: 3
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "trap 'echo got TERM' TERM; while true; do sleep 0.1; done"]
"""))
    wait_for(lambda: "running" in cstatus(engine, "slow").get("state", {}), 60, what="running")
    t0 = time.monotonic()
    engine.client.delete("Pod", "default", "slow")
    wait_for(lambda: not engine.pods("app=slow"), 20, interval=0.05, what="pod gone")
    took = time.monotonic() - t0
    assert 2.5 <= took <= 8, took  # SIGTERM ignored by the loop, SIGKILL after 3 s


def test_exec_through_the_api(engine):
    import subprocess
    import sys

    engine.write("pod.yaml", pod_yaml("shell", """
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "echo inside > /tmp/f; sleep 3600"]
"""))
    wait_for(lambda: "running" in cstatus(engine, "shell").get("state", {}), 60, what="running")
    r = engine.cli("exec", "shell", "--", "sh", "-c", "cat /tmp/f; hostname; echo err >&2")
    assert r.stdout.split() == ["inside", "shell"] and r.stderr.strip() == "err"
    r = engine.cli("exec", "shell", "--", "sh", "-c", "exit 7", check=False)
    assert r.returncode == 7
    p = subprocess.run([sys.executable, "-m", "kubedeck", "--state", str(engine.state), "exec", "-i", "shell",
                        "--", "wc", "-c"], input="12345", capture_output=True, text=True, timeout=30)
    assert p.stdout.strip() == "5"
    r = engine.cli("exec", "nope", "--", "true", check=False)
    assert r.returncode == 1 and "not found" in r.stderr


def test_prestop_hook_and_security_context(engine, tmp_path):
    hostdir = engine.folder / "hooks"  # hostPath must lie in the manifest folder (Pod Security baseline)
    hostdir.mkdir()
    hostdir.chmod(0o777)
    engine.write("pod.yaml", pod_yaml("hooked", f"""
  terminationGracePeriodSeconds: 10
  securityContext: {{runAsUser: 1000, runAsGroup: 1000}}
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "id -u > /out/uid; touch /ro-test 2>/out/ro || true; trap 'exit 0' TERM; sleep 3600 & wait"]
    securityContext: {{readOnlyRootFilesystem: true}}
    lifecycle:
      preStop:
        exec: {{command: ["sh", "-c", "echo stopped-by-prestop > /out/prestop"]}}
    volumeMounts: [{{name: out, mountPath: /out}}]
  volumes:
  - name: out
    hostPath: {{path: {hostdir}, type: Directory}}
"""))
    # the container writes uid, then ro: wait for the second (reading ro on seeing uid raced it)
    wait_for(lambda: (hostdir / "ro").exists() and (hostdir / "ro").read_text().strip(), 60, what="started")
    assert (hostdir / "uid").read_text().strip() == "1000"
    assert "Read-only file system" in (hostdir / "ro").read_text()
    engine.client.delete("Pod", "default", "hooked")
    wait_for(lambda: not engine.pods("app=hooked"), 30, what="pod deleted")
    assert (hostdir / "prestop").read_text().strip() == "stopped-by-prestop"


def test_failing_init_container_with_restart_never_fails_the_pod(engine):
    engine.write("pod.yaml", pod_yaml("badinit", """
  restartPolicy: Never
  initContainers:
  - {name: setup, image: "busybox:1.36", command: ["sh", "-c", "exit 2"]}
  containers:
  - {name: main, image: "busybox:1.36", command: ["sleep", "3600"]}
"""))
    st = wait_for(lambda: status(engine, "badinit").get("phase") == "Failed" and status(engine, "badinit"), 60,
                  what="pod Failed after its init container failed")
    assert st["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 2
    assert "running" not in st["containerStatuses"][0]["state"]


@pytest.mark.own_engine  # kills its engine and runs `down`
def test_pvc_volume_is_labelled_and_down_volumes_removes_it(engine):
    engine.write("pvc.yaml", """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: keep}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: writer, labels: {app: writer}}
spec:
  containers:
  - {name: w, image: "busybox:1.36", command: [sh, -c, "echo x > /d/f; sleep 3600"],
     volumeMounts: [{name: d, mountPath: /d}]}
  volumes: [{name: d, persistentVolumeClaim: {claimName: keep}}]
""")
    wait_for(lambda: engine.running_ready("app=writer", 1), 60, what="writer running")
    label = f"io.kubedeck.cluster={engine.name}"
    vols = [v.name for v in engine.docker.volumes.list(filters={"label": label})]
    assert vols == [f"kubedeck-{engine.name}-default-keep"]
    engine.kill()
    engine.cli("down")
    assert [v.name for v in engine.docker.volumes.list(filters={"label": label})] == vols  # kept by default
    engine.cli("down", "--volumes")
    assert engine.docker.volumes.list(filters={"label": label}) == []


def test_log_follow_streams_lines_and_lets_go_of_a_quiet_container(engine):
    """Followed lines arrive as they are printed; when the client goes away, the engine's
    Docker reader stops even though the container prints nothing more."""
    from pathlib import Path

    def readers() -> int:
        return sum(1 for t in Path(f"/proc/{engine.proc.pid}/task").iterdir()
                   if (t / "comm").read_text().strip() == "docker-logs")

    engine.write("quiet.yaml", """
apiVersion: v1
kind: Pod
metadata: {name: quiet}
spec:
  containers:
  - {name: main, image: "busybox:1.36", command: ["sh", "-c", "seq 1 3; sleep 3600"]}
""")
    wait_for(lambda: logs(engine, "quiet").split() == ["1", "2", "3"], 60, what="quiet printed 1..3")
    # Each one-shot `logs` above had its own reader thread, which ends just after its
    # answer: counting while the last one is still exiting made the count one too high
    # (the `assert 1 == (1 + 1)` seen once). Nothing else reads logs here, so wait for 0.
    wait_for(lambda: readers() == 0, 10, what="the one-shot log readers to end")
    stream = engine.client.logs("default", "quiet", follow=True)
    got = b""
    while got.split() != [b"1", b"2", b"3"]:
        got += next(stream)
    assert readers() == 1  # the follower's, alive while the container is silent
    stream.close()  # the client hangs up while the container stays silent
    wait_for(lambda: readers() == 0, 10, what="the engine's log reader thread to end")
