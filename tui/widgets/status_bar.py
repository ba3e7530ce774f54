"""One line at the top: cluster, namespace, view, connection state, manifest errors.

The gaps between the parts are spans of their own (`GAP`, which looks like any space):
Rich's SVG export (Textual screenshots, snapshot tests) then writes each part as a text
run that starts with its first letter. A run that starts with spaces is written with
leading no-break spaces, and a viewer that trims them draws the run one or more cells
to the left: "kubedeck" then " demo" read "kubedeckdemo"."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


GAP = Style(meta={"gap": True})


class StatusBar(Static):
    """Attributes are set by the app; the bar re-renders itself. The connection state is
    the bar's own: `kind_state` takes each informer's, and the bar is red while any is down."""

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

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._down: dict[str, str] = {}  # plural -> why its informer is not connected

    def kind_state(self, plural: str, connected: bool, message: str) -> None:
        if connected:
            self._down.pop(plural, None)
        else:
            self._down[plural] = message
        self.connected = not self._down
        self.message = next(iter(self._down.values()), "")

    def render(self) -> Text:
        text = Text()

        def part(value: str, style: str = "", gap: str = "  ") -> None:
            if text:
                text.append(gap, style=GAP)
            text.append(value, style=style)

        part("kubedeck", "bold")
        if self.cluster:
            part(self.cluster, gap=" ")
        part(f"ns:{self.namespace}")
        part(f"view:{self.view}")
        if not self.connected:
            part("disconnected, retrying", "bold")
            if self.message:
                part(f"({self.message})", gap=" ")
        if self.error_count:
            part(f"{self.error_count} manifest error(s)", "bold")
        if self.forwards:
            part(f"fwd {self.forwards}")
        part("? help")
        return text

    def watch_connected(self, connected: bool) -> None:
        self.set_class(not connected, "-disconnected")
