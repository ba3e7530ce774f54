"""docker_keepalive on the real daemon: plain calls share one pool of kept-alive
connections, and the calls that take their connection over (exec start, logs) keep
pools of their own and leave the shared one usable."""

from __future__ import annotations

import uuid

import docker

from kubedeck.engine.agent.docker_keepalive import SHARED, share_connections


def test_plain_calls_share_kept_alive_connections_and_exec_does_not_take_one(docker_client, monkeypatch):
    from docker.transport.unixconn import UnixHTTPConnection

    opened = []
    real_connect = UnixHTTPConnection.connect
    monkeypatch.setattr(UnixHTTPConnection, "connect", lambda self: (opened.append(self), real_connect(self))[1])
    api = docker.from_env().api
    share_connections(api)
    before = len(opened)  # docker-py's own: asking the daemon's API version
    tag = f"kdtest-keepalive-{uuid.uuid4().hex[:6]}"
    try:
        ids = []
        for i in range(4):
            c = api.create_container("busybox:1.36", name=f"{tag}-{i}", command=["sleep", "60"],
                                     labels={"io.kubedeck.cluster": tag})
            api.start(c["Id"])
            ids.append(c["Id"])
        for cid in ids * 2:
            assert api.inspect_container(cid)["State"]["Running"]
        adapter = api.adapters["http+docker://"]
        assert list(adapter.pools.keys()) == [SHARED]  # 4 creates, 4 starts, 8 inspects: one pool
        assert len(opened) - before == 1  # one after the other: one connection, kept alive

        ex = api.exec_create(ids[0], ["echo", "hello"])
        assert api.exec_start(ex["Id"]).strip() == b"hello"
        assert api.logs(ids[1]) == b""
        assert len(adapter.pools.keys()) == 3  # the exec's start and the logs: pools of their own
        assert api.exec_inspect(ex["Id"])["ExitCode"] == 0  # the shared pool still answers
        assert all(api.inspect_container(cid)["State"]["Running"] for cid in ids)
        assert len(opened) - before == 3  # the exec's and the logs' own, and still the one shared
    finally:
        for c in api.containers(all=True, filters={"label": f"io.kubedeck.cluster={tag}"}):
            api.remove_container(c["Id"], force=True)
        api.close()
