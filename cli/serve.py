"""Running the engine: in the foreground (`serve`), in the background (`up`), and
cleaning up after it (`down`)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kubedeck.engine.kubeconfig import user_kubeconfig
from kubedeck.engine.lock import StateLock, StateLocked, holder
from kubedeck.engine.state import (
    Connection,
    cluster_name,
    ensure_state_dir,
    read_connection,
    unmerge_user_kubeconfig,
)


ATTACH_SECONDS = 30  # how long `up` waits for the API of an engine that holds the lock


def serve(args, state: Path) -> int:
    from kubedeck.engine import aiohttp_import

    aiohttp_import.import_web()  # the system CA bundle loaded after the API listens, not before
    from kubedeck.engine.cluster import Cluster, Settings

    from .errors import UserError

    try:  # before anything else, and held until os._exit below: one engine per state dir
        ensure_state_dir(state)
        _held = StateLock(state).acquire()
    except OSError as e:
        raise UserError(_unwritable(state, e)) from None
    except StateLocked as e:
        conn = read_connection(state)
        where = f" (API {conn['url']})" if conn and e.pid and conn.get("pid") == e.pid else ""
        raise UserError(f"{e}{where}; use another --state, or `kubedeck down`") from None
    folder = Path(args.dir).resolve()
    if not folder.is_dir():
        raise UserError(f'the folder "{args.dir}" does not exist')
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname).1s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if args.address not in ("127.0.0.1", "localhost"):
        logging.warning("NodePorts will listen on %s: reachable from other machines", args.address)
    settings = Settings(state=state, folder=folder, address=args.address, api_port=args.api_port,
                        nodes=args.nodes, ingress_http_port=args.ingress_http_port,
                        ingress_https_port=args.ingress_https_port, ingress_proxy=args.ingress_proxy,
                        kubeconfig=None if args.no_kubeconfig else user_kubeconfig(),
                        allow_privileged=args.allow_privileged, node_port_range=args.service_node_port_range)
    runner = asyncio.Runner()
    if os.environ.get("KUBEDECK_UVLOOP") == "1":
        import uvloop  # opt-in for the engine's own loop (the proxy worker always uses it); see docs/ARCHITECTURE.md

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    import faulthandler
    import resource

    # every proxied connection costs two descriptors: raise the soft limit to the hard one
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    faulthandler.enable()  # a native crash leaves the Python stacks in the log
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1` dumps every stack
    try:
        cluster = _open_cluster(Cluster, settings, reset=args.reset_store)
    except OSError as e:  # the state dir went read-only or full since the lock was taken
        raise UserError(_unwritable(state, e)) from None
    with runner:
        code = runner.run(_serve(cluster))
    # Executor threads may still sit in a blocking Docker call (a container stop with a
    # long grace period); the cluster state is saved, so do not wait for them.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _unwritable(state: Path, e: OSError) -> str:
    where = f" ({e.filename})" if e.filename and str(e.filename) != str(state) else ""
    return (f"the state dir {state} cannot be written{where}: {e.strerror or e}; "
            "free disk space, fix its permissions, or use another --state")


def _open_cluster(make, settings, *, reset: bool):
    """The cluster on its store; a damaged store is a one-line refusal, or with `reset`
    is moved aside (never deleted) for an empty one."""
    from kubedeck.engine.store_file import StoreDamaged, set_aside

    from .errors import UserError

    try:
        return make(settings)
    except StoreDamaged as e:
        if not reset:
            raise UserError(str(e)) from None
        logging.getLogger("kubedeck").warning("the damaged store is now %s; starting an empty cluster",
                                              set_aside(e.path))
        return make(settings)


async def _serve(cluster) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await cluster.start()
    if not gc.isenabled():  # held off by cli.py during the start
        gc.freeze()
        gc.enable()
    print(f"kubedeck: cluster {cluster.name!r} serving {cluster.settings.folder}", flush=True)
    print(f"kubedeck: API {cluster.url}  kubeconfig {cluster.settings.state / 'kubeconfig'}", flush=True)
    await stop.wait()
    await cluster.stop()
    print("kubedeck: engine stopped; pods keep running (`kubedeck down` stops them)", flush=True)
    return 0


def _alive(conn: dict) -> bool:
    import httpx  # `up` only: the engine's own start must not pay for the client stack

    try:
        return httpx.get(conn["url"] + "/healthz", timeout=1,
                         verify=Connection.from_dict(conn).ssl()).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_running(args, state: Path) -> dict:
    """Attach to the engine holding this state dir's lock (however slow it is to answer),
    or start `kubedeck serve` in the background."""
    from .errors import UserError

    pid = holder(state)
    if pid is not None:
        return _attach(state, pid)
    ensure_state_dir(state)
    log = open(state / "engine.log", "ab")
    cmd = [sys.executable, "-m", "kubedeck", "--state", str(state), "serve", str(Path(args.dir).resolve()),
           "--address", args.address, "--api-port", str(args.api_port), "--nodes", str(args.nodes),
           "--ingress-http-port", str(args.ingress_http_port), "--ingress-https-port", str(args.ingress_https_port),
           "--ingress-proxy", args.ingress_proxy,
           *(["--no-kubeconfig"] if args.no_kubeconfig else []),
           *(["--reset-store"] if args.reset_store else []),
           *(["--allow-privileged"] if args.allow_privileged else []),
           *(["--service-node-port-range", "%d-%d" % args.service_node_port_range]
             if args.service_node_port_range else [])]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        conn = read_connection(state)
        if conn and conn.get("pid") == proc.pid and _alive(conn):
            return conn
        if proc.poll() is not None:
            other = holder(state)
            if other is not None:  # another `up` started its engine first: use that one
                return _attach(state, other)
            tail = (state / "engine.log").read_text(errors="replace").splitlines()[-5:]
            raise UserError("the engine failed to start:\n  " + "\n  ".join(tail))
        time.sleep(0.05)
    raise UserError(f"the engine did not answer within 30 s; see {state / 'engine.log'}")


def _attach(state: Path, pid: int) -> dict:
    """The connection of the engine `pid` that holds the lock (0: pid not known), once
    its API answers; it may still be starting."""
    from .errors import UserError

    deadline = time.monotonic() + ATTACH_SECONDS
    while time.monotonic() < deadline:
        conn = read_connection(state)
        if conn and (not pid or conn.get("pid") == pid) and _alive(conn):
            return conn
        if holder(state) is None:
            raise UserError(f"the engine (pid {pid}) on {state} exited; see {state / 'engine.log'}")
        time.sleep(0.1)
    raise UserError(f"the engine (pid {pid}) holding {state} does not answer; see {state / 'engine.log'}, "
                    "or stop it with `kubedeck down`")


def _stop_engine(pid: int) -> None:
    """SIGTERM the engine and wait for it; SIGKILL after 10 s so it cannot recreate
    containers while `down` removes them."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if _gone(pid):
                return
            time.sleep(0.05)


def _gone(pid: int) -> bool:
    """The process has exited: no such pid, or a zombie its parent has not reaped yet
    (an engine started by another program, e.g. a benchmark, stays one until then)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def down(state: Path, *, volumes: bool) -> int:
    """Stop the engine and remove what this cluster made in Docker. Idempotent: a second
    run finds nothing and says so. Only objects with this cluster's label are removed;
    what cannot be removed is reported in one line each (exit 1), never a traceback."""
    from kubedeck.engine.store_file import remove as remove_store

    from .errors import UserError

    # the lock names the engine: a pid in a stale api.json may be another program's now
    if pid := holder(state):
        _stop_engine(pid)
        # the lock goes with the last descriptor: a helper process the engine started
        # may hold it a moment longer than the engine itself
        deadline = time.monotonic() + 5
        while holder(state) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
    if (pid := holder(state)) is not None:
        raise UserError(f"the engine (pid {pid}) on {state} did not stop; nothing was removed")
    import docker

    name = cluster_name(state)
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as e:
        raise UserError(f"cannot reach Docker to remove cluster {name!r}'s containers: {e}") from None
    from kubedeck.engine.kubeproxy.nodeport_kernel import remove_host_rules

    try:
        remove_host_rules(client.api, name)  # a killed engine leaves its kernel NodePort rules
    except docker.errors.DockerException as e:
        logging.getLogger("kubedeck").warning("cannot remove the kernel NodePort rules: %s", e)
    n, v, problems = _remove_or_explain(client.api, name, volumes=volumes)
    remove_store(state / "store.sqlite")
    (state / "api.json").unlink(missing_ok=True)
    import shutil

    shutil.rmtree(state / "pods", ignore_errors=True)
    if kc := unmerge_user_kubeconfig(state):
        print(f"kubedeck: removed context {'kubedeck-' + name!r} from {kc}")
    print(f"kubedeck: cluster {name!r} down: removed {n} container(s)"
          + (f" and {v} volume(s)" if volumes else "; volumes kept (use --volumes to remove them)"))
    for p in problems:
        print(f"kubedeck: {p}", file=sys.stderr)
    return 1 if problems else 0


def _remove_or_explain(api, name: str, *, volumes: bool) -> tuple[int, int, list[str]]:
    """_remove_ours, with a Docker that stops answering or goes away said in one line
    (a UserError), never a traceback."""
    import requests

    from .errors import UserError

    try:
        return _remove_ours(api, name, volumes=volumes)
    except requests.exceptions.Timeout:
        # every call that touches a network waits forever then: one more would wait as long
        raise UserError(f"Docker did not answer within {api.timeout} s while removing cluster {name!r}'s "
                        "containers; the rest and the cluster's state are left. dockerd may be deadlocked (Docker "
                        "20.10 can deadlock when many containers exit at once, moby/moby#46661): restart it, then "
                        "run `kubedeck down` again") from None
    except requests.exceptions.ConnectionError as e:
        raise UserError(f"Docker went away while removing cluster {name!r}'s containers ({e}); the rest and the "
                        "cluster's state are left: run `kubedeck down` again once Docker is back") from None


def _remove_ours(api, name: str, *, volumes: bool) -> tuple[int, int, list[str]]:
    """Remove the containers, networks (and volumes) labelled for cluster `name`: the
    low-level lists (the high-level ones inspect each item and fail on one just gone),
    NotFound is success, and a network is removed once its endpoints are gone. A
    network that still holds a container kubedeck did not make is left, and said."""
    from docker.errors import APIError, NotFound

    from kubedeck.engine.labels import L_CLUSTER

    label = {"label": f"{L_CLUSTER}={name}"}
    n, v, problems = 0, 0, []

    def removed(what: str, remove, key: str, gone=None) -> int:
        """1 if `remove(key)` removed it, 0 if it was gone already or is a problem, said.
        `gone(key)` waits out a removal Docker already has under way (the stopped engine's)."""
        try:
            remove(key, force=True)
            return 1
        except NotFound:
            return 0
        except APIError as e:
            if gone and e.status_code == 409 and "already in progress" in str(e.explanation or e) and gone(key):
                return 1
            problems.append(f"cannot remove {what}: {e.explanation or e}")
            return 0

    def container_gone(cid: str, seconds: float = 30) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                api.inspect_container(cid)
            except NotFound:
                return True
            time.sleep(0.1)  # dockerd has no "removed" wait for a removal someone else started
        return False

    for c in api.containers(all=True, filters=label):
        n += removed(f"container {c['Names'][0].lstrip('/')}", api.remove_container, c["Id"], container_gone)
    for net in api.networks(filters=label):
        deadline = time.monotonic() + 10  # endpoints of just-removed containers linger a moment
        while True:
            try:
                api.remove_network(net["Id"])
                break
            except NotFound:
                break
            except APIError as e:
                attached = _attached(api, net["Id"], name)
                if attached is None:
                    break
                foreign = [n for _, n, ours in attached if not ours]
                if time.monotonic() < deadline and not foreign:  # a stranger's stays: no use waiting
                    for cid, _, ours in attached:
                        if ours:  # one of ours (re)joined it after the list above
                            with contextlib.suppress(NotFound, APIError):
                                api.remove_container(cid, force=True)
                    time.sleep(0.2)
                    continue
                problems.append(f"network {net['Name']} not removed: " + (
                    f"containers kubedeck did not create are attached ({', '.join(foreign)}); "
                    "disconnect them and run `kubedeck down` again" if foreign else str(e.explanation or e)))
                break
    if volumes:
        for vol in api.volumes(filters=label).get("Volumes") or []:
            v += removed(f"volume {vol['Name']}", api.remove_volume, vol["Name"])
    return n, v, problems


def _attached(api, net_id: str, cluster: str) -> list[tuple[str, str, bool]] | None:
    """(id, name, made by this cluster) of each container still on a network; None if
    the network is gone."""
    from docker.errors import NotFound

    from kubedeck.engine.owned import is_ours

    try:
        info = api.inspect_network(net_id)
    except NotFound:
        return None
    out = []
    for cid, c in (info.get("Containers") or {}).items():
        try:
            labels = api.inspect_container(cid)["Config"].get("Labels")
        except NotFound:
            continue
        out.append((cid, c.get("Name", cid[:12]), is_ours(labels, cluster)))
    return out
