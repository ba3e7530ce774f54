"""The fallback Service proxy: busybox `nc` relays, TCP only (see services.py).

`nc -ll -p PORT -e /kd/route-I` forks a relay per connection; the route script picks a
random ready endpoint from the file ep-I, which the engine rewrites atomically whenever
the Endpoints change, so traffic moves off a pod with no container restart. Everything
lives in the Service's folder of the state dir, bind-mounted read-only at /kd.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..files import write_atomic
from .svc_rules import PortRules

IMAGE = os.environ.get("KUBEDECK_PROXY_IMAGE", "busybox:1.36")

ROUTE = """#!/bin/sh
# pick a random ready endpoint for this Service port and relay the connection to it
set -- $(awk -v r=$RANDOM 'NF {a[n++]=$0} END {if (n) print a[r % n]}' /kd/ep-{i})
[ -n "$1" ] || exit 1
exec nc -w 3 "$1" "$2"
"""


def write_endpoints(folder: Path, ports: list[PortRules]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(ports):
        write_if_changed(folder / f"ep-{i}", "".join(f"{ip} {port}\n" for ip, port in p.backends))
        route = folder / f"route-{i}"
        if not route.exists():
            route.write_text(ROUTE.replace("{i}", str(i)))
            route.chmod(0o755)


def write_run_script(folder: Path, ports: list[PortRules]) -> None:
    run = "".join(f"nc -ll -p {p.port} -e /kd/route-{i} &\n" for i, p in enumerate(ports)) + "wait\n"
    (folder / "run.sh").write_text("#!/bin/sh\n" + run)


def write_if_changed(path: Path, text: str) -> None:
    if not (path.exists() and path.read_text() == text):
        write_atomic(path, text, durable=False)  # the route script may be reading it
