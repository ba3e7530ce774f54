"""What each `kubedeck` subcommand does. Cluster commands talk to the API only."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import yaml

from kubedeck.engine.client import ApiError, Client, NotRunning
from kubedeck.engine.labels import A_STOPPED
from kubedeck.engine.manifests.kinds import KINDS
from kubedeck.engine.state import state_dir

from . import printers
from .errors import UserError


def run(args) -> int:
    if getattr(args, "context", None) or getattr(args, "kubeconfig", None):
        return _run_remote(args)
    state = state_dir(args.state)
    handler = globals()[f"cmd_{args.cmd.replace('-', '_')}"]
    try:
        return handler(args, state)
    except NotRunning as e:
        raise UserError(str(e)) from None
    except ApiError as e:
        raise UserError(f"{e.message} ({e.code} {e.reason})") from None


def _run_remote(args) -> int:
    """`ui`/`up` on any cluster by kubeconfig context (cli/remote.py)."""
    from . import remote

    if args.cmd not in ("ui", "up"):
        raise UserError(f"--context works with `ui` and `up`; for `{args.cmd}` use kubectl --context")
    try:
        return getattr(remote, f"cmd_{args.cmd}")(args)
    except remote.UserError as e:
        raise UserError(str(e)) from None


def resolve_kind(name: str) -> str:
    from kubedeck.engine.present.resources import resolve

    rk = resolve(name)
    if rk:
        return rk.kind
    low = name.lower()
    for kind, info in KINDS.items():
        if low in (kind.lower(), info.plural, info.plural.rstrip("s")):
            return kind
    raise UserError(f'the server doesn\'t have a resource type "{name}"')


def _ns(args) -> str | None:
    if getattr(args, "all_namespaces", False):
        return None
    return args.namespace or "default"


def _target(text: str, default_kind: str = "Deployment") -> tuple[str, str]:
    if "/" in text:
        k, n = text.split("/", 1)
        return resolve_kind(k), n
    return default_kind, text


# ---- engine -------------------------------------------------------------------------
def cmd_serve(args, state: Path) -> int:
    from .serve import serve

    return serve(args, state)


def cmd_up(args, state: Path) -> int:
    from .serve import ensure_running

    conn = ensure_running(args, state)
    if args.no_ui:
        print(f"kubedeck cluster running: API {conn['url']} (state {state})")
        return 0
    return _open_ui(conn, args.theme)


def _open_ui(conn: dict, theme: str | None) -> int:
    from kubedeck.tui.app import run_tui

    return run_tui(api_url=conn["url"], token=conn["token"], ca=conn.get("ca"), theme=theme)


def cmd_down(args, state: Path) -> int:
    from .serve import down

    return down(state, volumes=args.volumes)


def cmd_backup(args, state: Path) -> int:
    from .backup import backup

    return backup(state, Path(args.file))


def cmd_restore(args, state: Path) -> int:
    from .backup import restore

    return restore(state, Path(args.file), force=args.force)


# ---- manifests ----------------------------------------------------------------------
def cmd_validate(args, state: Path) -> int:
    from kubedeck.engine.manifests.validate import load_and_validate

    for p in args.paths:
        if not Path(p).exists() and not Path(p).is_symlink():
            raise UserError(f'the path "{p}" does not exist')
    docs, errors = load_and_validate(args.paths)
    docs, refused = _pod_security(docs, args.paths, allow=args.allow_privileged)
    errors = errors + refused
    hard = [e for e in errors if e.severity == "error"]
    for e in errors:
        print(("warning: " if e.severity != "error" else "") + str(e), file=sys.stderr)
    print(f"{len(docs)} object(s) valid, {len(hard)} error(s)")
    return 1 if hard else 0


def _pod_security(docs, paths, *, allow: bool):
    """What a cluster serving these paths refuses by default (the Pod Security baseline;
    a hostPath must lie in the folder): (accepted docs, file:line field errors)."""
    from kubedeck.engine.manifests.errors import ManifestError
    from kubedeck.engine.podsecurity import HINT, check_object, field_path

    folders = [Path(p).resolve() if Path(p).is_dir() else Path(p).resolve().parent for p in paths]
    ok, refused = [], []
    for doc in docs:
        folder = next((f for f in folders if Path(doc.file).resolve().is_relative_to(f)), None)
        found = check_object(doc.obj, manifest_folder=folder, allow_privileged=allow)
        refused += [ManifestError(doc.file, doc.line_of(field_path(where)), doc.object_name, where,
                                  f"{message} ({HINT})") for where, message in found]
        if not found:
            ok.append(doc)
    return ok, refused


def cmd_apply(args, state: Path) -> int:
    """Server-side apply of each document (field manager `kubedeck`, forcing conflicts, as
    `kubectl apply --server-side --force-conflicts`): one request per object, so a
    controller's status write in between cannot make it fail with a 409."""
    from kubedeck.engine.paths import path_for
    from kubedeck.engine.manifests.kinds import group_of
    from kubedeck.engine.manifests.validate import load_and_validate

    docs, errors = load_and_validate(args.filename)
    hard = [e for e in errors if e.severity == "error"]
    for e in errors:
        print(("warning: " if e.severity != "error" else "error: ") + str(e), file=sys.stderr)
    client = Client.for_state(state)
    for doc in docs:
        obj = doc.obj
        meta = obj.setdefault("metadata", {})
        kind, name = obj["kind"], meta["name"]
        ns = meta.setdefault("namespace", "default") if KINDS.get(kind, (0, 0, True))[2] else None
        try:
            before = client.get(kind, ns or "", name)["metadata"]["resourceVersion"]
        except ApiError as e:
            if e.code != 404:
                raise
            before = None
        after = client.request("PATCH", path_for(kind, ns, name), content=json.dumps(obj),
                               params={"fieldManager": "kubedeck", "force": "true"},
                               headers={"Content-Type": "application/apply-patch+yaml"})
        verb = "created" if before is None else \
            "unchanged" if after["metadata"]["resourceVersion"] == before else "configured"
        group = group_of(KINDS[kind].api_version) if kind in KINDS else ""
        print(f"{kind.lower()}{'.' + group if group else ''}/{name} {verb}")
    return 1 if hard else 0


# ---- reads --------------------------------------------------------------------------
def cmd_get(args, state: Path) -> int:
    client = Client.for_state(state)
    if args.kind in ("events", "event", "ev"):
        args.kind = "events"
    kind = resolve_kind(args.kind)
    ns = _ns(args) if KINDS[kind].namespaced else None
    if args.name:
        items = [client.get(kind, ns or "default", args.name)]
    else:
        items = client.list(kind, ns, args.selector)
    if args.output in ("yaml", "json"):
        out = items[0] if args.name else {"apiVersion": "v1", "kind": "List", "items": items}
        print(yaml.safe_dump(out, sort_keys=False) if args.output == "yaml" else json.dumps(out, indent=2))
        return 0
    if args.output == "name":
        for o in items:
            print(f"{kind.lower()}/{o['metadata']['name']}")
        return 0
    if not items:
        print(f"No resources found in {ns} namespace." if ns else "No resources found", file=sys.stderr)
    else:
        print(printers.table(kind, items, all_namespaces=ns is None and KINDS[kind].namespaced,
                             wide=args.output == "wide"))
    if args.watch:
        for _etype, obj in client.watch(kind, ns):
            print(printers.table(kind, [obj], all_namespaces=ns is None, wide=args.output == "wide",
                                 headers=False))
    return 0


def cmd_describe(args, state: Path) -> int:
    client = Client.for_state(state)
    kind = resolve_kind(args.kind)
    ns = args.namespace or "default"
    obj = client.get(kind, ns, args.name)
    events = client.list("Event", ns if KINDS[kind].namespaced else None)
    print(printers.describe(obj, events))
    return 0


def cmd_delete(args, state: Path) -> int:
    client = Client.for_state(state)
    kind = resolve_kind(args.kind)
    grace = 0 if args.force and args.grace_period is None else args.grace_period
    client.delete(kind, args.namespace or "default", args.name, grace=grace)
    print(f'{kind.lower()} "{args.name}" deleted')
    return 0


def cmd_logs(args, state: Path) -> int:
    client = Client.for_state(state)
    out = sys.stdout.buffer
    for chunk in client.logs(args.namespace or "default", args.pod, container=args.container,
                             follow=args.follow, tail=args.tail, timestamps=args.timestamps,
                             previous=args.previous):
        out.write(chunk)
        out.flush()
    return 0


def cmd_exec(args, state: Path) -> int:
    import asyncio

    from kubedeck.engine.exec_client import run_exec
    from kubedeck.engine.state import read_connection

    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        raise UserError("you must specify a command: kubedeck exec POD -- CMD [ARGS...]")
    Client.for_state(state).close()
    conn = read_connection(state)
    return asyncio.run(run_exec(conn["url"], conn["token"], args.namespace or "default", args.pod, cmd,
                                container=args.container, stdin=args.stdin, tty=args.tty, ca=conn.get("ca")))


def cmd_port_forward(args, state: Path) -> int:
    import asyncio

    from kubedeck.engine.forward import Forwarder
    from kubedeck.engine.state import read_connection

    kind, name = _target(args.target, default_kind="Pod")
    if kind not in ("Pod", "Service", "Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"):
        raise UserError(f"cannot port-forward to a {kind}")
    Client.for_state(state).close()
    conn = read_connection(state)

    async def run() -> int:
        fwds = []
        for spec in args.ports:
            local, _, remote = spec.rpartition(":") if ":" in spec else (spec, "", spec)
            f = Forwarder(url=conn["url"], token=conn["token"], ca=conn.get("ca"), kind=kind, namespace=args.namespace or "default",
                          name=name, remote_port=int(remote), local_port=int(local or 0), address=args.address)
            try:
                port = await f.start()
            except OSError as e:
                raise UserError(f"unable to listen on port {local}: {e.strerror or e}") from None
            print(f"Forwarding from {args.address}:{port} -> {remote}", flush=True)
            fwds.append(f)
        try:
            await asyncio.Event().wait()
        finally:
            for f in fwds:
                await f.stop()
        return 0
    return asyncio.run(run())


# ---- changes --------------------------------------------------------------------------
def cmd_scale(args, state: Path) -> int:
    client = Client.for_state(state)
    kind, name = _target(args.target)
    client.patch(kind, args.namespace or "default", name, {"spec": {"replicas": args.replicas}})
    print(f"{kind.lower()}.apps/{name} scaled")
    return 0


def cmd_rollout(args, state: Path) -> int:
    client = Client.for_state(state)
    kind, name = _target(args.target)
    ns = args.namespace or "default"
    if args.action == "restart":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        client.patch(kind, ns, name, {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": stamp}}}}})
        print(f"{kind.lower()}.apps/{name} restarted")
        return 0
    if args.action == "status":
        return printers.rollout_status(client, kind, ns, name, args.timeout)
    if args.action == "history":
        print(printers.rollout_history(client, ns, name))
        return 0
    return printers.rollout_undo(client, ns, name)


# ---- nodes ----------------------------------------------------------------------------
def _node_patch(state: Path, node: str, patch: dict) -> dict:
    client = Client.for_state(state)
    try:
        return client.patch("Node", "", node, patch)
    except ApiError as e:
        if e.code == 404:
            raise UserError(f'nodes "{node}" not found') from None
        raise


def cmd_cordon(args, state: Path) -> int:
    _node_patch(state, args.node, {"spec": {"unschedulable": True}})
    print(f"node/{args.node} cordoned")
    return 0


def cmd_uncordon(args, state: Path) -> int:
    _node_patch(state, args.node, {"spec": {"unschedulable": None}})
    print(f"node/{args.node} uncordoned")
    return 0


def cmd_drain(args, state: Path) -> int:
    """kubectl drain: cordon, then evict every pod on the node but DaemonSet pods."""
    client = Client.for_state(state)
    _node_patch(state, args.node, {"spec": {"unschedulable": True}})
    print(f"node/{args.node} cordoned")
    pods = [p for p in client.list("Pod") if p["spec"].get("nodeName") == args.node]
    owner = lambda p: next((r for r in p["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
    daemons = [p for p in pods if (owner(p) or {}).get("kind") == "DaemonSet"]
    evict = [p for p in pods if p not in daemons]
    bare = [p for p in evict if owner(p) is None]
    if bare and not args.force:
        names = ", ".join(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in bare)
        raise UserError(f"cannot delete Pods that declare no controller (use --force to override): {names}")
    if daemons:
        names = ", ".join(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in daemons)
        print(f"Warning: ignoring DaemonSet-managed Pods: {names}")
    for p in evict:
        meta = p["metadata"]
        print(f"evicting pod {meta['namespace']}/{meta['name']}")
        try:
            client.delete("Pod", meta["namespace"], meta["name"], grace=args.grace_period)
        except ApiError as e:
            if e.code != 404:
                raise
    deadline = time.monotonic() + args.timeout
    uids = {p["metadata"]["uid"] for p in evict}
    while True:
        left = [p for p in client.list("Pod") if p["metadata"]["uid"] in uids]
        if not left:
            break
        if time.monotonic() > deadline:
            raise UserError(f"drain did not complete within {args.timeout:g}s: "
                            f"{len(left)} pod(s) still terminating")
        time.sleep(0.2)
    for p in evict:
        print(f"pod/{p['metadata']['name']} evicted")
    print(f"node/{args.node} drained")
    return 0


def cmd_node(args, state: Path) -> int:
    """Simulate a node failure (stop) and its recovery (start)."""
    value = "true" if args.action == "stop" else None
    _node_patch(state, args.node, {"metadata": {"annotations": {A_STOPPED: value}}})
    if args.action == "stop":
        print(f"node/{args.node} stopped: NotReady now; its pods are evicted after the eviction timeout")
    else:
        print(f"node/{args.node} started")
    return 0


def cmd_ip(args, state: Path) -> int:
    """The node's InternalIP, where `<node IP>:<nodePort>` answers, as `minikube ip` prints."""
    client = Client.for_state(state)
    nodes = [client.get("Node", "", args.node)] if args.node else client.list("Node")
    if not nodes:
        raise UserError("the cluster has no nodes yet")
    addrs = (nodes[0].get("status") or {}).get("addresses") or []
    print(next((a["address"] for a in addrs if a.get("type") == "InternalIP"), "127.0.0.1"))
    return 0
