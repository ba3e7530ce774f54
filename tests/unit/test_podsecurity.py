"""Pod Security "baseline" (engine/podsecurity.py): one test per rule, with the messages
the real admission gives, kubedeck's hostPath rule (inside the manifest folder only,
never the Docker socket), every workload kind's pod template, and --allow-privileged."""

from __future__ import annotations

import os

import pytest
from kubedeck.engine.manifests.loader import load_text
from kubedeck.engine.podsecurity import (
    admission_message,
    check_object,
    check_pod,
    field_path,
)

LEVEL = 'violates PodSecurity "baseline:latest": '


def pod(**spec) -> dict:
    return {"containers": [{"name": "app", "image": "busybox:1.36"}], **spec}


def with_container(**fields) -> dict:
    return pod(containers=[{"name": "app", "image": "busybox:1.36", **fields}])


def check(spec: dict, folder=None, allow: bool = False) -> list[tuple[str, str]]:
    return check_pod(spec, field_prefix="spec", manifest_folder=folder, allow_privileged=allow)


def test_a_plain_pod_passes():
    spec = pod(hostNetwork=False, securityContext={"runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"},
                                                   "sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]})
    spec["containers"][0].update(ports=[{"containerPort": 80, "hostPort": 0}], securityContext={
        "privileged": False, "procMount": "Default", "capabilities": {"add": ["NET_BIND_SERVICE", "CHOWN"],
                                                                       "drop": ["ALL"]}})
    assert check(spec) == []


def test_privileged_containers_of_every_list():
    spec = pod(initContainers=[{"name": "init", "securityContext": {"privileged": True}}],
               ephemeralContainers=[{"name": "debug", "securityContext": {"privileged": True}}])
    spec["containers"][0]["securityContext"] = {"privileged": True}
    assert check(spec) == [
        ("spec.initContainers[0].securityContext.privileged",
         LEVEL + 'privileged (container "init" must not set securityContext.privileged=true)'),
        ("spec.containers[0].securityContext.privileged",
         LEVEL + 'privileged (container "app" must not set securityContext.privileged=true)'),
        ("spec.ephemeralContainers[0].securityContext.privileged",
         LEVEL + 'privileged (container "debug" must not set securityContext.privileged=true)'),
    ]


@pytest.mark.parametrize("key", ["hostNetwork", "hostPID", "hostIPC"])
def test_host_namespaces(key):
    assert check(pod(**{key: True})) == [(f"spec.{key}", LEVEL + f"host namespaces ({key}=true)")]


def test_host_ports():
    spec = with_container(ports=[{"containerPort": 80}, {"containerPort": 443, "hostPort": 8443}])
    assert check(spec) == [("spec.containers[0].ports[1].hostPort",
                            LEVEL + 'hostPort (container "app" uses hostPort 8443)')]


def test_capabilities_beyond_the_default_set():
    spec = with_container(securityContext={"capabilities": {"add": ["SYS_ADMIN", "CHOWN", "NET_ADMIN", "ALL"]}})
    assert check(spec) == [("spec.containers[0].securityContext.capabilities.add", LEVEL +
                            'non-default capabilities (container "app" must not include "ALL", "NET_ADMIN", '
                            '"SYS_ADMIN" in securityContext.capabilities.add)')]


def test_seccomp_unconfined_for_the_pod_or_a_container():
    spec = with_container(securityContext={"seccompProfile": {"type": "Unconfined"}})
    spec["securityContext"] = {"seccompProfile": {"type": "Unconfined"}}
    assert [f for f, _ in check(spec)] == ["spec.securityContext.seccompProfile.type",
                                           "spec.containers[0].securityContext.seccompProfile.type"]
    assert check(spec)[1][1] == LEVEL + ('seccompProfile (container "app" must not set '
                                         'securityContext.seccompProfile.type to "Unconfined")')


def test_unmasked_proc_mount():
    assert check(with_container(securityContext={"procMount": "Unmasked"})) == [
        ("spec.containers[0].securityContext.procMount",
         LEVEL + 'procMount (container "app" must not set securityContext.procMount to "Unmasked")')]


def test_unsafe_sysctls():
    spec = pod(securityContext={"sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1024 65535"},
                                            {"name": "kernel.msgmax", "value": "65536"}]})
    assert check(spec) == [("spec.securityContext.sysctls[1].name", LEVEL + "forbidden sysctls (kernel.msgmax)")]


def test_windows_host_process():
    spec = with_container(securityContext={"windowsOptions": {"hostProcess": True}})
    spec["securityContext"] = {"windowsOptions": {"hostProcess": True}}
    assert [f for f, _ in check(spec)] == ["spec.securityContext.windowsOptions.hostProcess",
                                           "spec.containers[0].securityContext.windowsOptions.hostProcess"]


def host_path(path: str) -> dict:
    return pod(volumes=[{"name": "data", "hostPath": {"path": path}}])


def test_host_paths_inside_the_manifest_folder_are_allowed(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "inner-link").symlink_to(tmp_path / "data")
    for path in (tmp_path, tmp_path / "data", tmp_path / "data/not-yet-created", tmp_path / "inner-link"):
        assert check(host_path(str(path)), tmp_path) == [], path


def test_host_paths_elsewhere_are_refused(tmp_path):
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "escape").symlink_to("/etc")
    (tmp_path / "app-other").mkdir()  # shares the folder's name as a prefix
    for path in ("/etc", "/usr/share", str(folder / "escape"), str(folder / "../app-other"), str(tmp_path / "app-other")):
        got = check(host_path(path), folder)
        assert got == [("spec.volumes[0].hostPath.path", LEVEL + f'hostPath volumes (volume "data": path "{path}" '
                        f'is outside the manifest folder "{folder}")')], path
    assert "is not absolute" in check(host_path("data"), folder)[0][1]
    assert "this cluster has none" in check(host_path(str(folder)), None)[0][1]


def test_the_docker_socket_is_refused_even_from_inside_the_folder(tmp_path, monkeypatch):
    (tmp_path / "sock").symlink_to("/var/run/docker.sock")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/custom/docker.sock")
    for path in ("/var/run/docker.sock", "/run/docker.sock", "/var/run", "/run", "/",
                 str(tmp_path / "sock"), str(tmp_path / "custom"), str(tmp_path / "custom/docker.sock")):
        got = check(host_path(path), tmp_path)
        assert got == [("spec.volumes[0].hostPath.path",
                        LEVEL + f'hostPath volumes (volume "data": path "{path}" exposes the Docker socket)')], path


def test_allow_privileged_lifts_every_rule():
    spec = with_container(securityContext={"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}},
                          ports=[{"containerPort": 80, "hostPort": 80}])
    spec.update(hostNetwork=True, hostPID=True, volumes=[{"name": "s", "hostPath": {"path": "/var/run/docker.sock"}}])
    assert len(check(spec)) == 6
    assert check(spec, allow=True) == []
    assert check_object({"kind": "Pod", "spec": spec}, manifest_folder=None, allow_privileged=True) == []


TEMPLATE = {"metadata": {"labels": {"app": "x"}}, "spec": pod(hostNetwork=True)}


@pytest.mark.parametrize("obj, field", [
    ({"kind": "Pod", "spec": pod(hostNetwork=True)}, "spec.hostNetwork"),
    ({"kind": "Deployment", "spec": {"template": TEMPLATE}}, "spec.template.spec.hostNetwork"),
    ({"kind": "ReplicaSet", "spec": {"template": TEMPLATE}}, "spec.template.spec.hostNetwork"),
    ({"kind": "StatefulSet", "spec": {"template": TEMPLATE}}, "spec.template.spec.hostNetwork"),
    ({"kind": "DaemonSet", "spec": {"template": TEMPLATE}}, "spec.template.spec.hostNetwork"),
    ({"kind": "Job", "spec": {"template": TEMPLATE}}, "spec.template.spec.hostNetwork"),
    ({"kind": "ReplicationController", "spec": {"template": TEMPLATE}}, "spec.template.spec.hostNetwork"),
    ({"kind": "PodTemplate", "template": TEMPLATE}, "template.spec.hostNetwork"),
    ({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": TEMPLATE}}}},
     "spec.jobTemplate.spec.template.spec.hostNetwork"),
], ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_pod_templates_of_every_workload_kind(obj, field):
    assert check_object(obj, manifest_folder=None, allow_privileged=False) == [
        (field, LEVEL + "host namespaces (hostNetwork=true)")]


@pytest.mark.parametrize("obj", [
    {"kind": "ConfigMap", "data": {"hostNetwork": "true"}},
    {"kind": "Deployment", "spec": {"template": "not a template"}},
    {"kind": "CronJob", "spec": {}},
    {"kind": "Pod"},
])
def test_objects_without_a_pod_spec_have_nothing_to_refuse(obj):
    assert check_object(obj, manifest_folder=None, allow_privileged=False) == []


def test_malformed_fields_do_not_raise():
    spec = {"containers": [{"name": "a", "securityContext": "x", "ports": "y"}, "z"], "volumes": ["v", {"hostPath": None}],
            "securityContext": {"sysctls": "no"}}
    assert check(spec) == [("spec.volumes[1].hostPath.path",
                            LEVEL + 'hostPath volumes (volume "": path "" is not absolute)')]


def test_the_api_message_joins_the_violations_as_the_real_admission_does():
    spec = with_container(securityContext={"privileged": True})
    spec["hostNetwork"] = True
    assert admission_message("pods", "x", check(spec)) == (
        'pods "x" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), '
        'privileged (container "app" must not set securityContext.privileged=true)')


def test_the_folder_itself_resolves_symlinks(tmp_path):
    """A manifest folder reached through a symlink still allows its own paths."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert check(host_path(os.path.join(tmp_path, "link", "data")), tmp_path / "link") == []
    assert check(host_path(str(real / "data")), tmp_path / "link") == []


@pytest.mark.parametrize("command", ["serve", "up"])
def test_serve_and_up_take_allow_privileged(command):
    from kubedeck.cli import build_parser

    assert build_parser().parse_args([command, "dir", "--allow-privileged"]).allow_privileged is True
    assert build_parser().parse_args([command, "dir"]).allow_privileged is False


def test_a_violation_names_the_line_of_its_field_in_the_file():
    text = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        ports:
        - containerPort: 80
          hostPort: 80
"""
    docs, errors = load_text(text, "web.yaml")
    assert not errors
    [(field, _)] = check_object(docs[0].obj, manifest_folder=None, allow_privileged=False)
    assert field_path(field) == ("spec", "template", "spec", "containers", 0, "ports", 0, "hostPort")
    assert docs[0].line_of(field_path(field)) == 14
