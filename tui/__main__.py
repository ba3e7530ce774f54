"""`python -m kubedeck.tui [--state DIR] [--theme NAME]`: open the TUI on a running cluster.

For development; users run `kubedeck up` or `kubedeck ui`. The state directory is found
like the CLI finds it: --state, else $KUBEDECK_STATE, else
$XDG_STATE_HOME/kubedeck/default.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .api import ConnectionInfo
from .app import run_tui


def default_state_dir() -> Path:
    if os.environ.get("KUBEDECK_STATE"):
        return Path(os.environ["KUBEDECK_STATE"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kubedeck" / "default"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubedeck.tui")
    parser.add_argument("--state", type=Path, default=None)
    parser.add_argument("--theme", default=None)
    args = parser.parse_args(argv)
    state = args.state or default_state_dir()
    try:
        info = ConnectionInfo.from_state_dir(state)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: no running cluster in {state} ({exc})", file=sys.stderr)
        return 1
    return run_tui(api_url=info.url, token=info.token, theme=args.theme)


if __name__ == "__main__":
    sys.exit(main())
