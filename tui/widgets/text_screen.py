"""A full-screen scrollable text view for describe, YAML and revealed secrets.

A view of a Secret gets a `reveal` callable: `x` replaces the masked text with what it
returns (the values decoded), so a Secret is revealed where it is being read."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from .key_footer import KeyFooter


class TextScreen(ModalScreen[None]):
    """Read-only text; `escape` or `q` closes, j/k and arrows scroll."""

    DEFAULT_CSS = """
    TextScreen { background: $background 60%; }
    TextScreen > #text-title { height: 1; background: $primary; color: $text; padding: 0 1; }
    TextScreen > VerticalScroll { background: $surface; padding: 0 1; }
    """

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("x", "reveal", "Reveal"),
        Binding("j", "scroll(1)", "Down", show=False),
        Binding("k", "scroll(-1)", "Up", show=False),
    ]

    def __init__(self, title: str, body: str, *, reveal: Callable[[], str] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.reveal = reveal
        self.revealed = False

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, id="text-title", markup=False)
        with VerticalScroll():
            yield Static(Text(self.body), id="text-body")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_scroll(self, lines: int) -> None:
        scroller = self.query_one(VerticalScroll)
        scroller.scroll_relative(y=lines, animate=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action != "reveal":
            return True
        if self.reveal is None:
            return False  # not a Secret: the key goes on to the app
        return None if self.revealed else True  # shown dimmed once revealed

    def action_reveal(self) -> None:
        self.body = self.reveal()
        self.revealed = True
        self.title_text += " (revealed)"
        self.query_one("#text-title", Static).update(self.title_text)
        self.query_one("#text-body", Static).update(Text(self.body))
        self.refresh_bindings()

    def action_close(self) -> None:
        self.dismiss(None)
