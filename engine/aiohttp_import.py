"""aiohttp imported without loading the system CA bundle on the way to the API.

aiohttp builds its two default client SSL contexts when `aiohttp.connector` is imported,
and each reads the system CA bundle (~50 ms apiece here): a fifth of `kubedeck serve`'s
start before its API answers. The engine's server never uses them (its own clients pass
contexts built from the state dir's or the kubeconfig's CA), but some library path might,
so the bundle is not skipped, only held back: `import_web()` imports aiohttp with
`set_default_verify_paths` recorded instead of run, and `load_held()` runs it on those
contexts later (the engine calls it on its import thread, once the API listens).
"""

from __future__ import annotations

import ssl
import sys
import threading

_held: list[ssl.SSLContext] = []
_lock = threading.Lock()


def import_web() -> None:
    """Import aiohttp.web, holding back the CA loads of contexts made meanwhile. Call it
    before anything else imports aiohttp, on the main thread at start-up."""
    if "aiohttp" in sys.modules:
        return
    real = ssl.SSLContext.set_default_verify_paths

    def hold(ctx: ssl.SSLContext) -> None:
        with _lock:
            _held.append(ctx)
    ssl.SSLContext.set_default_verify_paths = hold  # type: ignore[method-assign]
    try:
        import aiohttp.web  # noqa: F401
    finally:
        ssl.SSLContext.set_default_verify_paths = real  # type: ignore[method-assign]


def load_held() -> int:
    """Load the system CAs into the contexts whose load was held back; how many."""
    with _lock:
        held, _held[:] = list(_held), []
    for ctx in held:
        ctx.set_default_verify_paths()
    return len(held)
