"""The logs pane's side of the app: it follows the pod selected in the pods view.

A mixin for `KubedeckApp` (needs `main_table`, `log_pane`, `prompt`, `first_frame`,
`current_table()` and `_log_timer`). A highlight starts a short timer, so scrolling
through the rows does not open a stream per row; before the first frame none starts
(the app follows the selection once that frame is out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.widgets import DataTable

    from .widgets.log_pane import LogPane


class LogsMixin:
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "main" or self.main_table.kind.plural != "pods":
            return
        if self.first_frame and not self.first_frame.shown.is_set():
            return  # the logs' stream (and httpx's import) come after the first frame
        if self._log_timer is not None:
            self._log_timer.stop()
        self._log_timer = self.set_timer(0.15, self._follow_selected_pod)

    def _follow_selected_pod(self) -> None:
        pod = self.main_table.selected_object() if self.main_table.kind.plural == "pods" else None
        if pod is None:
            return
        meta = pod.get("metadata", {})
        containers = [c.get("name", "") for c in pod.get("spec", {}).get("containers") or []]
        self.log_pane.show_pod(meta.get("namespace", ""), meta.get("name", ""), containers)

    def action_logs(self) -> None:
        table = self.current_table()
        if table.kind.plural != "pods" or table.selected_object() is None:
            self.notify("select a pod to see its logs", severity="warning")
            return
        self._follow_selected_pod()
        self.log_pane.log_widget.focus()

    def on_log_pane_container_pick_requested(self, event: LogPane.ContainerPickRequested) -> None:
        pane = self.log_pane

        def picked(value: str | None) -> None:
            if value:
                pane.set_container(value)

        from .widgets.pick_screen import PickScreen  # the modal screens load when first opened

        self.push_screen(PickScreen("Container", event.containers, pane.container), picked)

    def on_log_pane_search_requested(self, event: LogPane.SearchRequested) -> None:
        ns, name = self.log_pane.pod or ("", "")
        self.prompt.open("/", self.log_pane.search, placeholder=f"search the logs of {ns}/{name} (n/N jump)",
                         target=self.log_pane.log_widget)

    def on_log_pane_leave(self, event: LogPane.Leave) -> None:
        self.main_table.focus()
