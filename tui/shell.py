"""`s`: a shell in the selected pod's container, through the API server's exec.

The same client as `kubedeck exec -it` (the v4 channel protocol over a WebSocket, with
the terminal raw and its size on the resize channel), so it works on any cluster the
TUI is connected to, with the connection's own credentials. The TUI is suspended while
the shell runs; the session runs on its own event loop in a thread because the app's
loop is the one blocked in `suspend()`.
"""

from __future__ import annotations

import asyncio
import threading

SHELL = ["sh", "-c", "command -v bash >/dev/null && exec bash || exec sh"]


def exec_shell(connection, namespace: str, pod: str, container: str | None, *,
               command: list[str] | None = None, stdin: bool = True, tty: bool = True) -> int:
    """Run an interactive shell (or `command`) in the container; returns its exit code.
    Blocking: the caller has suspended the TUI."""
    from kubedeck.engine.exec_client import run_exec

    result: dict = {}

    def session() -> None:
        try:
            result["code"] = asyncio.run(run_exec("", "", namespace, pod, command or SHELL, container=container or None,
                                                  stdin=stdin, tty=tty, connection=connection))
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            result["error"] = exc

    worker = threading.Thread(target=session, name="kubedeck-shell")
    worker.start()
    worker.join()
    if "error" in result:
        raise result["error"]
    return result["code"]
