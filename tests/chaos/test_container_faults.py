"""`docker kill` and `docker rm -f` of random pod containers, over and over, while a
3-replica app serves steady HTTP load through a NodePort. After each fault: the app is
whole again (3 ready pods, requests answered), the hit container's restartCount went up
by exactly one and no other's moved, the pod kept its uid, and the audit holds (no
orphan, no duplicate container)."""

from __future__ import annotations

import time

import pytest

from chaoslib import Load, app, audit, node_port, rng, settle
from conftest import wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.docker]
ROUNDS = 6


def restarts(engine) -> dict[str, int]:
    return {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["restartCount"]
            for p in engine.pods("app=web")}


@pytest.mark.timeout(240)
def test_killed_and_removed_containers_come_back(engine):
    r = rng()
    engine.write("web.yaml", app())
    settle(engine, 3)
    order = sorted(restarts(engine))
    r.shuffle(order)
    with Load(node_port(engine)) as load:
        wait_for(lambda: load.ok_streak(10), 30, what="the app answering through the NodePort")
        for n in range(ROUNDS):
            before = restarts(engine)
            uids = {p["metadata"]["name"]: p["metadata"]["uid"] for p in engine.pods("app=web")}
            victim = order[n % len(order)]  # each pod hit twice: back-off stays at its first 10 s step
            [c] = [c for c in engine.containers() if c.labels.get("io.kubernetes.pod.name") == victim
                   and c.labels.get("io.kubernetes.container.name") == "web" and c.status == "running"]
            how = "kill" if n % 2 == 0 else "rm -f"
            t = time.monotonic()
            c.kill() if how == "kill" else c.remove(force=True)
            want = {**before, victim: before[victim] + 1}
            try:
                wait_for(lambda want=want: restarts(engine) == want, 60, what=f"round {n}: restartCount {want} after {how} {victim}")
            except AssertionError as e:
                raise AssertionError(f"{e}; now {restarts(engine)}: "
                                     f"{engine.client.get('Pod', 'default', victim)['status']}") from None
            settle(engine, 3)
            assert {p["metadata"]["name"]: p["metadata"]["uid"] for p in engine.pods("app=web")} == uids
            wait_for(lambda: load.ok_streak(10), 30, what=f"round {n}: requests answered again")
            answered = load.since(t)
            print(f"round {n}: {how} {victim}: {sum(ok for _, ok, _ in answered)}/{len(answered)} requests ok")
        total = load.results
    audit(engine)
    ok = sum(ok for _, ok, _ in total)
    print(f"{ROUNDS} faults: {ok}/{len(total)} requests answered ({100 * ok / len(total):.1f} %)")
    assert ok / len(total) > 0.5  # the app served through the faults, not only between them
