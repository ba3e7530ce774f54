"""The first frame held back until the first screen's data is there.

Before the pods are listed, Textual lays out and draws the empty panes several times
(each focus move, footer rebuild, status change), ~40 % of the start's CPU, and shows
nothing of use. `FirstFrame` holds every frame with Textual's `batch_update` until
`show()` (the app calls it when the main table's kind is listed) or `wait` seconds,
whichever comes first, then repaints the whole screen once.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack

from textual.app import App


class FirstFrame:
    def __init__(self, app: App, wait: float, on_show: Callable[[], None]) -> None:
        self._app = app
        self._on_show = on_show
        self._held: ExitStack | None = ExitStack()
        self._held.enter_context(app.batch_update())
        app.set_timer(wait, self.show)

    def show(self) -> None:
        if self._held is None:
            return
        self._held.close()
        self._held = None
        self._app.screen.refresh()
        self._on_show()
