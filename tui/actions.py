"""Object actions bound to keys (describe, YAML, delete, kill, scale, restart, reveal).

A mixin for `KubedeckApp` so app.py stays about layout and data flow. Every action works
on the selected row of the focused table and reports failures with `notify(...,
severity="error")`; API calls run in async workers so the UI never waits on them. The
screens they open (text, confirm) are imported when first opened: a Textual class costs
~1 ms to create, and the first frame needs none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from kubedeck.engine.client import ApiError
from kubedeck.engine.present.resources import ResourceKind

from .api import Disconnected

if TYPE_CHECKING:
    from .widgets.resource_table import ResourceTable


class ActionsMixin:
    """Needs `self.api`, `self.current_table()`, `self.informers`, `self.now`."""

    def _selected(self) -> tuple[ResourceKind, dict] | None:
        table: ResourceTable = self.current_table()
        obj = table.selected_object()
        if obj is None:
            self.notify("nothing selected", severity="warning")
            return None
        return table.kind, obj

    def _run_api(self, description: str, call: Awaitable, success: str | None = None) -> None:
        async def runner() -> None:
            try:
                await call
            except ApiError as exc:
                self.notify(f"{description} failed: {exc.message or exc}", severity="error")
            except Disconnected as exc:
                self.notify(f"{description} failed: API unreachable ({exc})", severity="error")
            except Exception as exc:  # never a traceback in the UI
                self.notify(f"{description} failed: {exc}", severity="error")
            else:
                if success:
                    self.notify(success)

        self.run_worker(runner(), group="actions", exit_on_error=False)

    @staticmethod
    def _ref(kind: ResourceKind, obj: dict) -> tuple[str | None, str]:
        meta = obj.get("metadata", {})
        return (meta.get("namespace") if kind.namespaced else None), meta.get("name", "")

    def _label(self, kind: ResourceKind, obj: dict) -> str:
        ns, name = self._ref(kind, obj)
        return f"{kind.kind.lower()} {ns + '/' if ns else ''}{name}"

    # -- views ---------------------------------------------------------------------------

    def action_describe(self) -> None:
        from kubedeck.engine.present import describe as describe_text  # yaml: not at start-up

        selected = self._selected()
        if selected is None:
            return
        kind, obj = selected
        obj = {"kind": kind.kind, **obj}
        events = list(self.informers["events"].cache.values()) if "events" in self.informers else []
        try:
            body = describe_text.describe(obj, events, self.now())
        except Exception as exc:
            self.notify(f"describe failed: {exc}", severity="error")
            return
        secret = kind.kind == "Secret"  # x in the view shows the values there
        reveal = (lambda: describe_text.describe(obj, events, self.now(), reveal=True)) if secret else None
        from .widgets.text_screen import TextScreen

        self.push_screen(TextScreen(f"Describe {self._label(kind, obj)}", body, reveal=reveal))

    def action_yaml(self) -> None:
        from kubedeck.engine.present import describe as describe_text  # yaml: not at start-up

        selected = self._selected()
        if selected is None:
            return
        kind, obj = selected
        obj = {"apiVersion": kind.group_version, "kind": kind.kind, **obj}
        reveal = (lambda: describe_text.to_yaml(obj, reveal=True)) if kind.kind == "Secret" else None
        from .widgets.text_screen import TextScreen

        self.push_screen(TextScreen(f"YAML {self._label(kind, obj)}", describe_text.to_yaml(obj), reveal=reveal))

    def action_reveal(self) -> None:
        from kubedeck.engine.present import describe as describe_text  # yaml: not at start-up

        selected = self._selected()
        if selected is None:
            return
        kind, obj = selected
        if kind.plural != "secrets":
            self.notify("x reveals a Secret's values: open :secrets first", severity="warning")
            return
        data = describe_text.safe_object({"kind": "Secret", **obj}, reveal=True).get("data")
        body = describe_text.yaml_text({"data": data}) if data else "<no data>\n"
        from .widgets.text_screen import TextScreen

        self.push_screen(TextScreen(f"Secret {self._label(kind, obj)} (revealed)", body))

    # -- changes ---------------------------------------------------------------------------

    def action_delete(self) -> None:
        self._confirm_delete(grace=None)

    def action_kill(self) -> None:
        selected = self._selected()
        if selected is None:
            return
        if selected[0].plural != "pods":
            self.notify("kill works on pods; use ctrl-d to delete", severity="warning")
            return
        self._confirm_delete(grace=0)

    def _confirm_delete(self, grace: int | None) -> None:
        selected = self._selected()
        if selected is None:
            return
        kind, obj = selected
        ns, name = self._ref(kind, obj)
        label = self._label(kind, obj)
        verb = "Kill (grace period 0)" if grace == 0 else "Delete"

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._run_api(
                    f"{verb.split()[0].lower()} {label}",
                    self.api.delete(
                        kind.plural, ns, name, kind.group_version, grace_period_seconds=grace
                    ),
                    success=f"{verb.split()[0].lower()}d {label}" if grace is None else f"killed {label}",
                )

        from .widgets.confirm import ConfirmScreen

        self.push_screen(ConfirmScreen(f"{verb} {label}?"), done)

    def action_scale(self, delta: int) -> None:
        selected = self._selected()
        if selected is None:
            return
        kind, obj = selected
        if not kind.scalable:
            self.notify(f"{kind.plural} cannot be scaled", severity="warning")
            return
        ns, name = self._ref(kind, obj)
        replicas = max(0, int(obj.get("spec", {}).get("replicas", 1)) + delta)
        self._run_api(
            f"scale {self._label(kind, obj)}",
            self.api.patch_merge(
                kind.plural, ns, name, {"spec": {"replicas": replicas}}, kind.group_version
            ),
            success=f"scaling {self._label(kind, obj)} to {replicas}",
        )

    def action_restart(self) -> None:
        selected = self._selected()
        if selected is None:
            return
        kind, obj = selected
        if not kind.restartable:
            self.notify("rollout restart works on deployments, statefulsets and daemonsets", severity="warning")
            return
        ns, name = self._ref(kind, obj)
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {
            "spec": {
                "template": {
                    "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}
                }
            }
        }
        self._run_api(
            f"restart {self._label(kind, obj)}",
            self.api.patch_merge(kind.plural, ns, name, patch, kind.group_version),
            success=f"restarting {self._label(kind, obj)}",
        )

    def action_shell(self) -> None:
        selected = self._selected()
        if selected is None:
            return
        kind, pod = selected
        if kind.plural != "pods":
            self.notify("shell works on pods", severity="warning")
            return
        containers = [c.get("name", "") for c in pod.get("spec", {}).get("containers") or []]
        logs = self.log_pane
        chosen = logs.container if logs.pod == self._ref(kind, pod) and logs.container else None
        container = chosen or (containers[0] if containers else "")
        ns, name = self._ref(kind, pod)
        from .shell import exec_shell

        try:
            with self.suspend():
                exec_shell(self.api.connection, ns or "default", name, container)
        except Exception as exc:  # e.g. suspend unsupported (headless, web), exec refused
            self.notify(f"shell: {exc}", severity="error")

    def action_not_yet(self, what: str) -> None:
        self.notify(f"{what}: not available yet", severity="warning")
