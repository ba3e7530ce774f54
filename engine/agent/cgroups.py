"""Container CPU and memory counters read straight from the host's cgroup files.

Why files and not Docker: `docker stats` (the SDK's `stats(stream=False)`) takes about
1-2 s of wall time per container, as the daemon waits for a second CPU reading, and
`one-shot` still about 1 s here; reading three small files under /sys/fs/cgroup takes
about 0.3 ms. Docker keeps one cgroup per container, named after its full id, so the
files are found without asking Docker anything.

Where they are (`Hierarchy.find`):
- cgroup v1: the `cpuacct` and `memory` controllers' own mounts (from
  /proc/self/mountinfo), `cpuacct.usage` (ns), `memory.usage_in_bytes` and
  `memory.stat`'s `total_inactive_file`;
- cgroup v2 (used when no v1 `cpuacct`/`memory` mount exists): the `cgroup2` mount,
  `cpu.stat`'s `usage_usec`, `memory.current` and `memory.stat`'s `inactive_file`;
- under either Docker driver: `docker/<id>` (cgroupfs) or `system.slice/docker-<id>.scope`
  (systemd).
A container found nowhere (another cgroup parent, a remote or Desktop Docker) returns
None, and the sampler asks Docker for it instead.

Pure reading: no rates here (see `metrics.py`); the working set is computed as cAdvisor
and the kubelet do, `usage - inactive_file`, floored at zero (`working_set`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")


@dataclass(frozen=True)
class Counters:
    """One reading of a container: cumulative CPU time (ns) and its memory working set."""

    cpu_ns: int
    memory_ws: int


def working_set(usage: int, inactive_file: int) -> int:
    """Memory usage minus the inactive file cache (reclaimable), never below zero."""
    return usage - inactive_file if usage > inactive_file else 0


def stat_value(text: str, key: str) -> int:
    """The value of `key` in a `memory.stat` / `cpu.stat` style file ("key value" lines)."""
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


@dataclass(frozen=True)
class Hierarchy:
    """Where the CPU and memory controllers are mounted, and which cgroup version."""

    cpu_root: Path
    memory_root: Path
    v2: bool

    @classmethod
    def detect(cls, mountinfo: Path = MOUNTINFO) -> Hierarchy | None:
        """From mountinfo: v1 `cpuacct` + `memory` mounts if present, else the cgroup2
        mount; None when neither is mounted (not Linux, or cgroups hidden)."""
        try:
            text = mountinfo.read_text()
        except OSError:
            return None
        v1: dict[str, Path] = {}
        v2_root = None
        for line in text.splitlines():
            left, sep, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if not sep or len(fields) < 5 or len(tail) < 3:
                continue
            mount_point = Path(fields[4].replace("\\040", " "))
            if tail[0] == "cgroup2":
                v2_root = mount_point
            elif tail[0] == "cgroup":
                for option in tail[2].split(","):
                    if option in ("cpuacct", "memory"):
                        v1.setdefault(option, mount_point)
        if "cpuacct" in v1 and "memory" in v1:
            return cls(v1["cpuacct"], v1["memory"], v2=False)
        if v2_root is not None:
            return cls(v2_root, v2_root, v2=True)
        return None

    def find(self, container_id: str) -> tuple[Path, Path] | None:
        """The container's (cpu dir, memory dir), or None if no known layout has it."""
        for rel in (f"docker/{container_id}", f"system.slice/docker-{container_id}.scope"):
            cpu, mem = self.cpu_root / rel, self.memory_root / rel
            if cpu.is_dir() and mem.is_dir():
                return cpu, mem
        return None

    def read(self, dirs: tuple[Path, Path]) -> Counters | None:
        """Read one container's counters; None if its cgroup is gone (it stopped)."""
        cpu, mem = dirs
        try:
            if self.v2:
                cpu_ns = stat_value((cpu / "cpu.stat").read_text(), "usage_usec") * 1000
                usage = int((mem / "memory.current").read_text())
                inactive = stat_value((mem / "memory.stat").read_text(), "inactive_file")
            else:
                cpu_ns = int((cpu / "cpuacct.usage").read_text())
                usage = int((mem / "memory.usage_in_bytes").read_text())
                inactive = stat_value((mem / "memory.stat").read_text(), "total_inactive_file")
        except (OSError, ValueError):
            return None
        return Counters(cpu_ns, working_set(usage, inactive))


def from_docker_stats(stats: dict) -> Counters | None:
    """The same counters from a Docker API stats answer (the fallback): cumulative
    `cpu_usage.total_usage` and `usage` minus the inactive file cache, the v1 key first,
    as the docker CLI computes its MEM USAGE."""
    try:
        cpu_ns = int(stats["cpu_stats"]["cpu_usage"]["total_usage"])
        mem = stats["memory_stats"]
        usage = int(mem["usage"])
    except (KeyError, TypeError, ValueError):
        return None  # a stopped container answers with empty sections
    extra = mem.get("stats") or {}
    inactive = extra.get("total_inactive_file", extra.get("inactive_file", 0))
    return Counters(cpu_ns, working_set(usage, int(inactive)))
