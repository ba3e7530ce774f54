"""One line at the top: cluster, namespace, view, connection state, manifest errors."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class StatusBar(Static):
    """Attributes are set by the app; the bar re-renders itself."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    StatusBar.-disconnected { background: $error; color: $text; }
    """

    cluster: reactive[str] = reactive("")
    namespace: reactive[str] = reactive("all")
    view: reactive[str] = reactive("pods")
    connected: reactive[bool] = reactive(True)
    message: reactive[str] = reactive("")
    error_count: reactive[int] = reactive(0)
    forwards: reactive[str] = reactive("")

    def render(self) -> Text:
        text = Text()
        text.append("kubedeck", style="bold")
        if self.cluster:
            text.append(f" {self.cluster}")
        text.append(f"  ns:{self.namespace}  view:{self.view}")
        if not self.connected:
            text.append("  disconnected, retrying", style="bold")
            if self.message:
                text.append(f" ({self.message})")
        if self.error_count:
            text.append(f"  {self.error_count} manifest error(s)", style="bold")
        if self.forwards:
            text.append(f"  fwd {self.forwards}")
        text.append("  ? help")
        return text

    def watch_connected(self, connected: bool) -> None:
        self.set_class(not connected, "-disconnected")
