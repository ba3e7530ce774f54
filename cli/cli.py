"""`kubedeck` command line: argument parsing and dispatch, in kubectl's habits.

Every command that talks to a cluster goes through the engine API (kubedeck.engine.client);
`serve` runs the engine itself, `up`/`ui` open the TUI, `down` cleans Docker up.
"""

from __future__ import annotations

import argparse
import gc
import sys

from . import __version__

# httpx imports its command-line client (click, pygments, rich.syntax: ~50 ms, a tenth
# of the TUI's imports) unless that import fails, as without its `cli` extra; kubedeck
# never runs it
sys.modules.setdefault("httpx._main", None)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubedeck", description="A local Kubernetes you can see.")
    p.add_argument("--version", action="version", version=f"kubedeck {__version__}")
    p.add_argument("--state", help="state directory of the cluster (default: $KUBEDECK_STATE or "
                                   "~/.local/state/kubedeck/default)")
    p.add_argument("--context", help="any cluster: this kubeconfig context (`ui` and `up`; no kubedeck engine)")
    p.add_argument("--kubeconfig", help="kubeconfig file(s) for --context (default: $KUBECONFIG, else ~/.kube/config)")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

    s = sub.add_parser("serve", help="run the cluster headless in the foreground, watching DIR")
    s.add_argument("dir", nargs="?", default=".", help="manifest folder to watch (default: .)")
    _serve_flags(s)

    s = sub.add_parser("up", help="start the cluster on DIR in the background (or attach) and open the TUI")
    s.add_argument("dir", nargs="?", default=".", help="manifest folder to watch (default: .)")
    s.add_argument("--theme", help="colour theme for the TUI")
    s.add_argument("--no-ui", action="store_true", help="start the cluster and return without the TUI")
    s.add_argument("--yes", action="store_true", help="with --context: apply without asking first")
    s.add_argument("--dry-run", action="store_true", help="with --context: print the server-side diff, change nothing")
    s.add_argument("--once", action="store_true", help="with --context: sync once and exit (1 if any error)")
    s.add_argument("--applyset", help="with --context: ApplySet parent secret (default: kubedeck-<folder name>)")
    s.add_argument("-n", "--namespace", help="with --context: namespace for objects without one (default: the context's)")
    _serve_flags(s)

    s = sub.add_parser("ui", help="open the TUI on the running cluster")
    s.add_argument("--theme", help="colour theme")

    s = sub.add_parser("validate", help="check manifest files or folders without a cluster")
    s.add_argument("paths", nargs="+")
    s.add_argument("--allow-privileged", action="store_true",
                   help="check as a cluster started with --allow-privileged (no Pod Security baseline)")

    s = sub.add_parser("apply", help="apply manifests to the running cluster")
    s.add_argument("-f", "--filename", required=True, action="append", help="file or folder")

    s = sub.add_parser("get", help="list objects")
    s.add_argument("kind")
    s.add_argument("name", nargs="?")
    _ns_flags(s)
    s.add_argument("-l", "--selector", help="label selector, e.g. app=web")
    s.add_argument("-o", "--output", choices=["wide", "yaml", "json", "name"], help="output format")
    s.add_argument("-w", "--watch", action="store_true", help="watch for changes after listing")

    s = sub.add_parser("describe", help="show an object in detail, with its events")
    s.add_argument("kind")
    s.add_argument("name")
    _ns_flags(s)

    s = sub.add_parser("delete", help="delete an object")
    s.add_argument("kind")
    s.add_argument("name")
    _ns_flags(s)
    s.add_argument("--grace-period", type=int)
    s.add_argument("--force", action="store_true")

    s = sub.add_parser("logs", help="print a container's logs")
    s.add_argument("pod")
    s.add_argument("-c", "--container")
    _ns_flags(s)
    s.add_argument("-f", "--follow", action="store_true")
    s.add_argument("-p", "--previous", action="store_true")
    s.add_argument("--tail", type=int)
    s.add_argument("--timestamps", action="store_true")

    s = sub.add_parser("exec", help="run a command in a container: exec POD [-c C] [-it] -- CMD...")
    s.add_argument("pod")
    s.add_argument("-c", "--container")
    s.add_argument("-i", "--stdin", action="store_true", help="pass stdin to the container")
    s.add_argument("-t", "--tty", action="store_true", help="allocate a TTY")
    _ns_flags(s)
    s.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")

    s = sub.add_parser("port-forward", help="forward a local port: port-forward pod/NAME|svc/NAME|deployment/NAME LOCAL:REMOTE")
    s.add_argument("target")
    s.add_argument("ports", nargs="+", help="LOCAL:REMOTE, :REMOTE (random local port) or PORT")
    s.add_argument("--address", default="127.0.0.1", help="local address to listen on (default 127.0.0.1)")
    _ns_flags(s)

    s = sub.add_parser("scale", help="set replicas, e.g. scale deployment/web --replicas=3")
    s.add_argument("target")
    s.add_argument("--replicas", type=int, required=True)
    _ns_flags(s)

    s = sub.add_parser("rollout", help="rollout status|restart|history|undo KIND/NAME")
    s.add_argument("action", choices=["status", "restart", "history", "undo"])
    s.add_argument("target")
    _ns_flags(s)
    s.add_argument("--timeout", type=float, default=300)

    s = sub.add_parser("cordon", help="mark a node unschedulable")
    s.add_argument("node")
    s = sub.add_parser("uncordon", help="mark a node schedulable again")
    s.add_argument("node")
    s = sub.add_parser("drain", help="cordon a node and evict its pods (DaemonSet pods stay)")
    s.add_argument("node")
    s.add_argument("--force", action="store_true", help="also delete pods no controller will replace")
    s.add_argument("--ignore-daemonsets", action="store_true", help="accepted for kubectl habits: "
                                                                     "DaemonSet pods always stay")
    s.add_argument("--delete-emptydir-data", action="store_true", help="accepted for kubectl habits")
    s.add_argument("--grace-period", type=int, default=None)
    s.add_argument("--timeout", type=float, default=120, help="seconds to wait for the pods to go")

    s = sub.add_parser("node", help="simulate a node failure: node stop|start NODE")
    s.add_argument("action", choices=["stop", "start"])
    s.add_argument("node")

    s = sub.add_parser("down", help="stop the cluster and remove its containers and networks")
    s.add_argument("--volumes", action="store_true", help="also remove PersistentVolumeClaim volumes")

    s = sub.add_parser("backup", help="write every object of the cluster's store to FILE (as an etcd snapshot)")
    s.add_argument("file")
    s = sub.add_parser("restore", help="write a backup into the store of a stopped cluster")
    s.add_argument("file")
    s.add_argument("--force", action="store_true", help="replace a store that holds objects (moved aside)")

    s = sub.add_parser("ip", help="print the node address at which NodePorts answer (as `minikube ip`)")
    s.add_argument("node", nargs="?", default=None, help="node name (default: the first node)")

    sub.add_parser("version", help="print the version")
    return p


def _serve_flags(s: argparse.ArgumentParser) -> None:
    s.add_argument("--address", default="127.0.0.1",
                   help="address NodePort listeners bind (default 127.0.0.1; 0.0.0.0 exposes them)")
    s.add_argument("--api-port", type=int, default=0, help="API port (default: a free port)")
    s.add_argument("--nodes", type=int, default=1, help="number of virtual nodes")
    s.add_argument("--ingress-http-port", type=int, default=8080, help="Ingress HTTP port (default 8080)")
    s.add_argument("--ingress-https-port", type=int, default=8443, help="Ingress HTTPS port (default 8443)")
    s.add_argument("--ingress-proxy", choices=("auto", "nginx", "python"), default="auto",
                   help="what serves the Ingress: the host's nginx, as ingress-nginx does, or kubedeck's Python "
                        "proxy (default auto: nginx when it is installed)")
    s.add_argument("--service-node-port-range", type=_port_range, default=None, metavar="LOW-HIGH",
                   help="where Services' unset nodePorts are picked from, as kube-apiserver's flag "
                        "(default 30000-32767; must lie within it)")
    s.add_argument("--no-kubeconfig", action="store_true",
                   help="do not merge this cluster's context into $KUBECONFIG or ~/.kube/config")
    s.add_argument("--reset-store", action="store_true",
                   help="if store.sqlite is damaged, move it aside and start an empty cluster")
    s.add_argument("--allow-privileged", action="store_true",
                   help="lift the Pod Security baseline policy: allow privileged pods, host namespaces and "
                        "ports, added capabilities, hostPath outside DIR and the Docker socket")
    s.add_argument("-v", "--verbose", action="store_true")


def _port_range(text: str) -> tuple[int, int]:
    """`LOW-HIGH` inside Kubernetes' default NodePort range (the folder's validator checks
    explicit nodePorts against that default, so a wider range could not be used)."""
    from .engine.manifests.semantic_base import NODE_PORT_RANGE

    lo, sep, hi = text.partition("-")
    if not (sep and lo.isdigit() and hi.isdigit()
            and NODE_PORT_RANGE[0] <= int(lo) <= int(hi) <= NODE_PORT_RANGE[1]):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not LOW-HIGH within {NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}")
    return int(lo), int(hi)


def _ns_flags(s: argparse.ArgumentParser) -> None:
    s.add_argument("-n", "--namespace", default=None)
    s.add_argument("-A", "--all-namespaces", action="store_true")


def _ui(args) -> int:
    """`kubedeck ui` on the state dir's engine. The pods are listed in a forked child
    (engine/forked.py) on the machine's other core while this process imports the TUI
    (~0.3 s), so the first frame need not wait for them, and this process loads no HTTP
    client before its first frame. That list is also the check that the engine answers
    (a clear error when none does)."""
    from kubedeck.engine.forked import ChildFailed, in_child
    from kubedeck.engine.state import read_connection, state_dir

    state = state_dir(args.state)
    pods = in_child(lambda: _list_pods(state))
    from kubedeck.tui.app import run_tui

    from .errors import UserError

    try:
        listed = pods()
    except ChildFailed:  # something unexpected: the TUI lists the pods itself and shows what fails
        listed = None
    if isinstance(listed, str):
        raise UserError(listed)
    conn = read_connection(state)
    return run_tui(api_url=conn["url"], token=conn["token"], ca=conn.get("ca"), theme=args.theme,
                   first_lists={"pods": tuple(listed)} if listed else None)


def _list_pods(state) -> list | str | None:
    """[items, resourceVersion] of all pods; None when the list fails (the TUI then lists
    and shows what goes wrong); the message when no engine answers. It runs in the forked
    child, on the standard library's http.client: a third of httpx's CPU (~50 against
    ~150 ms here), which counts whenever the machine's other core is busy and the child
    shares the TUI's."""
    import http.client
    import json
    from urllib.parse import urlsplit

    from kubedeck.engine.client import list_result
    from kubedeck.engine.state import Connection, read_connection

    data = read_connection(state)
    if not data:
        return _not_running(state)
    conn = Connection.from_dict(data)
    url = urlsplit(conn.url)
    if url.scheme == "https":
        context = conn.ssl()  # True without a CA file: the system's trust
        link = http.client.HTTPSConnection(url.hostname, url.port, timeout=10,
                                           context=None if context is True else context)
    else:
        link = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        link.request("GET", "/api/v1/pods", headers={**conn.headers(), "Accept": "application/json"})
        response = link.getresponse()
        body = json.loads(response.read()) if response.status == 200 else None
    except (OSError, http.client.HTTPException):
        return _not_running(state)
    except ValueError:
        return None
    finally:
        link.close()
    if not isinstance(body, dict):
        return None
    return list(list_result(body))


def _not_running(state) -> str | None:
    """The CLI client's own message for a state dir whose engine does not answer (None if
    it answers after all: the TUI then lists the pods itself)."""
    from kubedeck.engine.client import Client, NotRunning

    try:
        Client.for_state(state).close()
    except NotRunning as e:
        return str(e)
    return None


def _ui_args(argv: list[str]) -> argparse.Namespace | None:
    """`[--state DIR] ui [--theme NAME]` read without building every command's parser
    (~120 arguments, each with argparse's translation lookups: ~10 ms of the TUI's start);
    any other command line (`ui --help`, `--context`, a typo) goes to the full parser."""
    values: dict[str, str | None] = {"--state": None, "--theme": None}
    words = iter(argv)
    command = False
    for word in words:
        if word == "ui" and not command:
            command = True
            continue
        name, eq, value = word.partition("=")
        if name != ("--theme" if command else "--state") or values[name] is not None:
            return None
        if not eq:
            value = next(words, None)
            if value is None or value.startswith("-"):
                return None
        values[name] = value
    if not command:
        return None
    return argparse.Namespace(cmd="ui", state=values["--state"], theme=values["--theme"], context=None,
                              kubeconfig=None)


def main(argv: list[str] | None = None) -> int:
    args = _ui_args(sys.argv[1:] if argv is None else argv) or build_parser().parse_args(argv)
    if not args.cmd:
        build_parser().print_help()
        return 0
    if args.cmd == "version":
        print(f"kubedeck {__version__}")
        return 0
    from .errors import UserError

    try:
        if args.cmd in ("ui", "serve"):
            # No cyclic garbage collection while the start imports and builds its objects
            # (modules, classes, CSS rules, widgets: nearly all kept, so each collection
            # walks them all and frees next to nothing). The TUI enables it again after its
            # first frame, `serve` once its API listens; both freeze what the start made.
            gc.disable()
        if args.cmd == "ui" and not args.context and not args.kubeconfig:
            return _ui(args)  # without commands.py's imports (yaml, the printers)
        if args.cmd == "serve" and not args.context and not args.kubeconfig:
            # straight to the engine: the client commands' imports (httpx, the printers)
            # would add ~0.1 s before its API answers
            from kubedeck.engine.state import state_dir

            from .serve import serve

            return serve(args, state_dir(args.state))
        from . import commands

        return commands.run(args)
    except KeyboardInterrupt:
        return 130
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
