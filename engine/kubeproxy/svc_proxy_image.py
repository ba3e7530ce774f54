"""The Service proxy image, built offline from the host's own `nft`.

A proxy container needs two things: a process that keeps its network namespace alive
(the pause binary of engine/pause.py) and `nft` to load rules into it (svc_rules.py). No
registry may be needed, so the image is the host's nft binary plus the shared libraries
`ldd` lists, kept at the same paths, FROM scratch (about 4.5 MB). Debian ships nft in
the `nftables` package (priority important). The host's `dd` comes along too, for the
NodePort helper (nodeport_kernel.py). Without nft, `context()` says why and the
engine falls back to busybox `nc` proxies, which relay TCP only.

The image is tagged with a hash of its inputs, so an upgraded nft gives a new image.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess

from ..pause import pause_elf, tar_context

REPO = "kubedeck/svc-proxy"
NFT = "/usr/sbin/nft"
DD = "/usr/bin/dd"
DOCKERFILE = b'FROM scratch\nCOPY . /\nENTRYPOINT ["/pause"]\n'


class Unavailable(Exception):
    """The host cannot provide what the image needs (the message says what)."""


def nft_path() -> str:
    path = shutil.which("nft", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not path:
        raise Unavailable("the host has no nft binary (Debian: apt-get install nftables)")
    return os.path.realpath(path)


def libraries(binary: str) -> list[str]:
    """The loader and every library `ldd` lists for a binary, by absolute path."""
    try:
        r = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as e:
        raise Unavailable(f"cannot list the libraries of {binary} with ldd: {e}") from e
    if r.returncode and "not a dynamic executable" in r.stdout + r.stderr:
        return []  # a static binary needs nothing else
    if r.returncode:
        raise Unavailable(f"ldd {binary} failed: {(r.stderr or r.stdout).strip()}")
    return sorted(set(re.findall(r"(/\S+)", r.stdout)))


def context() -> tuple[str, io.BytesIO]:
    """(tag, tar build context). Raises Unavailable."""
    nft = nft_path()
    files = [("pause", pause_elf(), 0o755), ("usr/sbin/nft", _read(nft), 0o755)]
    libs = set(libraries(nft))
    dd = shutil.which("dd")  # writes the bridge's route_localnet for kernel NodePorts (nodeport_kernel.py)
    if dd:
        files.append((DD.lstrip("/"), _read(os.path.realpath(dd)), 0o755))
        libs.update(libraries(os.path.realpath(dd)))
    files += [(lib.lstrip("/"), _read(lib), 0o755) for lib in sorted(libs)]
    files.append(("Dockerfile", DOCKERFILE, 0o644))
    digest = hashlib.sha256()
    for name, data, _ in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return f"{REPO}:{digest.hexdigest()[:12]}", tar_context(files)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise Unavailable(f"cannot read {path}: {e}") from e
