"""The bottom-line prompt for `:` commands (with completion) and `/` filters."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Input


class Prompt(Input):
    """Hidden until `open()`; posts `Done(mode, value, target, context)`, value None when
    cancelled. What it was opened for travels with the message (`target`: the widget that
    had focus and gets it back, `context`: the opener's own), so no one keeps it meanwhile.
    It is a line of the screen's own layout, above the footer (docked at the bottom as
    well, the footer would cover it)."""

    DEFAULT_CSS = """
    Prompt { height: 1; border: none; padding: 0 1; background: $panel; display: none; }
    Prompt:focus { border: none; }
    Prompt.-open { display: block; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("tab", "complete", "Complete", show=False),
    ]

    class Done(Message):
        def __init__(self, mode: str, value: str | None, target: Widget | None = None,
                     context: object = None) -> None:
            super().__init__()
            self.mode = mode
            self.value = value  # None when cancelled
            self.target = target
            self.context = context

    def __init__(self, commands: list[str], *, id: str | None = None) -> None:
        super().__init__(id=id, compact=True)
        self.commands = commands
        self.mode = ":"
        self.target: Widget | None = None
        self.context: object = None
        self._command_suggester = SuggestFromList(commands, case_sensitive=False)

    def open(self, mode: str, value: str = "", *, placeholder: str | None = None,
             target: Widget | None = None, context: object = None) -> None:
        """Show the prompt; the placeholder says what Enter will do (filter rows, search
        the logs, switch view)."""
        self.mode, self.target, self.context = mode, target, context
        self.suggester = self._command_suggester if mode == ":" else None
        self.placeholder = placeholder or {
            ":": "view (pods, deploy, svc, ...)",
            "f": "port-forward LOCAL:REMOTE (:REMOTE for any free local port)",
        }.get(mode, "filter rows: name, status, reason or message, or -l key=value")
        self.value = value
        self.add_class("-open")
        self.focus()

    def close(self) -> None:
        self.remove_class("-open")

    def completion(self) -> str | None:
        """The unique command starting with what is typed, if any."""
        typed = self.value.strip().lower()
        matches = [c for c in self.commands if c.startswith(typed)] if typed else []
        return matches[0] if matches else None

    def action_complete(self) -> None:
        if self.mode == ":":
            match = self.completion()
            if match:
                self.value = match
                self.cursor_position = len(match)

    def action_cancel(self) -> None:
        self.close()
        self.post_message(self.Done(self.mode, None, self.target, self.context))

    async def action_submit(self) -> None:
        self.close()
        self.post_message(self.Done(self.mode, self.value, self.target, self.context))
