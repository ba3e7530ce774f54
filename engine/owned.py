"""Only what kubedeck made: the label check before every delete by name.

Docker names are not ownership. kubedeck names its containers predictably
(`k8s_svc_<svc>_<ns>_<cluster>`, `k8s_nodeports_<cluster>`, `k8s_<c>_<pod>_<ns>_<uid>_<n>`),
and a user's container may carry one of those names by chance or by copy. Every object
kubedeck creates carries `io.kubedeck.cluster=<cluster>`, so a delete that starts from a
name inspects first and removes only a container with this cluster's label, by its id
(so a name that changed hands between the inspect and the remove cannot take the other
one). Deletes that start from a list filtered by that label are already safe.

A container with one of our names that is not ours is `NotOurs`, a Docker APIError, so
the callers' existing handling (an Event, a waiting reason, a logged error) shows it:
the user reads which container is in the way, and nothing of theirs is gone.
"""

from __future__ import annotations

from docker.errors import APIError, NotFound

from .labels import L_CLUSTER


def docker_unreachable(e: BaseException) -> bool:
    """A failure to talk to Docker at all (socket gone, connection cut), not a refusal:
    what a retry once Docker is back fixes."""
    import requests

    return isinstance(e, (requests.exceptions.ConnectionError, ConnectionError, FileNotFoundError))


class NotOurs(APIError):
    """A Docker object in the way that kubedeck did not create: never removed."""

    def __init__(self, what: str, cluster: str):
        super().__init__(f"{what} exists but was not created by kubedeck cluster {cluster!r} "
                         f"(no {L_CLUSTER}={cluster} label): not removed; remove or rename it yourself")


def is_ours(labels: dict | None, cluster: str) -> bool:
    return (labels or {}).get(L_CLUSTER) == cluster


def remove_container(api, ref: str, cluster: str) -> bool:
    """Remove the container `ref` (a name or an id) if this cluster made it. False when
    there is none; NotOurs when there is one we did not make."""
    try:
        info = api.inspect_container(ref)
    except NotFound:
        return False
    if not is_ours((info.get("Config") or {}).get("Labels"), cluster):
        raise NotOurs(f"a container named {info.get('Name', ref).lstrip('/')!r}", cluster)
    try:
        api.remove_container(info["Id"], force=True)
    except NotFound:
        return False
    return True
