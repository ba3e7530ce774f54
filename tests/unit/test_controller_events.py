"""Controllers' Events as Kubernetes records them: the controller's own name as the source
(deployment-controller, replicaset-controller, ...), and no "Scaled up replica set ...
to 0" for a ReplicaSet created empty (kube-controller-manager records a scale-up of a new
ReplicaSet only when it starts above zero, as "from 0 to N")."""

from __future__ import annotations

import copy
import re

import pytest
from controller_kit import make_kit, sync

from kubedeck.engine.controllers.deployment import DeploymentController
from kubedeck.engine.controllers.replicaset import ReplicaSetController
from kubedeck.engine.controllers.workloads import JobController

TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}


@pytest.fixture
def kit(tmp_path):
    k = make_kit(tmp_path, now=1_700_000_000.0)
    yield k
    k.store.close()


def deployment(replicas: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": copy.deepcopy(TEMPLATE)}}


def test_scale_up_events_name_their_controller_and_never_say_to_0(kit):
    deployments = kit.run(DeploymentController(kit.store, kit.objects, kit.clock))
    replicasets = kit.run(ReplicaSetController(kit.store, kit.objects, kit.clock))
    kit.store.create(deployment(3))
    sync(deployments, replicasets, deployments)
    [rs] = kit.store.list("ReplicaSet", "default")
    [scaled] = kit.events("ScalingReplicaSet")
    assert scaled["message"] == f"Scaled up replica set {rs['metadata']['name']} from 0 to 3"
    assert scaled["source"]["component"] == scaled["reportingComponent"] == "deployment-controller"
    created = kit.events("SuccessfulCreate")
    assert len(created) == 3 and {e["source"]["component"] for e in created} == {"replicaset-controller"}

    d = kit.store.get("Deployment", "default", "web")  # a rollout: the new ReplicaSet starts empty
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:1.37"
    kit.store.update(d)
    for _ in range(4):
        sync(deployments, replicasets)
    messages = [e["message"] for e in kit.events("ScalingReplicaSet")]
    assert len(kit.store.list("ReplicaSet", "default")) == 2 and len(messages) > 1
    assert not [m for m in messages if re.search(r"\bto 0$", m) and m.startswith("Scaled up")], messages


def test_an_empty_deployment_records_no_scale_up(kit):
    deployments = kit.run(DeploymentController(kit.store, kit.objects, kit.clock))
    kit.store.create(deployment(0))
    sync(deployments)
    assert kit.store.list("ReplicaSet", "default") and not kit.events("ScalingReplicaSet")


def test_job_events_come_from_the_job_controller(kit):
    jobs = kit.run(JobController(kit.store, kit.objects, kit.clock))
    kit.store.create({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": "default"},
                      "spec": {"template": {"spec": {"restartPolicy": "Never", **TEMPLATE["spec"]}}}})
    sync(jobs)
    [created] = kit.events("SuccessfulCreate")
    assert created["source"]["component"] == "job-controller"
