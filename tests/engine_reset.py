"""Making a used engine look to the next test as a just-started one does, so that the
tests of a module can share one engine (the `shared_engine` marker, tests/conftest.py):
an engine start costs ~1.3 s of CPU and a Docker network, a reset a few API calls.

`FreshState(engine)` notes what the engine holds right after its start: every object
(through API discovery, so a test's CustomResourceDefinition is covered too), the
Nodes' labels, taints and cordon, and the parts of `kubedeck status` a test reads.
`restore(engine)` then:
- empties the manifest folder, and waits for the engine to delete what its files made;
- puts the Nodes' labels, taints and cordon back;
- deletes every object that was not there at the start, each once (owners first; Pods
  with grace 0 and their containers killed, so no pod waits out its grace period, see
  _kill_leaving; Events by the collection), and again what a controller makes anew,
  until none is left, no container of the cluster remains (pods', Service proxies'; but
  see HELPER) and the status parts are as they were (no manifest error, NodePort,
  Ingress host or proxy listener left);
- deletes the cluster's Docker volumes (PVCs' data), which the engine keeps until
  `kubedeck down --volumes`;
- fails, naming it, if an object that was there at the start was changed otherwise
  (then the test that did it needs an engine of its own).
A reset that fails raises: the shared engine is then replaced, never lent out dirty.
"""

from __future__ import annotations

import shutil

from conftest import wait_for

SOURCE = "kubedeck.io/source"  # the annotation on what the folder's files made
#: the parts of `kubedeck status` that hold what tests made
STATUS_PARTS = (("manifestErrors",), ("nodePorts",), ("ingress", "hosts"), ("ingress", "errors"),
                ("proxyWorker", "listeners"))
#: the kernel NodePort helper's role: once a pod has run it stays, with the `kubernetes`
#: Service's route to the API (engine/in_cluster.py), while a fresh engine has none until
#: its first pod; a test that counts the cluster's containers counts it beside its pods
HELPER = "nodeport-kernel"
#: what a test may change on a Node, and the reset puts back
NODE_FIELDS = (("metadata", "labels"), ("spec", "taints"), ("spec", "unschedulable"))


def _dig(obj: dict, path: tuple[str, ...]):
    for key in path:
        obj = (obj or {}).get(key)
    return obj


def _resources(client) -> list[tuple[str, str, bool]]:
    """(API base path, plural, namespaced) of every resource the engine serves now that
    holds objects: it lists and deletes them (not the metrics API's computed ones)."""
    def stored(r: dict) -> bool:
        return "/" not in r["name"] and {"list", "delete"} <= set(r["verbs"])
    out = [("/api/v1", r["name"], r["namespaced"]) for r in client.request("GET", "/api/v1")["resources"]
           if stored(r)]
    for group in client.request("GET", "/apis")["groups"]:
        base = f"/apis/{group['preferredVersion']['groupVersion']}"
        out += [(base, r["name"], r["namespaced"]) for r in client.request("GET", base)["resources"] if stored(r)]
    return out


def _objects(client, resources: list[tuple[str, str, bool]]) -> dict[tuple[str, str, str], dict]:
    """Every object of these resources, by (its collection's path, namespace, name)."""
    from kubedeck.engine.client import ApiError

    out = {}
    for base, plural, namespaced in resources:
        try:
            items = client.request("GET", f"{base}/{plural}")["items"]
        except ApiError as e:
            if e.code == 404:  # a custom resource whose definition was deleted
                continue
            raise
        for obj in items:
            meta = obj["metadata"]
            ns = meta.get("namespace", "") if namespaced else ""
            out[(f"{base}/namespaces/{ns}/{plural}" if ns else f"{base}/{plural}", ns, meta["name"])] = obj
    return out


def _kill_leaving(engine, uids: set[str]) -> None:
    """SIGKILL the running containers of these pods (deleted, not yet gone). A pod whose
    deletion began with its grace period (the folder's, the garbage collector's) waits
    it out in `docker stop` even after a delete with grace 0; the kill ends that stop."""
    import docker

    api = engine.docker.api
    for c in api.containers(filters={"label": f"io.kubedeck.cluster={engine.name}", "status": "running"}):
        if c["Labels"].get("io.kubernetes.pod.uid") in uids:
            try:
                api.kill(c["Id"])
            except docker.errors.APIError as e:  # gone, or no longer running: what was wanted
                if e.status_code not in (404, 409):
                    raise


class FreshState:
    """What `engine` holds just after its start (see the module's docstring)."""

    def __init__(self, engine):
        self.objects = {key: obj["metadata"]["resourceVersion"]
                        for key, obj in _objects(engine.client, _resources(engine.client)).items()
                        if not key[0].endswith("/nodes")}
        self.nodes = {n["metadata"]["name"]: {f: _dig(n, f) for f in NODE_FIELDS}
                      for n in engine.client.list("Node")}
        status = engine.client.status()
        self.status = {part: _dig(status, part) for part in STATUS_PARTS}

    def restore(self, engine) -> None:
        if engine.proc.poll() is not None:
            raise AssertionError(f"the shared engine exited ({engine.proc.returncode}):\n{engine.log_tail()}")
        for entry in engine.folder.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        # discovery once: a test's custom resources are served until the reset deletes them
        resources = _resources(engine.client)

        def folder_synced() -> bool:  # so no apply of a file read before it went comes after the loop below
            return not engine.client.status()["manifestErrors"] and not [
                key for key, obj in _objects(engine.client, resources).items()
                if SOURCE in (obj["metadata"].get("annotations") or {}) and not obj["metadata"].get("deletionTimestamp")]
        wait_for(folder_synced, 30, interval=0.1, what="the engine to delete what the folder's files made")
        self._restore_nodes(engine.client)
        asked: set[str] = set()  # uids whose deletion was asked for: once each
        left: list = []

        def delete(path: str, **params) -> None:
            response = engine.client.http.delete(path, params=params)
            if response.status_code not in (200, 202, 404):
                raise AssertionError(f"deleting {path}: {response.status_code} {response.text}")

        def clean() -> bool:
            left[:] = []
            extra = [(path, name, obj) for (path, ns, name), obj in _objects(engine.client, resources).items()
                     if (path, ns, name) not in self.objects and not path.endswith("/nodes")]
            left.extend(f"{path}/{name}" for path, name, _ in extra)
            # owners before their pods (a ReplicaSet would replace a pod deleted first);
            # Events by the collection (a fresh engine has none: one request, not dozens)
            for path in sorted({path for path, _, _ in extra if path.endswith("/events")}):
                delete(path)
            for path, name, obj in sorted(extra, key=lambda e: e[0].endswith("/pods")):
                uid = obj["metadata"]["uid"]
                if uid not in asked and not path.endswith("/events"):
                    asked.add(uid)
                    delete(f"{path}/{name}", **({"gracePeriodSeconds": 0} if path.endswith("/pods") else {}))
            _kill_leaving(engine, {p["metadata"]["uid"] for p in engine.client.list("Pod")
                                   if p["metadata"].get("deletionTimestamp")})
            containers = [c.name for c in engine.containers() if c.labels.get("io.kubedeck.role") != HELPER]
            status = engine.client.status()
            changed = {part: _dig(status, part) for part in STATUS_PARTS
                       if _dig(status, part) != self.status[part]}
            left.extend(containers + [f"status {'.'.join(p)}: {v}" for p, v in changed.items()])
            return not left
        try:
            wait_for(clean, 60, interval=0.2, what="the shared engine to be as fresh")
        except AssertionError as e:
            raise AssertionError(f"{e}; still there: {left}") from None
        label = f"io.kubedeck.cluster={engine.name}"
        for volume in engine.docker.volumes.list(filters={"label": label}):
            volume.remove(force=True)
        now = {key: obj["metadata"]["resourceVersion"] for key, obj in _objects(engine.client, resources).items()
               if not key[0].endswith("/nodes")}
        changed = sorted(f"{path}/{name}" for (path, ns, name), rv in self.objects.items() if now.get((path, ns, name)) != rv)
        assert not changed, f"the test changed what it may not in a shared engine: {changed}"

    def _restore_nodes(self, client) -> None:
        for name, fields in self.nodes.items():
            node = client.get("Node", "", name)
            if all(_dig(node, f) == want for f, want in fields.items()):
                continue
            labels = {k: None for k in node["metadata"].get("labels") or {}} | (fields[NODE_FIELDS[0]] or {})
            client.patch("Node", "", name, {"metadata": {"labels": labels},
                                            "spec": {"taints": fields[NODE_FIELDS[1]],
                                                     "unschedulable": fields[NODE_FIELDS[2]]}})
