"""The switch that hides kubedeck's own API extras, so a cluster looks like any other.

`KUBEDECK_NO_EXTRAS=1` in the engine's environment makes every `/kubedeck/...` path
answer 404, as a real API server does: clients (the TUI, `kubedeck up --context`) must
then take the cluster for a plain Kubernetes one. The end-to-end tests of issue 17 run
a second engine this way, reached only through its kubeconfig. Hidden on purpose: it is
a test and debugging aid, not a user setting.
"""

from __future__ import annotations

import os

ENV = "KUBEDECK_NO_EXTRAS"
PREFIX = "/kubedeck/"


def extras_enabled(environ=os.environ) -> bool:
    return environ.get(ENV, "").strip().lower() in ("", "0", "false", "no")


def extras_refused(path: str, environ=os.environ) -> bool:
    """True when `path` is a kubedeck extra and the extras are switched off."""
    return path.startswith(PREFIX) and not extras_enabled(environ)
