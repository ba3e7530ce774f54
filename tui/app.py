"""The kubedeck TUI: nodes, pods (or any other view), services and logs on one screen.

Data flow: one `Informer` per resource kind lists then watches through `ApiClient` and
feeds every `ResourceTable` showing that kind; tables batch events per frame. Keys follow
k9s/vim habits (see `KEY_HELP`, shown on `?`). The engine is only reached over HTTP.

The app holds the layout and the data flow; each part owns its own state: the status bar
the connection state (`StatusBar.kind_state`), the manifest-error area its text, the
prompt what it was opened for (it comes back in `Prompt.Done`), `themes.AppThemes` the
theme files and the remembered choice. The mixins add the key actions by concern.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from kubedeck.engine.present import format as fmt
from kubedeck.engine.present.resources import COMMANDS, VIEWS, ResourceKind, resolve
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.theme import Theme
from textual.widgets import Static
from textual.worker import Worker

from . import themes as theme_files
from .actions import ActionsMixin
from .api import ApiClient
from .edit import EditMixin
from .first_frame import FirstFrame, MainScreen
from .forwards import ForwardMixin
from .informer import Informer
from .logs_mixin import LogsMixin
from .metrics import MetricsPoller, with_usage
from .plain import PlainClusterMixin
from .widgets.key_footer import KeyFooter
from .widgets.log_pane import LogPane
from .widgets.manifest_errors import ManifestErrors
from .widgets.prompt import Prompt
from .widgets.resource_table import ResourceTable
from .widgets.status_bar import StatusBar
from .workers import WorkerRestarts
from .xray_mixin import COMMANDS as XRAY_COMMANDS, XrayMixin

ALWAYS_WATCHED = ("pods", "nodes", "services", "events", "namespaces")  # the others after the first frame
FIRST_FRAME_WAIT = 1.0  # seconds


class KubedeckApp(XrayMixin, PlainClusterMixin, ActionsMixin, EditMixin, ForwardMixin, LogsMixin, App):
    """Keyboard-driven view of a kubedeck cluster."""

    CSS_PATH = "kubedeck.tcss"
    TITLE = "kubedeck"
    ENABLE_COMMAND_PALETTE = False

    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("slash", "prompt('/')", "Filter rows"),
        Binding("colon", "prompt(':')", "View"),
        Binding("d", "describe", "Describe"),
        Binding("y", "yaml", "YAML"),
        Binding("l", "logs", "Logs"),
        Binding("ctrl+d", "delete", "Delete"),
        Binding("ctrl+k", "kill", "Kill"),
        Binding("plus", "scale(1)", "Scale+"),
        Binding("minus", "scale(-1)", "Scale-"),
        Binding("r", "restart", "Restart"),
        Binding("n", "pick_namespace", "Namespace"),
        Binding("0", "all_namespaces", "All ns", show=False),
        Binding("t", "cycle_theme", "Theme"),
        Binding("x", "reveal", "Reveal", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("s", "shell", "Shell", show=False),
        Binding("e", "edit", "Edit", show=False),
        Binding("E", "open_error", "Open error", show=False),
        Binding("f", "port_forward", "Port-fwd", show=False),
        Binding("J", "journey", "Journey", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        *,
        api_url: str = "",
        token: str = "",
        ca: str | None = None,
        connection=None,
        folder_status: Callable[[], dict] | None = None,
        theme: str | None = None,
        config_dir: Path | None = None,
        now: Callable[[], datetime] | None = None,
        api: ApiClient | None = None,
        status_interval: float = 5.0,
        retry_delay: float = 0.5,
        first_lists: dict[str, tuple[list[dict], str]] | None = None,
    ) -> None:
        self.api_url, self.api_token, self.api_ca = api_url, token, ca
        self.folder_status = folder_status  # a folder synced by this process (cli/remote.py)
        self._init_forwards()
        self.api = api or ApiClient(api_url, token, ca=ca, retry_delay=lambda n: min(retry_delay * 2**n, 5.0),
                                    connection=connection)  # connection: any cluster (plain.py)
        self.now = now or (lambda: datetime.now(timezone.utc))
        self.theme_choice = theme_files.AppThemes(self, Path(config_dir) if config_dir else theme_files.config_dir(),
                                                  theme)
        self.informers: dict[str, Informer] = {}
        self._first_lists = dict(first_lists or {})  # plural -> (items, rv) listed before the start
        self.namespace: str | None = None
        self.manifest_errors: list[dict] = []
        self._status_interval = status_interval
        self._retry_delay = retry_delay
        self._log_timer = None
        self._nodes_dirty = True
        self.first_frame: FirstFrame | None = None  # until the pods are listed (on_mount)
        self.metrics = MetricsPoller(self.api, on_update=self._metrics_updated)
        self.restarts = WorkerRestarts(self, delay=retry_delay)
        super().__init__()
        self.theme_choice.install()  # before the CSS is parsed (on mount: parsed again, all restyled)

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: app.query_one() searches the *current* screen, which is a
        # modal while describe/confirm are open.
        self.status_bar = StatusBar(id="status")
        self.nodes_table = ResourceTable(VIEWS["nodes"], now=self.now, decorate=self._node_cells, id="nodes")
        self.services_table = ResourceTable(VIEWS["services"], now=self.now, id="services")
        self.main_table = ResourceTable(with_usage(VIEWS["pods"]), now=self.now, decorate=self._main_cells, id="main")
        self.main_title = Static("Pods", classes="pane-title", id="main-title")
        self.log_pane = LogPane(source=self.api.logs, id="logs")
        self.errors_area = ManifestErrors(id="errors")
        self.prompt = Prompt([*COMMANDS, *XRAY_COMMANDS], id="prompt")
        yield self.status_bar
        with Horizontal(id="top"):
            with Vertical(id="nodes-pane", classes="pane"):
                yield Static("Nodes", classes="pane-title")
                yield self.nodes_table
            with Vertical(id="services-pane", classes="pane"):
                yield Static("Services", classes="pane-title")
                yield self.services_table
        with Vertical(id="main-pane", classes="pane"):
            yield self.main_title
            yield self.main_table
        yield self.log_pane
        yield self.errors_area
        yield self.prompt
        yield KeyFooter()

    def get_default_screen(self) -> MainScreen:
        return MainScreen(id="_default")

    def tables(self) -> list[ResourceTable]:
        return [self.nodes_table, self.services_table, self.main_table]

    def current_table(self) -> ResourceTable:
        focused = self.focused
        return focused if isinstance(focused, ResourceTable) else self.main_table

    # -- start-up --------------------------------------------------------------------------

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(theme_files.VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        self.first_frame = FirstFrame(self, FIRST_FRAME_WAIT, self._after_first_frame)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.main_table.focus()
        self.ensure_informer(VIEWS[ALWAYS_WATCHED[0]])
        self.set_interval(0.5, self._refresh_nodes)
        self._status_timer = self.set_interval(self._status_interval, self._poll_status)

    def _after_first_frame(self) -> None:
        # what the first frame does not wait for (it runs once that frame is out): the
        # side panes' kinds, metrics, the status bar's cluster and manifest errors, and the
        # garbage collection `kubedeck ui` held off during the start (cli.py)
        self.call_after_refresh(_resume_gc)
        for plural in ALWAYS_WATCHED[1:]:
            self.ensure_informer(VIEWS[plural])
        self.restarts.run("metrics", self.metrics.run)
        self.call_later(self._poll_status)
        self._follow_selected_pod()  # highlighted before the frame: its logs were held back

    async def on_unmount(self) -> None:
        await self.stop_all_forwards()
        await self.api.aclose()

    def _theme_changed(self, theme: Theme) -> None:
        self.theme_choice.remember(theme)
        for table in self.tables():
            table.rebuild()

    # -- informers -------------------------------------------------------------------------

    def ensure_informer(self, kind: ResourceKind) -> Informer:
        informer = self.informers.get(kind.plural)
        if informer is None:
            informer = Informer(
                self.api, kind, on_sync=self._on_sync, on_event=self._on_event,
                on_state=lambda k, up, message: self.status_bar.kind_state(k.plural, up, message),
                retry_delay=self._retry_delay,
                fallback_namespace=getattr(self.api.connection, "namespace", None),
                first_list=self._first_lists.pop(kind.plural, None),
                watch_after=self.first_frame.shown if self.first_frame else None,
            )
            self.informers[kind.plural] = informer
            self.restarts.run(f"informer {kind.plural}", informer.run)
        return informer

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.restarts.state_changed(event.worker, event.state)  # a notice, and a retry (workers.py)

    def _tables_for(self, plural: str) -> list[ResourceTable]:
        return [t for t in self.tables() if t.kind.plural == plural]

    def _on_sync(self, kind: ResourceKind, items: list[dict]) -> None:
        for table in self._tables_for(kind.plural):
            table.set_objects(items)
        self.show_forbidden(kind.plural)
        if kind.plural == "pods":
            self._nodes_dirty = True
        if kind.plural == self.main_table.kind.plural and self.first_frame:
            self.first_frame.show()

    def _on_event(self, kind: ResourceKind, event_type: str, obj: dict) -> None:
        for table in self._tables_for(kind.plural):
            table.queue(event_type, obj)
        if kind.plural == "pods":
            self._nodes_dirty = True

    async def _poll_status(self) -> None:
        self.report_forward_errors()
        status = await self.read_status()  # plain.py: None when there is nothing to show
        if status is None:
            return
        self.manifest_errors = list(status.get("manifestErrors") or [])
        self.folder = str(status.get("folder") or "")
        self.status_bar.cluster = str(status.get("cluster") or "")
        self.status_bar.error_count = len(self.manifest_errors)
        self.errors_area.show(self.manifest_errors)

    # -- nodes pane ------------------------------------------------------------------------

    def _node_cells(self, node: dict, cells: list[str]) -> list[str]:
        pods = self.informers["pods"].cache.values() if "pods" in self.informers else ()
        cells[2:5] = fmt.node_usage(node, pods)
        cells[3:5] = self.metrics.node_cells(node)  # live usage instead of requests
        return cells

    def _main_cells(self, obj: dict, cells: list[str]) -> list[str]:
        table = self.main_table
        return self.metrics.pod_cells(obj, cells, table.kind.headers) if table.kind.plural == "pods" else cells

    def _metrics_updated(self) -> None:
        self._nodes_dirty = True
        if self.main_table.kind.plural == "pods":
            self.main_table.refresh_rows()

    def _refresh_nodes(self) -> None:
        if self._nodes_dirty:
            self._nodes_dirty = False
            for table in self._tables_for("nodes"):
                table.refresh_rows()

    # -- prompt: views and filters ---------------------------------------------------------

    def action_prompt(self, mode: str) -> None:
        table = self.current_table()
        self.prompt.open(mode, table.filter_text if mode == "/" else "", target=table)

    def on_prompt_done(self, event: Prompt.Done) -> None:
        target = event.target or self.main_table  # what had focus: a table, or the logs
        if event.mode == "f":
            target.focus()
            self.forward_prompt_done(event.value or "", event.context)
            return
        if event.value is None:
            target.focus()
            return
        if event.mode == "/":
            if target is self.log_pane.log_widget:
                self.log_pane.set_search(event.value.strip())
            else:
                target.set_filter(event.value.strip())
            target.focus()
            return
        self.main_table.focus()
        self.run_command(event.value)

    def run_command(self, text: str) -> None:
        word = text.strip().split()[0] if text.strip() else ""
        if word in ("q", "quit", "q!"):
            self.exit()
            return
        if self.xray_command(word):
            return
        kind = resolve(word) or (resolve(self.prompt.completion() or "") if word else None)
        if kind is None:
            self.notify(f"unknown view {word!r}", severity="error")
            return
        self.switch_view(kind)

    def switch_view(self, kind: ResourceKind) -> None:
        kind = self.plain_kind(with_usage(kind))
        informer = self.ensure_informer(kind)
        table = self.main_table
        table.set_kind(kind, list(informer.cache.values()))
        table.namespace = self.namespace
        table.rebuild()
        self.show_forbidden(kind.plural)  # the pane's title, and why it is empty if forbidden
        self.status_bar.view = kind.plural
        table.focus()

    def action_clear_filter(self) -> None:
        table = self.current_table()
        if table.filter_text:
            table.set_filter("")

    # -- namespaces, themes, help ------------------------------------------------------------

    def set_namespace(self, namespace: str | None) -> None:
        self.namespace = namespace
        for table in self.tables():
            table.set_namespace(namespace)
        self.status_bar.namespace = namespace or "all"

    def action_all_namespaces(self) -> None:
        self.set_namespace(None)

    def action_pick_namespace(self) -> None:
        names = sorted(
            o.get("metadata", {}).get("name", "")
            for o in (self.informers["namespaces"].cache.values() if "namespaces" in self.informers else ())
        )
        if not names:  # no namespace objects yet: fall back to those pods live in
            names = sorted({o.get("metadata", {}).get("namespace", "") for o in self.informers["pods"].cache.values()} - {""})
        options = ["all", *names]

        def picked(value: str | None) -> None:
            if value is not None:
                self.set_namespace(None if value == "all" else value)

        from .widgets.pick_screen import PickScreen

        self.push_screen(PickScreen("Namespace", options, self.namespace or "all"), picked)

    def action_cycle_theme(self) -> None:
        self.theme = self.theme_choice.next_name()
        self.notify(f"theme: {self.theme}", timeout=2)

    def action_help(self) -> None:
        from .help import KEY_HELP
        from .widgets.text_screen import TextScreen

        self.push_screen(TextScreen("kubedeck keys (escape to close)", KEY_HELP))


def _resume_gc() -> None:
    if not gc.isenabled():
        gc.freeze()  # the start's objects live as long as the app: later collections skip them
        gc.enable()


def run_tui(
    *, api_url: str = "", token: str = "", ca: str | None = None, theme: str | None = None,
    config_dir: Path | None = None, connection=None, folder_status: Callable[[], dict] | None = None,
    first_lists: dict[str, tuple[list[dict], str]] | None = None,
) -> int:
    """Run the TUI until the user quits; returns the process exit code. `connection`: a
    kubeconfig context's (engine/kubeconnect.py) instead of an engine's url/token/CA;
    `first_lists`: kinds already listed, as (items, resourceVersion) by plural."""
    app = KubedeckApp(api_url=api_url, token=token, ca=ca, theme=theme, config_dir=config_dir,
                      connection=connection, folder_status=folder_status, first_lists=first_lists)
    app.run()
    return app.return_code or 0
