"""An object's journey (`J` on any row, or from the x-ray's action list): the ordered hops
of what happened to it, each with its time since the first hop and its duration (the
gap since the hop before: which component made you wait).

The hops come from engine/present/journey.py; this module only gathers its inputs over
the API: the engine's activity stream when there is one (`/kubedeck/v1/activity`), else
the Events the app's informer holds (any cluster: fewer hops, whole-second times), plus
the object itself and, for a pod, the names of the Services that select it.
"""

from __future__ import annotations

from kubedeck.engine.present import journey as jr
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from kubedeck.engine.client import ApiError

from .widgets.key_footer import KeyFooter


def selecting_services(pod: dict, services: list[dict]) -> list[str]:
    labels = pod.get("metadata", {}).get("labels") or {}
    ns = pod.get("metadata", {}).get("namespace")
    out = []
    for svc in services:
        sel = (svc.get("spec") or {}).get("selector") or {}
        if sel and svc["metadata"].get("namespace") == ns and all(labels.get(k) == v for k, v in sel.items()):
            out.append(svc["metadata"]["name"])
    return sorted(out)


async def gather(app, kind: str, namespace: str, name: str) -> tuple[list[jr.Hop], str]:
    """(hops, where they came from) for one object, read through `app.api` and the
    app's informer caches."""
    def cache(plural: str) -> list[dict]:
        informer = app.informers.get(plural)
        return list(informer.cache.values()) if informer is not None else []

    source = "activity stream and Events"
    try:
        actions = jr.from_activity((await app.api.activity(0)).get("items") or [])
    except ApiError as exc:
        if exc.code != 404:
            raise
        actions, source = jr.from_events(cache("events")), "Events only (no kubedeck activity stream here)"
    if kind != "Pod":
        return jr.object_journey(kind, namespace, name, actions), source
    pod = next((p for p in cache("pods") if p["metadata"]["name"] == name
                and p["metadata"].get("namespace") == namespace), None)
    if pod is None:
        try:
            pod = await app.api.get("pods", namespace, name)
        except ApiError:
            pod = {"metadata": {"name": name, "namespace": namespace}}
    return jr.pod_journey(pod, actions, selecting_services(pod, cache("services"))), source


class JourneyScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    JourneyScreen { background: $background 60%; }
    JourneyScreen > #journey-title { height: auto; background: $primary; color: $text; padding: 0 1; }
    JourneyScreen > DataTable { height: 1fr; background: $surface; }
    JourneyScreen > #journey-detail { height: auto; padding: 0 1; background: $panel; }
    """

    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, kind: str, namespace: str, name: str) -> None:
        super().__init__()
        self.target = (kind, namespace, name)
        self.hops: list[jr.Hop] = []

    def compose(self) -> ComposeResult:
        kind, ns, name = self.target
        yield Static(f"Journey of {kind.lower()} {ns + '/' if ns else ''}{name}: loading...",
                     id="journey-title", markup=False)
        yield DataTable(cursor_type="row", zebra_stripes=True)
        # the highlighted hop whole: a long one is cut at the table's edge on 100 columns
        yield Static("", id="journey-detail", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("since first", "duration", "component", "what happened")
        table.focus()
        self.run_worker(self.load(), exclusive=True, exit_on_error=False)

    async def load(self) -> None:
        kind, ns, name = self.target
        title = self.query_one("#journey-title", Static)
        try:
            self.hops, source = await gather(self.app, kind, ns, name)
        except Exception as exc:  # noqa: BLE001 - never a traceback in the UI
            title.update(f"Journey of {kind.lower()} {name}: cannot read it ({exc})")
            return
        table = self.query_one(DataTable)
        for row in jr.render(self.hops):
            table.add_row(*row)
        total = f", {(self.hops[-1].at - self.hops[0].at) * 1000:.0f} ms first to last" if self.hops else ""
        title.update(f"Journey of {kind.lower()} {ns + '/' if ns else ''}{name}: {len(self.hops)} hops{total}"
                     f"  (from the {source}; escape closes)")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        rows = jr.render(self.hops)
        if 0 <= event.cursor_row < len(rows):
            since, took, component, what = rows[event.cursor_row]
            self.query_one("#journey-detail", Static).update(f"{since}  {component}: {what}")

    def action_close(self) -> None:
        self.dismiss(None)
