"""Loading nftables rules into kernel Service proxies (rules: svc_rules.py).

What a proxy has loaded is recorded next to its rules, in `<state>/services/<ns>_<name>/
rules.nft`: a first line `# kubedeck-loaded {json}` (which container, started when, the
UDP conntrack zone, the UDP endpoints) and the table as loaded. So a restarted engine
changes rules incrementally (keeping ClientIP affinity) and still notices a UDP endpoint
that left while it was down; a proxy container that restarted (same id, new network
namespace, no rules) is recognised by its start time and gets the whole table.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from docker.errors import APIError, NotFound

from .. import activity
from ..files import write_atomic
from .svc_rules import TABLE, PortRules, transaction, udp_flows_stale

log = logging.getLogger("kubedeck.services")
HEADER = "# kubedeck-loaded "


class NftRefused(Exception):
    """nft ran and rejected the rules (its message)."""


@dataclass
class Loaded:
    proxy: str  # "<container id>@<StartedAt>"
    table: str
    zone: int = 1
    udp: list[PortRules] = field(default_factory=list)

    def save(self, path: Path) -> None:
        meta = {"proxy": self.proxy, "zone": self.zone, "udp": [asdict(p) for p in self.udp]}
        write_atomic(path, HEADER + json.dumps(meta) + "\n" + self.table, durable=False)

    @classmethod
    def read(cls, path: Path) -> "Loaded | None":
        try:
            head, _, table = path.read_text().partition("\n")
            meta = json.loads(head[len(HEADER):]) if head.startswith(HEADER) else None
            if meta is None:
                return None
            udp = [PortRules(p["protocol"], p["port"], [tuple(b) for b in p["backends"]]) for p in meta["udp"]]
            return cls(meta["proxy"], table, int(meta["zone"]), udp)
        except (OSError, ValueError, KeyError, TypeError):
            return None


def proxy_identity(info: dict) -> str:
    return f"{info['Id']}@{info['State'].get('StartedAt', '')}"


class RuleLoader:
    """Keeps each kernel proxy's table as wanted, one `docker exec nft -f` per change."""

    def __init__(self, api, root: Path, table: str = TABLE):
        self.api, self.root, self.table = api, root, table
        self.cache: dict[tuple[str, str], Loaded] = {}

    def forget(self, key) -> None:
        self.cache.pop(key, None)

    def load(self, key, info: dict, make_table, ports: list[PortRules], seeds: dict | None = None) -> bool:
        """Load `make_table(zone)` into the proxy unless it is loaded already. Returns
        False when the proxy could not be reached (retry on the next pass); raises
        NftRefused when nft rejected the rules. `seeds`: see svc_rules.transaction."""
        path = self.root / f"{key[0]}_{key[1]}" / "rules.nft"
        ident = proxy_identity(info)
        prev = self.cache.get(key) or Loaded.read(path)
        if prev is not None and prev.proxy != ident:
            prev = None  # another container, or the same one restarted: nothing is loaded
        udp = [p for p in ports if p.protocol == "UDP"]
        zone = prev.zone if prev else 1
        if prev is not None and udp_flows_stale(prev.udp, udp):
            zone = zone % 65535 + 1
        table = make_table(zone)
        if prev is not None and prev.table == table:
            self.cache[key] = prev
            return True
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.time()
        try:
            try:
                self._nft(info["Id"], path.parent,
                          transaction(table, prev.table if prev else None, self.table, seeds))
            except NftRefused:
                if prev is None:
                    raise
                # what is loaded is not what we thought: replace the whole table
                self._nft(info["Id"], path.parent, transaction(table, None, self.table, seeds))
        except (APIError, NotFound) as e:
            log.warning("%s/%s: cannot reach its proxy to load rules: %s", *key, e)
            return False
        loaded = Loaded(ident, table, zone, udp)
        loaded.save(path)
        self.cache[key] = loaded
        activity.record("kube-proxy", "load-rules", "Service", key[0], key[1], start=started)
        return True

    def _nft(self, cid: str, folder: Path, text: str) -> None:
        write_atomic(folder / "next.nft", text, durable=False)
        code, out = exec_code(self.api, cid, ["/usr/sbin/nft", "-f", "/kd/next.nft"])
        if code != 0:
            raise NftRefused(f"exit {code}: {out}")


def exec_code(api, cid: str, cmd: list[str]) -> tuple[int | None, str]:
    """Run `cmd` in a container: (exit code, output). The exit code can lag the end of
    the output for a moment; it is waited for (None if it never came)."""
    ex = api.exec_create(cid, cmd)
    out = api.exec_start(ex["Id"]).decode(errors="replace").strip()
    code = api.exec_inspect(ex["Id"])["ExitCode"]
    deadline = time.monotonic() + 5
    while code is None and time.monotonic() < deadline:  # the exec is still finishing
        time.sleep(0.02)
        code = api.exec_inspect(ex["Id"])["ExitCode"]
    return code, out


class NameCache:
    """ExternalName targets resolved by the host, each kept for `ttl` seconds; a failed
    lookup keeps the last good address. Loopback answers are refused: the proxy's
    DNAT to 127.0.0.1 would reach nothing."""

    def __init__(self, ttl: float = 30.0):
        self.ttl = ttl
        self.known: dict[str, tuple[str | None, float]] = {}

    def lookup(self, name: str) -> str | None:
        addr, until = self.known.get(name, (None, 0.0))
        if until > time.monotonic():
            return addr
        try:
            found = socket.gethostbyname(name)
            addr = None if found.startswith("127.") else found
        except OSError:
            pass  # keep the last good address, if any
        self.known[name] = (addr, time.monotonic() + self.ttl)
        return addr
