"""`kubedeck ui|up --context NAME [--kubeconfig FILE]`: the TUI and the folder sync on any cluster.

No kubedeck engine is involved: the connection comes from the kubeconfig
(engine/kubeconnect.py) and everything goes through the cluster's own API. `up` runs
`RemoteSync` (engine/remote_sync.py): in the TUI's process on a thread of its own (the
TUI shows its file:line errors where a kubedeck engine's would be), or in the foreground
with `--no-ui`, or once with `--once`; `--dry-run` prints the server-side diff and
changes nothing. Before the first apply to a cluster that is not a kubedeck one (its
`/kubedeck/v1/status` is not there), the context, cluster and namespace are shown and
confirmed, unless `--yes`; without a terminal to ask on, it refuses.
"""

from __future__ import annotations

import asyncio
import re
import sys
import threading
from pathlib import Path

from kubedeck.engine.client import ApiError, Client, list_result
from kubedeck.engine.forked import ChildFailed, in_child
from kubedeck.engine.kubeconnect import KubeconfigError, KubeConnection, load

from .errors import UserError


def connect(args):
    try:
        conn = load(args.context, args.kubeconfig)
    except KubeconfigError as e:
        raise UserError(str(e)) from None
    client = Client(conn, timeout=10)
    try:
        client.request("GET", "/version")
    except ApiError as e:
        raise UserError(f"context {conn.context} ({conn.url}): {e.message} ({e.code})") from None
    except Exception as e:  # noqa: BLE001 - unreachable, TLS, ...: one line for the user
        raise UserError(f"context {conn.context}: cannot reach {conn.url}: {e}") from None
    finally:
        client.close()
    return conn


def is_kubedeck(conn) -> bool:
    client = Client(conn, timeout=10)
    try:
        return client.http.get("/kubedeck/v1/status").status_code == 200
    except Exception:  # noqa: BLE001 - cannot tell: treat it as a real cluster (ask)
        return False
    finally:
        client.close()


def cmd_ui(args) -> int:
    # the kubeconfig is loaded and checked, and the pods listed, in a forked child while
    # this process imports Textual (engine/forked.py): the start's halves overlap on two cores
    pending = in_child(lambda: _connect_and_list(args))
    from kubedeck.tui.app import run_tui

    try:
        got = pending()
    except ChildFailed as e:
        raise UserError(str(e)) from None
    pods = got["pods"]
    return run_tui(connection=KubeConnection.from_snapshot(got["connection"]), theme=args.theme,
                   first_lists={"pods": tuple(pods)} if pods else None)


def _connect_and_list(args) -> dict:
    """The connection's snapshot and [items, resourceVersion] of all pods (None when that
    list fails, e.g. RBAC forbids it across namespaces: the TUI lists and shows why)."""
    conn = connect(args)
    client = Client(conn, timeout=10)
    try:
        body = client.request("GET", "/api/v1/pods")
        pods = list(list_result(body))
    except Exception:  # noqa: BLE001 - see above
        pods = None
    finally:
        client.close()
    return {"connection": conn.snapshot(), "pods": pods}


def cmd_up(args) -> int:
    from kubedeck.engine.remote_sync import RemoteSync

    conn = connect(args)
    folder = Path(args.dir).resolve()
    if not folder.is_dir():
        raise UserError(f"{args.dir} is not a folder")
    namespace = args.namespace or conn.namespace
    applyset = args.applyset or "kubedeck-" + (re.sub(r"[^a-z0-9-]+", "-", folder.name.lower()).strip("-") or "folder")
    if args.dry_run:
        return asyncio.run(_diff(RemoteSync(conn, folder, namespace=namespace, applyset=applyset)))
    _confirm(conn, folder, namespace, applyset, args.yes)
    sync = RemoteSync(conn, folder, namespace=namespace, applyset=applyset, on_change=_printer())
    if args.once:
        return asyncio.run(_once(sync))
    if args.no_ui:
        print(f"syncing {folder} to context {conn.context}, namespace {namespace} (Ctrl-C stops)", flush=True)
        return asyncio.run(_forever(sync))
    from kubedeck.tui.app import run_tui

    runner = _Background(sync)
    runner.start()
    try:
        return run_tui(connection=conn, theme=args.theme, folder_status=sync.status)
    finally:
        runner.stop()


def _confirm(conn, folder: Path, namespace: str, applyset: str, yes: bool) -> None:
    if is_kubedeck(conn):
        return
    print(f"{folder} will be applied to a cluster that is not a kubedeck one:\n"
          f"  context:   {conn.context}\n  cluster:   {conn.cluster} ({conn.url})\n  namespace: {namespace}\n"
          f"objects the folder no longer holds are deleted (only members of ApplySet secret/{applyset}).",
          file=sys.stderr, flush=True)
    if yes:
        return
    if not sys.stdin.isatty():
        raise UserError(f"context {conn.context} is not a kubedeck cluster: refusing to apply without "
                        "confirmation (no terminal to ask on); pass --yes to apply")
    if input("Apply? [y/N] ").strip().lower() not in ("y", "yes"):
        raise UserError("cancelled: nothing was applied")


def _printer():
    seen: list = []

    def show(errors) -> None:
        lines = [("warning: " if e.severity != "error" else "") + str(e) for e in errors]
        if lines != seen:
            for line in lines:
                print(line, file=sys.stderr, flush=True)
            seen[:] = lines
    return show


async def _diff(sync) -> int:
    try:
        text, errors = await sync.diff()
    finally:
        await sync.aclose()
    sys.stdout.write(text or "no changes\n")
    for e in errors:
        print(("warning: " if e.severity != "error" else "") + str(e), file=sys.stderr)
    return 1 if any(e.severity == "error" for e in errors) else 0


async def _once(sync) -> int:
    try:
        await sync.sync_all()
    finally:
        await sync.aclose()
    hard = [e for e in sync.errors() if e.severity == "error"]
    applied = sum(len(st.keys) for st in sync.files.values() if not st.held)
    print(f"{applied} object(s) applied, {len(hard)} error(s)")
    return 1 if hard else 0


async def _forever(sync) -> int:
    try:
        await sync.run()
    finally:
        await sync.aclose()
    return 0


class _Background:
    """The sync on its own event loop in a thread, while the TUI owns the main one."""

    def __init__(self, sync):
        self.sync = sync
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="kubedeck-remote-sync", daemon=True)
        self.task = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.task = self.loop.create_task(_forever(self.sync))
        try:
            self.loop.run_until_complete(self.task)
        except asyncio.CancelledError:  # the TUI is closing
            pass
        except Exception as e:  # noqa: BLE001 - shown in the TUI's error area
            self.sync.failure = f"the folder sync stopped: {e}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(10)
