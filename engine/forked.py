"""Running one start-up step in a forked child while the parent goes on importing.

`ui`'s start is two CPU-bound halves: the pods' list (and with `--context` the official
client's import and its kubeconfig loader, ~0.5 s, engine/kubeconnect.py), and Textual's
import (~0.6 s). One
interpreter runs them in turn, whatever threads it uses (the GIL). A forked child runs
the first on the machine's second core and sends its JSON result back through a pipe, so
the step runs once (an exec credential plugin is not run twice) and the parent never
imports what only the step needed.

The fork happens only while the parent has one thread: forking a process that has more
is unsafe, so the step then runs in the parent as before.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
from collections.abc import Callable


class ChildFailed(Exception):
    """The step raised in the child; the message is its exception's."""


def in_child(step: Callable[[], object]) -> Callable[[], object]:
    """Starts `step` (returning JSON-able data) and returns the call that waits for its
    result, raising `ChildFailed` with the message of what the step raised."""
    if threading.active_count() > 1 or not hasattr(os, "fork"):
        return _in_parent(step)
    sys.stdout.flush()
    sys.stderr.flush()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run the step, write its result, leave without the parent's cleanup
        os.close(r)
        try:
            payload = {"ok": step()}
        except BaseException as e:  # noqa: BLE001 - every failure goes back as a message
            payload = {"error": str(e) or type(e).__name__}
        text = json.dumps(payload)  # one shot: json.dump to a file takes the pure-Python encoder
        with os.fdopen(w, "w") as out:
            out.write(text)
        atexit._run_exitfuncs()  # the step's own cleanups (the loader's temp files)
        os._exit(0)
    os.close(w)

    def result() -> object:
        with os.fdopen(r) as got:
            text = got.read()
        os.waitpid(pid, 0)
        payload = json.loads(text) if text else {"error": "the child process ended without an answer"}
        if "error" in payload:
            raise ChildFailed(payload["error"])
        return payload["ok"]

    return result


def _in_parent(step: Callable[[], object]) -> Callable[[], object]:
    def result() -> object:
        try:
            return step()
        except Exception as e:  # noqa: BLE001 - the same contract as the child's
            raise ChildFailed(str(e) or type(e).__name__) from e
    return result
