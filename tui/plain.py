"""What the TUI does differently on a plain Kubernetes cluster (not a kubedeck engine).

The TUI is a standard Kubernetes client; kubedeck's extras only add to it:
* `/kubedeck/v1/status` answers 404 on any other API server (and on a kubedeck engine
  with `KUBEDECK_NO_EXTRAS=1`): that means "not a kubedeck cluster", so status polling
  stops, the manifest-error area stays hidden, the status bar names the kubeconfig
  context, and Services show no `http://127.0.0.1:NODEPORT` URL (a real cluster's
  nodePorts answer on its nodes, not here). ExternalName targets and Ingress addresses
  are standard fields and stay.
* A kind whose list RBAC forbids shows `forbidden: <the API's message>` in its pane's
  title instead of rows (the informer stops there; see informer.py).
"""

from __future__ import annotations

from dataclasses import replace

from kubedeck.engine.present.resources import ResourceKind

from kubedeck.engine.client import ApiError


def _external_name_only(svc: dict, now) -> str:
    spec = svc.get("spec") or {}
    return spec.get("externalName", "") if spec.get("type") == "ExternalName" else ""


def pane_title(plural: str) -> str:
    return "PVCs" if plural == "persistentvolumeclaims" else plural.capitalize()


class PlainClusterMixin:
    """Needs `self.api`, `self.informers`, the tables, `self.main_title`, `self.status_bar`,
    `self.errors_area`."""

    #: None until the status endpoint answered once; False: not a kubedeck cluster
    extras: bool | None = None

    def plain_kind(self, kind: ResourceKind) -> ResourceKind:
        """`kind` as this cluster can show it: no local NodePort URL without the extras."""
        if self.extras is False and kind.plural == "services" and "URL" in kind.extras:
            return replace(kind, extras={**kind.extras, "URL": _external_name_only})
        return kind

    async def read_status(self) -> dict | None:
        """The status to show: the folder this process syncs to a cluster (`kubedeck up
        --context`), else the engine's `/kubedeck/v1/status`; None when there is none."""
        if self.folder_status is not None:
            self.extras_missing(keep_polling=True)
            return self.folder_status()
        try:
            return await self.api.status()
        except ApiError as exc:
            if exc.code == 404:  # not a kubedeck cluster: no extras to show
                self.extras_missing()
        except Exception:  # noqa: BLE001 - the informers already report the connection state
            pass
        return None

    def extras_missing(self, *, keep_polling: bool = False) -> None:
        """`/kubedeck/v1/status` is 404: hide what only a kubedeck engine provides."""
        if self.extras is False:
            return
        self.extras = False
        self.manifest_errors = []
        self.errors_area.display = False
        self.status_bar.cluster = getattr(self.api.connection, "context", "") or self.status_bar.cluster
        timer = getattr(self, "_status_timer", None)
        if timer is not None and not keep_polling:
            timer.stop()
        for table in self.tables():
            kind = self.plain_kind(table.kind)
            if kind is not table.kind:
                table.kind = kind
                table.rebuild()

    def show_forbidden(self, plural: str) -> None:
        """Put `forbidden: ...` in the title of every pane showing `plural` (or take it away)."""
        informer = self.informers.get(plural)
        note = f"  forbidden: {informer.forbidden}" if informer is not None and informer.forbidden else ""
        for table, title in ((self.nodes_table, "Nodes"), (self.services_table, "Services")):
            if table.kind.plural == plural:
                table.parent.query_one(".pane-title").update(title + note)
        if self.main_table.kind.plural == plural:
            self.main_title.update(pane_title(plural) + note)
