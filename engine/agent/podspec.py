"""Pure translation of a Kubernetes container spec into Docker create arguments.

No Docker and no I/O here: given the pod, the container and lookups for ConfigMaps
and Secrets, produce the environment, entrypoint/cmd and resource limits exactly as
the kubelet would, or raise ConfigError naming what is missing (which the agent shows
as CreateContainerConfigError and retries when the object appears).
"""

from __future__ import annotations

import base64
import re
from typing import Callable

from ..quantity import parse_quantity


class ConfigError(Exception):
    """A referenced ConfigMap/Secret/key is missing: CreateContainerConfigError."""


Lookup = Callable[[str, str], dict | None]  # (kind, name) -> object in the pod's namespace

_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes $(VAR) expansion: unknown references stay as written, $$ escapes."""
    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return _VAR.sub(sub, text)


def _data(obj: dict) -> dict[str, str]:
    if obj["kind"] == "Secret":
        out = {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (obj.get("data") or {}).items()}
        out.update(obj.get("stringData") or {})
        return out
    return dict(obj.get("data") or {})


def secret_bytes(obj: dict) -> dict[str, bytes]:
    if obj["kind"] == "Secret":
        out = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        out.update({k: v.encode() for k, v in (obj.get("stringData") or {}).items()})
        return out
    out = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
    out.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return out


def _ref_kind(ref_field: str) -> str:
    return "ConfigMap" if ref_field.startswith("configMap") else "Secret"


def _field_ref(pod: dict, path: str) -> str:
    meta, spec, st = pod["metadata"], pod["spec"], pod.get("status") or {}
    values = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
              "status.podIP": st.get("podIP"), "status.hostIP": st.get("hostIP"),
              "status.podIPs": st.get("podIP")}
    if m := re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path):
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    return str(values.get(path) or "")


def container_env(pod: dict, c: dict, lookup: Lookup) -> dict[str, str]:
    env: dict[str, str] = {}
    for src in c.get("envFrom") or []:
        for field in ("configMapRef", "secretRef"):
            ref = src.get(field)
            if not ref:
                continue
            obj = lookup(_ref_kind(field), ref["name"])
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{_ref_kind(field).lower()} "{ref["name"]}" not found')
            for k, v in _data(obj).items():
                env[src.get("prefix", "") + k] = v
    for e in c.get("env") or []:
        name = e["name"]
        if "valueFrom" not in e:
            env[name] = expand(str(e.get("value", "")), env)
            continue
        vf = e["valueFrom"]
        for field in ("configMapKeyRef", "secretKeyRef"):
            ref = vf.get(field)
            if not ref:
                continue
            kind = _ref_kind(field)
            obj = lookup(kind, ref["name"])
            if obj is None:
                if ref.get("optional"):
                    break
                raise ConfigError(f'{kind.lower()} "{ref["name"]}" not found')
            data = _data(obj)
            if ref["key"] not in data:
                if ref.get("optional"):
                    break
                raise ConfigError(f"couldn't find key {ref['key']} in {kind} {pod['metadata']['namespace']}/{ref['name']}")
            env[name] = data[ref["key"]]
        if vf.get("fieldRef"):
            env[name] = _field_ref(pod, vf["fieldRef"]["fieldPath"])
        if vf.get("resourceFieldRef"):
            r = vf["resourceFieldRef"]
            res = (c.get("resources") or {}).get(r["resource"].split(".")[0]) or {}
            env[name] = str(res.get(r["resource"].split(".", 1)[-1], "0"))
    return env


def entrypoint_and_cmd(c: dict, env: dict[str, str]) -> tuple[list[str] | None, list[str] | None]:
    """command replaces ENTRYPOINT (and drops the image CMD); args replaces CMD."""
    command = [expand(str(x), env) for x in c["command"]] if c.get("command") is not None else None
    args = [expand(str(x), env) for x in c["args"]] if c.get("args") is not None else None
    if command is not None and args is None:
        args = []
    return command, args


def resource_kwargs(c: dict) -> dict:
    limits = (c.get("resources") or {}).get("limits") or {}
    out: dict = {}
    if "cpu" in limits:
        out["nano_cpus"] = int(parse_quantity(limits["cpu"]) * 1e9)
    if "memory" in limits:
        mem = int(parse_quantity(limits["memory"]))
        out["mem_limit"] = mem
        out["memswap_limit"] = mem  # no swap beyond the limit, so exceeding it is an OOM kill
    return out


def security_kwargs(pod: dict, c: dict) -> dict:
    psc = pod["spec"].get("securityContext") or {}
    sc = c.get("securityContext") or {}
    out: dict = {}
    user = sc.get("runAsUser", psc.get("runAsUser"))
    group = sc.get("runAsGroup", psc.get("runAsGroup"))
    if user is not None:
        out["user"] = f"{user}:{group}" if group is not None else str(user)
    if sc.get("readOnlyRootFilesystem"):
        out["read_only"] = True
    if sc.get("privileged"):
        out["privileged"] = True
    return out


def image_pull_policy(c: dict) -> str:
    if c.get("imagePullPolicy"):
        return c["imagePullPolicy"]
    image = c.get("image", "")
    tag = image.rsplit("/", 1)[-1]
    if "@" in tag:
        return "IfNotPresent"
    return "Always" if ":" not in tag or tag.endswith(":latest") else "IfNotPresent"
