"""`:xray`: the Kubernetes diagram, live: which component did what, and its health.

One `ComponentBox` per component of the classic picture (engine/present/xray.py holds
the model, the box of each action and the `?` texts): the control plane in the top row,
one frame per node (kubelet, container runtime, kube-proxy), and below a table of the
selected box's recent actions. Boxes are focusable: arrows or h/l and tab move, the
table follows the focused box, `?` explains the component, `J` opens the journey of the
object of the highlighted action, escape closes.

Data: every second the screen asks `/kubedeck/v1/activity?since=<last>` for the
engine's new actions; on a cluster without it (404) it reads the Events the app's
informer already holds, so the same view works anywhere with fewer counters. Health
comes from `/kubedeck/v1/status` (task failures, Docker, manifest errors) and the
nodes' Ready condition.
"""

from __future__ import annotations

import time

from kubedeck.engine.present import journey as jr
from kubedeck.engine.present import xray as model
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static

from kubedeck.engine.client import ApiError
from .widgets.key_footer import KeyFooter
from .widgets.text_screen import TextScreen


class ComponentBox(Static, can_focus=True):
    """One component: title on the border, health, actions per minute and in all, the
    last action."""

    DEFAULT_CSS = """
    ComponentBox { width: 1fr; height: 5; border: round $panel-lighten-2; padding: 0 1; }
    ComponentBox:focus { border: heavy $accent; }
    ComponentBox.-bad { border: round $error; }
    ComponentBox.-bad:focus { border: heavy $error; }
    """

    def __init__(self, box: str, title: str) -> None:
        super().__init__("", id=f"box-{box.replace('@', '-at-')}", markup=False)
        self.box = box
        self.border_title = title
        self.counts = (0, 0)

    def show(self, box: model.Box, health: str, now: float) -> None:
        self.counts = (box.per_minute(now), box.total)
        last = box.recent[-1] if box.recent else None
        line3 = f"{last['verb']} {last['name']}" if last else "-"
        if self.box == "apiserver":  # its work is the watch events it fanned out
            line3 = f"{box.weight} watch ev"
        self.set_class(health not in ("ok", "Ready", "?"), "-bad")
        self.update(f"{'●' if health in ('ok', 'Ready') else '○'} {health}\n"
                    f"{self.counts[0]}/min {box.total}\n{line3}")


class XrayScreen(Screen[None]):
    DEFAULT_CSS = """
    XrayScreen { layout: vertical; }
    XrayScreen #xray-title { height: 1; background: $primary; color: $text; padding: 0 1; }
    XrayScreen .row-title { height: 1; color: $text-muted; padding: 0 1; }
    XrayScreen #control-plane, XrayScreen #nodes { height: auto; }
    XrayScreen .node { width: 1fr; height: auto; border: round $primary-darken-1; }
    XrayScreen .parts { height: auto; }
    XrayScreen #actions { height: 1fr; }
    """

    BINDINGS = [
        Binding("escape,q", "close", "Back"),
        Binding("right,l", "app.focus_next", "Next", show=False),
        Binding("left,h", "app.focus_previous", "Previous", show=False),
        Binding("question_mark", "explain", "What is it?"),
        Binding("enter", "actions", "Actions"),
        Binding("J", "journey", "Journey"),
    ]

    def __init__(self, *, interval: float = 1.0) -> None:
        super().__init__()
        self.interval = interval
        self.model = model.Model()
        self.since = 0
        self.extras: bool | None = None  # None: not asked yet; False: Events only
        self.seen_events: set[tuple] = set()
        self.status: dict = {}
        self.api_ok = True
        self.selected = "apiserver"
        self.nodes: list[str] = []

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        self.nodes = sorted(o.get("metadata", {}).get("name", "") for o in self._cache("nodes"))
        yield Static("X-ray: who did what  (arrows move, enter lists, ? explains, J journey, "
                     "escape back)", id="xray-title", markup=False)
        yield Static("control plane", classes="row-title")
        with Horizontal(id="control-plane"):
            for b in model.CONTROL_PLANE:
                yield ComponentBox(b, model.TITLES[b])
        with Horizontal(id="nodes"):
            for node in self.nodes:
                with Vertical(classes="node") as frame:
                    frame.border_title = f"node {node}"
                    with Horizontal(classes="parts", id=f"node-{node}"):
                        for part in model.NODE_PARTS:
                            yield ComponentBox(model.node_box(node, part), model.TITLES[part])
        self.table = DataTable(id="actions", cursor_type="row", zebra_stripes=True)
        yield self.table
        yield KeyFooter()

    def on_mount(self) -> None:
        self.table.add_columns("time", "action")
        self.query_one("#box-apiserver").focus()
        self.set_interval(self.interval, self.tick)
        self.call_later(self.tick)

    def _cache(self, plural: str) -> list[dict]:
        informer = getattr(self.app, "informers", {}).get(plural)
        return list(informer.cache.values()) if informer is not None else []

    # -- data -----------------------------------------------------------------------------

    async def tick(self) -> None:
        actions = await self._new_actions()
        pods = self._cache("pods")
        pod_nodes = {(p["metadata"].get("namespace", ""), p["metadata"]["name"]): (p.get("spec") or {}).get("nodeName")
                     for p in pods}
        self.model.add(actions, pod_nodes, self.nodes)
        if self.extras and (not self.status or int(time.time()) % 5 == 0):
            try:
                self.status = await self.app.api.status()
            except Exception:  # noqa: BLE001 - health shows what is known
                pass
        self.redraw()

    async def _new_actions(self) -> list[dict]:
        if self.extras is not False:
            try:
                reply = await self.app.api.activity(self.since)
            except ApiError as exc:
                if exc.code != 404:
                    self.api_ok = False
                    return []
                self.extras = False  # not a kubedeck engine: Events only
            except Exception:  # noqa: BLE001 - the API is down: shown as the API server's health
                self.api_ok = False
                return []
            else:
                self.extras, self.api_ok = True, True
                self.since = reply.get("last", self.since)
                return jr.from_activity(reply.get("items") or [])
        fresh = []
        for ev in self._cache("events"):
            key = (ev.get("metadata", {}).get("uid"), ev.get("count"))
            if key not in self.seen_events:
                self.seen_events.add(key)
                fresh.append(ev)
        return jr.from_events(fresh)

    def health(self, box: str) -> str:
        failures = {f.get("task") for f in self.status.get("taskFailures") or []}
        if box in ("apiserver", "etcd"):
            return "ok" if self.api_ok else "down"
        if "@" in box:
            part, node = box.split("@", 1)
            if part == "kubelet":
                obj = next((n for n in self._cache("nodes") if n["metadata"]["name"] == node), {})
                ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in (obj.get("status") or {}).get("conditions") or [])
                return "Ready" if ready else "NotReady"
            if not self.extras:
                return "?"
            if part == "runtime":
                docker = self.status.get("docker", "ok")
                return "ok" if docker == "ok" else str(docker)[:12]
            return "failing" if {"node-agent", "nodeport-proxy"} & failures else "ok"
        if not self.extras:
            return "?"
        if box == "folder":
            errors = len(self.status.get("manifestErrors") or [])
            return f"{errors} errors" if errors else ("ok" if self.status.get("folder") else "no folder")
        if box in ("scheduler", "controllers"):
            return "failing" if "controllers" in failures else "ok"
        if box == "ingress":
            bad = "ingress-proxy" in failures or (self.status.get("ingress") or {}).get("errors")
            return "errors" if bad else "ok"
        return "ok"

    def redraw(self) -> None:
        now = time.time()
        for widget in self.query(ComponentBox):
            widget.show(self.model.box(widget.box), self.health(widget.box), now)
        self.show_actions()

    def show_actions(self) -> None:
        box = self.model.box(self.selected)
        if getattr(self, "_shown", None) == (self.selected, box.total):
            return  # nothing new: keep the rows and the cursor
        self._shown = (self.selected, box.total)
        recent = list(box.recent)[-200:]
        self.rows = list(reversed(recent))
        self.table.clear()
        for a in self.rows:
            self.table.add_row(time.strftime("%H:%M:%S", time.localtime(a["at"])), model.describe_action(a))
        part, _, node = self.selected.partition("@")
        self.table.border_title = f"recent actions: {model.NAMES[part]}{' on ' + node if node else ''}"

    def on_descendant_focus(self, event) -> None:
        if isinstance(event.widget, ComponentBox) and event.widget.box != self.selected:
            self.selected = event.widget.box
            self.show_actions()

    # -- actions --------------------------------------------------------------------------

    def action_actions(self) -> None:
        self.table.focus()

    def action_explain(self) -> None:
        part = self.selected.split("@")[0]
        self.app.push_screen(TextScreen(f"{model.NAMES[part]} (escape to close)", model.EXPLAIN[part]))

    def action_journey(self) -> None:
        if not self.table.has_focus or not getattr(self, "rows", None):
            self.app.notify("focus the actions (enter) and highlight one", severity="warning")
            return
        a = self.rows[self.table.cursor_row]
        self.app.open_journey(a["kind"], a["namespace"], a["name"])

    def action_close(self) -> None:
        self.dismiss(None)
