"""Open a backend connection with a timeout, without ever cancelling the event loop's own
connect.

Why not `asyncio.wait_for(loop.create_connection(...))`: under uvloop, cancelling a
pending connect can close a descriptor twice (MagicStack/uvloop#738, and a double free
seen here under rollout churn), which later kills an unrelated connection or aborts the
process. Why not connect a socket of our own (`add_writer`) and hand it over with
`create_connection(sock=...)`: libuv would then hold a poll handle and a TCP handle on
the same descriptor for a moment, which corrupts its state ("double free or corruption"
in a rolling update). So the loop connects by itself, and a connect that is not wanted
any more (timed out, or our caller went away) is left to finish on its own and closed.
"""

from __future__ import annotations

import asyncio


def _discard(task: asyncio.Task) -> None:
    """A connect nobody waits for any more: close it if it succeeded, swallow its error."""
    if task.cancelled():
        return
    if task.exception() is None:
        task.result()[0].close()


async def open_connection(loop: asyncio.AbstractEventLoop, factory, target: tuple[str, int], timeout: float):
    """(transport, protocol) connected to target, or OSError / TimeoutError."""
    task = loop.create_task(loop.create_connection(factory, *target))
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except BaseException:  # our caller was cancelled: the connect runs on, then is closed
        task.add_done_callback(_discard)
        raise
    if not done:
        task.add_done_callback(_discard)
        raise TimeoutError(f"connect to {target[0]}:{target[1]} timed out")
    return task.result()
