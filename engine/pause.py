"""The pod sandbox image, built offline from a few bytes.

Every pod's containers share the network namespace of one sandbox container, as in
Kubernetes (the "pause" container). No registry may be needed, so the image is built
locally from a tiny static ELF that blocks forever: x86-64 loops on pause(2), arm64 on
ppoll(2) with no fds. ~130 bytes, no libc.
"""

from __future__ import annotations

import io
import platform
import struct
import tarfile

PAUSE_IMAGE = "kubedeck/pause:1"

_CODE = {
    # mov eax, 34 (pause); syscall; jmp back to start
    "x86_64": (0x3E, bytes.fromhex("b8220000000f05ebf7")),
    # mov x0..x3, #0; mov x8, #73 (ppoll); svc #0; b back to start
    "aarch64": (0xB7, b"".join(struct.pack("<I", i) for i in (
        0xD2800000, 0xD2800001, 0xD2800002, 0xD2800003, 0xD2800928, 0xD4000001, 0x17FFFFFA))),
}
_CODE["amd64"] = _CODE["x86_64"]
_CODE["arm64"] = _CODE["aarch64"]


def pause_elf(machine: str | None = None) -> bytes:
    machine = machine or platform.machine()
    if machine not in _CODE:
        raise RuntimeError(f"no pause binary for {machine}")
    e_machine, code = _CODE[machine]
    base, hdr = 0x400000, 64 + 56
    size = hdr + len(code)
    ehdr = (b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
            + struct.pack("<HHIQQQIHHHHHH", 2, e_machine, 1, base + hdr, 64, 0, 0, 64, 56, 1, 0, 0, 0))
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    return ehdr + phdr + code


def tar_context(files: list[tuple[str, bytes, int]]) -> io.BytesIO:
    """A tar build context of (name, data, mode) files, for `images.build(custom_context=True)`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, mode in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def build_context(machine: str | None = None) -> io.BytesIO:
    """A tar build context: the binary and a Dockerfile FROM scratch."""
    return tar_context([("pause", pause_elf(machine), 0o755),
                        ("Dockerfile", b'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n', 0o644)])
