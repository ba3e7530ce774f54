"""The x-ray and journey entry points of `KubedeckApp`: `:xray` and `J` (a mixin, so
app.py only lists it among its bases and binds the key).

`J` rather than the issue's `j`: `j` moves down in every table (vim), as k9s users
expect; `J` is free everywhere but the logs pane, where it keeps its JSON meaning.
"""

from __future__ import annotations

COMMANDS = ("xray",)


class XrayMixin:
    """Needs `self.current_table()` and `self.push_screen`."""

    def xray_command(self, word: str) -> bool:
        """Run `:xray`; False when `word` is not one of ours."""
        if word not in COMMANDS:
            return False
        self.action_xray()
        return True

    def action_xray(self) -> None:
        from .xray import XrayScreen  # the screens load when first opened, not at start-up

        self.push_screen(XrayScreen())

    def action_journey(self) -> None:
        table = self.current_table()
        obj = table.selected_object()
        if obj is None:
            self.notify("select an object to see its journey", severity="warning")
            return
        meta = obj.get("metadata", {})
        self.open_journey(table.kind.kind, meta.get("namespace", "") if table.kind.namespaced else "",
                          meta.get("name", ""))

    def open_journey(self, kind: str, namespace: str, name: str) -> None:
        from .journey import JourneyScreen

        self.push_screen(JourneyScreen(kind, namespace, name))
