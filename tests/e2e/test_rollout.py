"""Rolling updates through a NodePort under steady traffic lose no request."""

from __future__ import annotations

import threading
import urllib.request

from conftest import free_nodeport, wait_for
from test_slice import WEB


def test_rolling_update_under_traffic_loses_nothing(engine):
    port = free_nodeport()
    text = WEB.format(replicas=3, port=port)
    engine.write("web.yaml", text)
    old = {p["metadata"]["name"] for p in wait_for(lambda: engine.running_ready("app=web", 3), 90,
                                                     what="3 ready pods")}
    ok, failed, stop = [0], [], threading.Event()

    def traffic():
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    r.read()
                ok[0] += 1
            except Exception as e:  # noqa: BLE001 - every failure counts
                failed.append(repr(e))

    threads = [threading.Thread(target=traffic) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: ok[0] > 50, 20, what="traffic flowing")
        # an env change rolls the Deployment
        engine.write("web.yaml", text.replace("        ports:", "        env: [{name: VERSION, value: '2'}]\n        ports:", 1))
        maxes = []

        def rolled():
            pods = [p for p in engine.pods("app=web") if not p["metadata"].get("deletionTimestamp")]
            maxes.append(len(pods))
            ready = engine.running_ready("app=web", 3)
            return ready and not ({p["metadata"]["name"] for p in ready} & old) and len(pods) == 3
        wait_for(rolled, 120, interval=0.1, what="rollout complete")
        before = ok[0]
        wait_for(lambda: ok[0] > before + 50, 20, what="traffic after the rollout")
    finally:
        stop.set()
        for t in threads:
            t.join()
    print(f"requests ok={ok[0]} failed={len(failed)}; max pods seen during rollout={max(maxes)}")
    assert not failed, failed[:5]
    assert max(maxes) <= 4  # maxSurge 25% of 3 rounds up to 1
    # the Deployment's status follows its ReplicaSets' within a woken_interval or two,
    # as `kubectl rollout status` waits for it
    wait_for(lambda: (st := engine.client.get("Deployment", "default", "web")["status"])
             ["updatedReplicas"] == 3 and st["availableReplicas"] == 3, 10, what="Deployment status")
    rs = engine.client.list("ReplicaSet", "default")
    assert sorted(r["spec"]["replicas"] for r in rs) == [0, 3]
