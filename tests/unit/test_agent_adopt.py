"""NodeAgent.adopt() makes its Docker calls (listing, removing what no pod owns) on Docker
threads: the event loop keeps serving while a slow daemon answers. No Docker: the
Docker side is a fake that only answers once the loop has run."""

from __future__ import annotations

import asyncio
import inspect
import threading

from kubedeck.engine.agent.agent import NodeAgent


class SlowDocker:
    """Answers the listing only after the loop has ticked (bounded, so a blocked loop
    fails the test instead of hanging it)."""

    def __init__(self) -> None:
        self.loop_ran = threading.Event()
        self.removed: list[tuple[str, bool]] = []
        self.list_on_loop_thread: bool | None = None

    def list_ours_sync(self) -> list[dict]:
        self.list_on_loop_thread = _on_loop_thread()
        self.loop_ran.wait(2)
        return [{"Id": "c-of-a-gone-pod", "Labels": {"io.kubernetes.pod.uid": "gone"}, "State": "running"}]

    def remove_container(self, cid: str, force: bool = False) -> None:
        self.removed.append((cid, _on_loop_thread()))


def _on_loop_thread() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False


async def test_adopt_keeps_the_loop_free_and_removes_orphans_off_it(cluster):
    agent = NodeAgent(cluster.node_context())
    fake = SlowDocker()
    agent.docker.list_ours_sync = fake.list_ours_sync
    agent.docker.api = fake

    async def tick():
        await asyncio.sleep(0)
        fake.loop_ran.set()
    ticker = asyncio.ensure_future(tick())
    result = agent.adopt()
    if inspect.isawaitable(result):
        await result
    await ticker
    assert fake.list_on_loop_thread is False, "the listing ran on the event loop"
    assert fake.removed == [("c-of-a-gone-pod", False)]
    agent.docker.pool.shutdown(wait=False)
