"""Textual's `Footer`, recomposed only when the keys it shows change.

`Footer` rebuilds itself (removes every `FooterKey` and mounts new ones, each styled
anew) on every `bindings_updated` signal of its screen: each focus move, screen push or
pop, app focus change. Most of those leave the shown keys as they were, and before the
first frame of `kubedeck ui` there are ~8 of them: the rebuilds were ~15 % of the
start-up's CPU. `KeyFooter` keeps Footer's layout and behaviour and lets a signal
through only when the keys to show (key, action, description, enabled, tooltip) differ
from those of the last rebuild it asked for; a later change asks again, and the rebuild
reads the bindings as they are then.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._keys_asked: tuple | None = None

    @staticmethod
    def shown_keys(screen: Screen) -> tuple:
        return tuple(
            (binding.key, binding.action, binding.description, binding.group, enabled, tooltip)
            for _node, binding, enabled, tooltip in screen.active_bindings.values()
            if binding.show
        )

    def bindings_changed(self, screen: Screen) -> None:
        # Footer.bindings_changed's own conditions for a rebuild; only those record the keys
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            keys = self.shown_keys(screen)
            if keys == self._keys_asked:
                return
            self._keys_asked = keys
        super().bindings_changed(screen)
