"""Pod Security "baseline" admission, kubedeck's default: pure functions over pod specs.

Design: `check_pod` walks one PodSpec and returns (field path, message) per offending
field, so the folder sync can name the file, line and field, and the API can answer 403
with `admission_message`. `check_object` finds the PodSpec of any workload kind (a Pod,
a template, a CronJob's jobTemplate). Nothing here touches Docker, the store or the
clock; the only host facts read are where a hostPath resolves and where the Docker
socket is. `allow_privileged` (`kubedeck serve --allow-privileged`) lifts everything.

The checks and their messages follow the pod-security-admission library's baseline
level (https://kubernetes.io/docs/concepts/security/pod-security-standards/): privileged
containers, host namespaces, hostPorts, capabilities added beyond the default set,
Unconfined seccomp, unmasked /proc, unsafe sysctls, Windows hostProcess. Where the
library names every offender in one message, we give one message per offending field.

One deliberate difference: kubedeck runs pods from a local folder, and mounting part of
that folder is what hostPath is for here. So a hostPath is allowed when it resolves
(symlinks followed) inside the manifest folder, and refused anywhere else. A path that
is or contains the Docker socket is refused always: it is root on the host.
"""

from __future__ import annotations

import os
from pathlib import Path

LEVEL = 'violates PodSecurity "baseline:latest": '
HINT = "start the cluster with --allow-privileged to allow it"
CAPABILITIES = frozenset(("AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                          "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"))
SYSCTLS = frozenset((
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"))
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
# where each workload kind keeps its PodSpec
POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
Violation = tuple[str, str]


def check_object(obj: dict, *, manifest_folder: Path | None, allow_privileged: bool) -> list[Violation]:
    """The baseline violations of any object that holds a PodSpec; [] for other kinds."""
    path = POD_SPEC_PATHS.get(obj.get("kind", ""))
    if path is None or allow_privileged:
        return []
    spec = obj
    for key in path:
        spec = spec.get(key) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        return []
    return check_pod(spec, field_prefix=".".join(path), manifest_folder=manifest_folder,
                     allow_privileged=allow_privileged)


def check_pod(pod_spec: dict, *, field_prefix: str, manifest_folder: Path | None,
              allow_privileged: bool) -> list[Violation]:
    """(field path, message) for each field of `pod_spec` the baseline policy forbids.
    `field_prefix` is where the PodSpec sits in its object ("spec", "spec.template.spec")."""
    if allow_privileged:
        return []
    out: list[Violation] = []

    def bad(field: str, reason: str, detail: str) -> None:
        out.append((f"{field_prefix}.{field}", f"{LEVEL}{reason} ({detail})"))

    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(key) is True:
            bad(key, "host namespaces", f"{key}=true")
    psc = _dict(pod_spec.get("securityContext"))
    if _dict(psc.get("windowsOptions")).get("hostProcess") is True:
        bad("securityContext.windowsOptions.hostProcess", "hostProcess",
            "pod must not set securityContext.windowsOptions.hostProcess=true")
    if _dict(psc.get("seccompProfile")).get("type") == "Unconfined":
        bad("securityContext.seccompProfile.type", "seccompProfile",
            'pod must not set securityContext.seccompProfile.type to "Unconfined"')
    for i, s in enumerate(_list(psc.get("sysctls"))):
        name = _dict(s).get("name")
        if name not in SYSCTLS:
            bad(f"securityContext.sysctls[{i}].name", "forbidden sysctls", str(name))
    for field, c in _containers(pod_spec):
        _check_container(field, c, bad)
    for i, v in enumerate(_list(pod_spec.get("volumes"))):
        v = _dict(v)
        if "hostPath" in v:
            problem = host_path_problem(str(_dict(v["hostPath"]).get("path", "")), manifest_folder=manifest_folder)
            if problem:
                bad(f"volumes[{i}].hostPath.path", "hostPath volumes", f'volume "{v.get("name", "")}": {problem}')
    return out


def _check_container(field: str, c: dict, bad) -> None:
    name = c.get("name", "")
    sc = _dict(c.get("securityContext"))
    if sc.get("privileged") is True:
        bad(f"{field}.securityContext.privileged", "privileged",
            f'container "{name}" must not set securityContext.privileged=true')
    added = [cap for cap in _list(_dict(sc.get("capabilities")).get("add")) if cap not in CAPABILITIES]
    if added:
        caps = ", ".join(f'"{cap}"' for cap in sorted(set(map(str, added))))
        bad(f"{field}.securityContext.capabilities.add", "non-default capabilities",
            f'container "{name}" must not include {caps} in securityContext.capabilities.add')
    if _dict(sc.get("windowsOptions")).get("hostProcess") is True:
        bad(f"{field}.securityContext.windowsOptions.hostProcess", "hostProcess",
            f'container "{name}" must not set securityContext.windowsOptions.hostProcess=true')
    seccomp = _dict(sc.get("seccompProfile")).get("type")
    if seccomp == "Unconfined":
        bad(f"{field}.securityContext.seccompProfile.type", "seccompProfile",
            f'container "{name}" must not set securityContext.seccompProfile.type to "Unconfined"')
    proc = sc.get("procMount")
    if proc is not None and proc != "Default":
        bad(f"{field}.securityContext.procMount", "procMount",
            f'container "{name}" must not set securityContext.procMount to "{proc}"')
    for j, p in enumerate(_list(c.get("ports"))):
        host_port = _dict(p).get("hostPort")
        if host_port:
            bad(f"{field}.ports[{j}].hostPort", "hostPort", f'container "{name}" uses hostPort {host_port}')


def host_path_problem(path: str, *, manifest_folder: Path | None) -> str | None:
    """Why a hostPath volume may not mount `path` under the baseline policy, or None.
    Symlinks are followed, so a link in the folder to elsewhere is elsewhere; the agent
    can call this again just before it binds the path, since links can change."""
    if not os.path.isabs(path):
        return f'path "{path}" is not absolute'
    real = os.path.realpath(path)
    sockets = {os.path.realpath(s) for s in _docker_sockets()}
    if any(s == real or s.startswith(real.rstrip("/") + "/") for s in sockets):
        return f'path "{path}" exposes the Docker socket'
    if manifest_folder is None:
        return f'path "{path}" is not in a manifest folder (this cluster has none)'
    folder = os.path.realpath(manifest_folder)
    if real != folder and not real.startswith(folder.rstrip("/") + "/"):
        return f'path "{path}" is outside the manifest folder "{folder}"'
    return None


def admission_message(plural: str, name: str, violations: list[Violation]) -> str:
    """The API's 403 message, as the real admission words it:
    `pods "x" is forbidden: violates PodSecurity "baseline:latest": a (...), b (...)`."""
    details = dict.fromkeys(msg.removeprefix(LEVEL) for _, msg in violations)
    return f'{plural} "{name}" is forbidden: {LEVEL}{", ".join(details)}'


def field_path(field: str) -> tuple[str | int, ...]:
    """A violation's field as a path tuple ("spec.containers[0].ports" -> ("spec",
    "containers", 0, "ports")), as `Document.line_of` takes it."""
    out: list[str | int] = []
    for part in field.split("."):
        name, *indexes = part.split("[")
        out.append(name)
        out += [int(i.rstrip("]")) for i in indexes]
    return tuple(out)


def _docker_sockets() -> list[str]:
    """The usual places of the Docker socket (rootful, rootless, Desktop) and DOCKER_HOST's."""
    out = [*DOCKER_SOCKETS, os.path.expanduser("~/.docker/run/docker.sock")]
    if os.environ.get("XDG_RUNTIME_DIR"):
        out.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "docker.sock"))
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        out.append(host.removeprefix("unix://"))
    return out


def _containers(pod_spec: dict):
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in enumerate(_list(pod_spec.get(key))):
            if isinstance(c, dict):
                yield f"{key}[{i}]", c


def _dict(v) -> dict:
    return v if isinstance(v, dict) else {}


def _list(v) -> list:
    return v if isinstance(v, list) else []
