"""`python -m kubedeck.tui [--state DIR] [--theme NAME]`: open the TUI on a running cluster.

For development; users run `kubedeck up` or `kubedeck ui`. The state directory is found
as the CLI finds it (engine/state.py): --state, else $KUBEDECK_STATE, else
$XDG_STATE_HOME/kubedeck/default.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kubedeck.engine.state import Connection, state_dir

from .app import run_tui


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubedeck.tui")
    parser.add_argument("--state", type=Path, default=None)
    parser.add_argument("--theme", default=None)
    args = parser.parse_args(argv)
    state = state_dir(args.state)
    try:
        conn = Connection.from_state(state)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: no running cluster in {state} ({exc})", file=sys.stderr)
        return 1
    return run_tui(api_url=conn.url, token=conn.token, ca=conn.ca, theme=args.theme)


if __name__ == "__main__":
    sys.exit(main())
