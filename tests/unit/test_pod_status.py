"""Pod status from the agent's container states, as pure functions."""

from kubedeck.engine.agent.pod_status import CState, pod_status, terminated_state

POD = {"spec": {"restartPolicy": "Always", "containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}]},
       "status": {}}


def test_running_pod_is_ready_only_when_every_container_is():
    cs = {"a": CState("a", id="1", ready=True, started=True), "b": CState("b", id="2", ready=False)}
    st, final = pod_status(POD, cs, set(), ip="10.0.0.2", start_time="t")
    assert st["phase"] == "Running" and final is None
    ready = {c["type"]: c["status"] for c in st["conditions"]}
    assert ready["Ready"] == "False" and ready["ContainersReady"] == "False"
    cs["b"].ready = True
    st, _ = pod_status(POD, cs, set(), ip="10.0.0.2", start_time="t")
    assert {c["type"]: c["status"] for c in st["conditions"]}["Ready"] == "True"


def test_waiting_reason_and_terminated_phases():
    cs = {"a": CState("a", waiting=("CrashLoopBackOff", "back-off 10s")), "b": CState("b", id="2", ready=True)}
    st, _ = pod_status(POD, cs, set(), ip="", start_time=None)
    assert st["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    done = {"State": {"ExitCode": 0, "OOMKilled": False, "StartedAt": "2026-01-01T00:00:00.1Z",
                      "FinishedAt": "2026-01-01T00:00:01.1Z"}, "Id": "x"}
    oom = {**done, "State": {**done["State"], "ExitCode": 137, "OOMKilled": True}}
    assert terminated_state(oom)["terminated"]["reason"] == "OOMKilled"
    cs = {"a": CState("a", terminated=terminated_state(done)), "b": CState("b", terminated=terminated_state(done))}
    st, final = pod_status(POD, cs, set(), ip="", start_time=None)
    assert st["phase"] == "Succeeded" and final == "Succeeded"
    cs["b"].terminated = terminated_state(oom)
    assert pod_status(POD, cs, set(), ip="", start_time=None)[1] == "Failed"
