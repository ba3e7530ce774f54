"""The TUI's parts that own their state, without an app: the status bar's connection
state, the manifest-error area and the prompt's round trip."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Static

from kubedeck.tui.widgets.manifest_errors import ManifestErrors
from kubedeck.tui.widgets.prompt import Prompt
from kubedeck.tui.widgets.status_bar import StatusBar


def test_status_bar_is_down_while_any_kind_is():
    bar = StatusBar()
    bar.kind_state("pods", False, "pods: connection refused")
    bar.kind_state("nodes", False, "nodes: connection refused")
    bar.kind_state("pods", True, "")
    assert (bar.connected, bar.message) == (False, "nodes: connection refused")
    bar.kind_state("nodes", True, "")
    assert (bar.connected, bar.message) == (True, "")


def test_manifest_errors_show_three_and_count_the_rest():
    area = ManifestErrors()
    errors = [{"file": f"f{i}.yaml", "line": i + 1, "message": "bad"} for i in range(5)]
    area.show(errors)
    text = str(area.render())
    assert text.splitlines() == ["f0.yaml:1: bad", "f1.yaml:2: bad", "f2.yaml:3: bad",
                                 "... and 2 more (E to open one)"] and area.display
    area.show(errors[:1])
    assert str(area.render()) == "f0.yaml:1: bad   (E to open)"
    area.show([])
    assert not area.display


class PromptApp(App):
    def compose(self):
        yield Static("target", id="target")
        yield Prompt(["pods", "deployments"], id="prompt")

    def on_mount(self) -> None:
        self.done: list[Prompt.Done] = []

    def on_prompt_done(self, event: Prompt.Done) -> None:
        self.done.append(event)


async def test_prompt_done_carries_what_it_was_opened_for():
    app = PromptApp()
    async with app.run_test() as pilot:
        prompt, target = app.query_one(Prompt), app.query_one("#target")
        prompt.open("f", "80:80", target=target, context=("Pod", "default", "web"))
        await pilot.press("escape")
        prompt.open(":", target=None)
        await pilot.press("d", "e", "tab", "enter")
        await pilot.pause()
    assert [(d.mode, d.value, d.target, d.context) for d in app.done] == [
        ("f", None, target, ("Pod", "default", "web")), (":", "deployments", None, None)]
