"""The first frame held back until the first screen's data is there.

Before the pods are listed, Textual lays out and draws the empty panes several times
(each focus move, footer rebuild, status change), ~40 % of the start's CPU, and shows
nothing of use. `FirstFrame` holds every frame with Textual's `batch_update` until
`show()` (the app calls it when the main table's kind is listed) or `wait` seconds,
whichever comes first, then repaints the whole screen once. `on_show` runs once that
frame is out (Textual's `call_after_refresh`): what it starts (the other panes' lists,
their connections' TLS handshakes, metrics) would otherwise run before the frame is drawn.
`shown` is set then too: the informers listed before it start their watches on it (the
first stream request also imports httpcore's async backend, anyio: ~30 ms).

`MainScreen` is the app's default screen. Textual restyles every node of a screen each
time it becomes the current one; at start-up that repeats, before the first frame, what
mounting has just done (each widget is styled as it is registered, after its class's
DEFAULT_CSS, scoped to it and its children, has joined the stylesheet). That was half of
the start's CSS work: each of the three tables is 10 applies (itself and one per component
class). Only that first restyle is skipped; a return from a modal screen restyles as ever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import ExitStack

from textual import events
from textual.app import App
from textual.screen import Screen


class MainScreen(Screen):
    AUTO_FOCUS = "#main"  # not Textual's first focusable (the hidden prompt), restyled when it loses focus
    _styled = False  # by mounting: the first resume need not restyle

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        # runs before Screen's own handler, which reads the flag
        if not self._styled:
            self._styled = True
            event.refresh_styles = False


class FirstFrame:
    def __init__(self, app: App, wait: float, on_show: Callable[[], None]) -> None:
        self._app = app
        self._on_show = on_show
        self.shown = asyncio.Event()
        self._held: ExitStack | None = ExitStack()
        self._held.enter_context(app.batch_update())
        app.set_timer(wait, self.show)

    def show(self) -> None:
        if self._held is None:
            return
        self._held.close()
        self._held = None
        if not self._app.screen_stack:  # the app quit before its first frame (its timer fired during the exit)
            return
        self._app.screen.refresh()
        self._app.call_after_refresh(self._out)

    def _out(self) -> None:
        self.shown.set()
        self._on_show()
