"""Pod volumes as Docker mounts.

- emptyDir: a host directory under the state dir, one per pod, removed with the pod.
- hostPath: bind mount of the host path.
- configMap / secret: files projected the way the kubelet does it, in a directory whose
  `..data` symlink is swapped atomically, each key a symlink into it, so an update of
  the object shows up in running containers (subPath mounts excepted, as in Kubernetes).
- persistentVolumeClaim: a named Docker volume per claim, labelled with the cluster,
  that outlives pods and engine restarts; `kubedeck down` keeps it unless --volumes.
- the ServiceAccount token directory every pod gets unless it opts out (in_cluster.py).

On the host, `<state>/pods/<uid>/volumes` and its parents are 0700: projected files keep
the volume's defaultMode (0644, as Kubernetes, so a container user other than root can
read them through the bind mount, which Docker resolves as root), yet no other host user
can reach a Secret's copy.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Callable

from .. import in_cluster
from .podspec import ConfigError, secret_bytes

Lookup = Callable[[str, str], dict | None]


def pvc_volume_name(cluster: str, namespace: str, claim: str) -> str:
    return f"kubedeck-{cluster}-{namespace}-{claim}"


def private_dirs(pod_dir: Path) -> Path:
    """`pod_dir/volumes`, created with it and `pods/` 0700; returns it."""
    vols = pod_dir / "volumes"
    for d in (pod_dir.parent, pod_dir, vols):
        d.mkdir(mode=0o700, exist_ok=True, parents=True)
        if d.stat().st_mode & 0o077:
            d.chmod(0o700)
    return vols


def project(dir_: Path, files: dict[str, bytes], mode: int) -> None:
    """Atomically replace the projected files in dir_ (kubelet's ..data symlink swap)."""
    dir_.mkdir(parents=True, exist_ok=True)
    current = dir_ / "..data"
    if current.is_symlink():
        old_target = dir_ / os.readlink(current)
        if all((old_target / k).exists() and (old_target / k).read_bytes() == v for k, v in files.items()) \
                and set(p.name for p in old_target.iterdir()) == set(files):
            return
    else:
        old_target = None
    stamp = f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns()}"
    new = dir_ / stamp
    new.mkdir()
    for rel, data in files.items():
        p = new / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        p.chmod(mode)
    tmp = dir_ / "..data_tmp"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(stamp)
    os.replace(tmp, current)
    for rel in files:
        top = rel.split("/", 1)[0]
        link = dir_ / top
        if not link.is_symlink() and not link.exists():
            link.symlink_to(f"..data/{top}")
    for entry in dir_.iterdir():
        if entry.is_symlink() and entry.name not in ("..data",) and entry.name not in {r.split("/", 1)[0] for r in files}:
            entry.unlink()
    if old_target is not None and old_target.exists():
        shutil.rmtree(old_target, ignore_errors=True)


def projected_files(vol: dict, lookup: Lookup) -> tuple[dict[str, bytes], int] | None:
    """Files for a configMap/secret volume, or None when optional and missing."""
    kind = "ConfigMap" if "configMap" in vol else "Secret"
    src = vol.get("configMap") or vol.get("secret") or {}
    name = src.get("name") or src.get("secretName")
    obj = lookup(kind, name)
    if obj is None:
        if src.get("optional"):
            return {}, 0o644
        raise ConfigError(f'{kind.lower()} "{name}" not found')
    data = secret_bytes(obj)
    mode = int(src.get("defaultMode", 0o644))
    if src.get("items"):
        out = {}
        for item in src["items"]:
            if item["key"] not in data:
                if src.get("optional"):
                    continue
                raise ConfigError(f"configmap references non-existent config key: {item['key']}")
            out[item["path"]] = data[item["key"]]
        return out, mode
    return data, mode


def mounts_for(pod: dict, c: dict, *, pod_dir: Path, cluster: str, lookup: Lookup,
               volume_path: Callable[[str], str] | None = None) -> list[dict]:
    """Docker `Mounts` (low-level API dicts) for one container; prepares host dirs."""
    vols = {v["name"]: v for v in pod["spec"].get("volumes") or []}
    out = []
    for vm in c.get("volumeMounts") or []:
        vol = vols.get(vm["name"])
        if vol is None:
            raise ConfigError(f'volume "{vm["name"]}" not found')
        ro = bool(vm.get("readOnly"))
        sub = vm.get("subPath", "")
        target = vm["mountPath"]
        if "persistentVolumeClaim" in vol:
            claim = vol["persistentVolumeClaim"]["claimName"]
            if lookup("PersistentVolumeClaim", claim) is None:
                raise ConfigError(f'persistentvolumeclaim "{claim}" not found')
            vname = pvc_volume_name(cluster, pod["metadata"]["namespace"], claim)
            mountpoint = volume_path(vname) if volume_path else None  # creates it, labelled, if new
            if sub and mountpoint:
                src = Path(mountpoint) / sub
                src.mkdir(parents=True, exist_ok=True)
                out.append({"Type": "bind", "Source": str(src), "Target": target, "ReadOnly": ro})
            else:
                out.append({"Type": "volume", "Source": vname, "Target": target, "ReadOnly": ro})
            continue
        if "hostPath" in vol:
            src = Path(vol["hostPath"]["path"])
            htype = vol["hostPath"].get("type", "")
            if htype == "DirectoryOrCreate":
                src.mkdir(parents=True, exist_ok=True)
            elif htype == "FileOrCreate" and not src.exists():
                src.parent.mkdir(parents=True, exist_ok=True)
                src.touch()
        elif "emptyDir" in vol:
            src = private_dirs(pod_dir) / vm["name"]
            src.mkdir(parents=True, exist_ok=True)
            src.chmod(0o777)
        elif "configMap" in vol or "secret" in vol:
            src = private_dirs(pod_dir) / vm["name"]
            files, mode = projected_files(vol, lookup)
            project(src, files, mode)
            if sub:  # a subPath mount of a projected volume is a copy, never updated
                src = (src / sub).resolve()
                sub = ""
            ro = True
        else:
            raise ConfigError(f'volume "{vm["name"]}": type not supported by kubedeck')
        if sub:
            src = src / sub
            if not src.exists():
                src.mkdir(parents=True, exist_ok=True)
        out.append({"Type": "bind", "Source": str(src), "Target": target, "ReadOnly": ro})
    return out


def refresh_projected(pod: dict, pod_dir: Path, lookup: Lookup) -> None:
    """Re-project configMap/secret volumes after the objects changed (live update)."""
    for vol in pod["spec"].get("volumes") or []:
        if "configMap" in vol or "secret" in vol:
            d = pod_dir / "volumes" / vol["name"]
            if d.exists():
                try:
                    files, mode = projected_files(vol, lookup)
                except ConfigError:
                    continue
                project(d, files, mode)


def api_access_mount(pod: dict, mounts: list[dict], *, pod_dir: Path, lookup: Lookup,
                     token: Callable[[dict, dict], str] | None, ca_pem: bytes | None) -> dict | None:
    """The ServiceAccount directory (in_cluster.py) for a container with these `mounts`:
    `token`, `ca.crt` and `namespace`, projected once per pod as the kubelet does its
    `kube-api-access-*` volume. None when the pod opts out (or its account does), when the
    container mounts something there itself, or with no token maker (unit tests)."""
    if token is None or ca_pem is None or any(m["Target"].rstrip("/") == in_cluster.MOUNT_PATH for m in mounts):
        return None
    spec = pod["spec"]
    name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    account = lookup("ServiceAccount", name)
    if not in_cluster.automounts(pod, account):
        return None
    if account is None:  # the API server refuses such a pod; here it waits for the account
        raise ConfigError(f'serviceaccount "{name}" not found')
    src = private_dirs(pod_dir) / "kube-api-access"
    if not (src / "token").exists():  # the pod's token, bound to it: made once (a year's validity)
        project(src, {"token": token(pod, account).encode(), "ca.crt": ca_pem,
                      "namespace": pod["metadata"]["namespace"].encode()}, 0o644)
    return {"Type": "bind", "Source": str(src), "Target": in_cluster.MOUNT_PATH, "ReadOnly": True}
