"""`f`: port-forward the selected Pod, Service or Deployment to 127.0.0.1.

`f` asks for `LOCAL:REMOTE` (prefilled with the first container or service port;
`:REMOTE` picks a free local port, `PORT` uses the same port on both sides) and starts a
`kubedeck.engine.forward.Forwarder`, the API-only client the CLI uses too: it listens on
127.0.0.1 and opens a port-forward stream through the API per connection (re-targeting a
ready pod each time for Services and Deployments). Active forwards are listed in the
status bar; `f` on a forwarded object offers to stop it; quitting stops them all.
"""

from __future__ import annotations

from dataclasses import dataclass

FORWARDABLE = {"pods": "Pod", "services": "Service", "deployments": "Deployment"}


@dataclass
class Forward:
    kind: str
    namespace: str
    name: str
    remote_port: int
    forwarder: object
    errors_seen: int = 0

    @property
    def label(self) -> str:
        return f"{self.forwarder.address}:{self.forwarder.local_port}->{self.kind.lower()}/{self.name}:{self.remote_port}"


def default_port(kind: str, obj: dict) -> int | None:
    """First service port, or first container port of the pod (template)."""
    spec = obj.get("spec") or {}
    if kind == "Service":
        ports = spec.get("ports") or []
        return int(ports[0]["port"]) if ports and ports[0].get("port") else None
    if kind == "Deployment":
        spec = (spec.get("template") or {}).get("spec") or {}
    for container in spec.get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("containerPort"):
                return int(port["containerPort"])
    return None


def parse_ports(text: str) -> tuple[int, int]:
    """`LOCAL:REMOTE`, `:REMOTE` (any free local port) or `PORT` -> (local, remote)."""
    text = text.strip()
    local, sep, remote = text.partition(":")
    if not sep:
        local = remote = text
    try:
        lp, rp = int(local or 0), int(remote)
    except ValueError:
        raise ValueError(f"{text!r} is not LOCAL:REMOTE (e.g. 8080:80, or :80 for any local port)") from None
    if not (0 <= lp < 65536 and 0 < rp < 65536):
        raise ValueError(f"{text!r}: ports are 1-65535")
    return lp, rp


class ForwardMixin:
    """Needs `self.api` (its connection), `self.prompt`, `self.status_bar`, `self._selected()`."""

    def _init_forwards(self) -> None:
        self.forwards: list[Forward] = []

    def action_port_forward(self) -> None:
        selected = self._selected()
        if selected is None:
            return
        kind, obj = selected
        if kind.plural not in FORWARDABLE:
            self.notify("port-forward works on pods, services and deployments", severity="warning")
            return
        meta = obj.get("metadata", {})
        target = (FORWARDABLE[kind.plural], meta.get("namespace", "default"), meta.get("name", ""))
        active = [f for f in self.forwards if (f.kind, f.namespace, f.name) == target]
        if active:
            self._offer_stop(active)
            return
        remote = default_port(target[0], obj)
        value = "" if remote is None else (f"{remote}:{remote}" if remote >= 1024 else f":{remote}")
        self.prompt.open("f", value, target=self.current_table(), context=target)  # comes back in Done

    def _offer_stop(self, active: list[Forward]) -> None:
        labels = ", ".join(f.label for f in active)

        def done(confirmed: bool | None) -> None:
            if confirmed:
                for forward in active:
                    self.run_worker(self._stop_forward(forward), group="forwards", exit_on_error=False)

        from .widgets.confirm import ConfirmScreen  # not at start-up

        self.push_screen(ConfirmScreen(f"Stop port-forward {labels}?"), done)

    def forward_prompt_done(self, value: str, target: tuple[str, str, str] | None) -> None:
        """The `f` prompt's answer for `target` (kind, namespace, name)."""
        if target is None or not value.strip():
            return
        try:
            local, remote = parse_ports(value)
        except ValueError as exc:
            self.notify(f"port-forward: {exc}", severity="error")
            return
        self.run_worker(self._start_forward(*target, local, remote), group="forwards", exit_on_error=False)

    async def _start_forward(self, kind: str, ns: str, name: str, local: int, remote: int) -> None:
        # imported on first use: it brings aiohttp, which the TUI needs for nothing else
        from kubedeck.engine.forward import Forwarder

        forwarder = Forwarder(connection=self.api.connection, kind=kind, namespace=ns,
                              name=name, remote_port=remote, local_port=local)
        try:
            await forwarder.start()
        except Exception as exc:  # noqa: BLE001 - port taken, ...
            await forwarder.stop()
            self.notify(f"port-forward {kind.lower()}/{name}: {exc}", severity="error")
            return
        forward = Forward(kind, ns, name, remote, forwarder)
        self.forwards.append(forward)
        self._show_forwards()
        self.notify(f"forwarding http://{forward.label}")

    async def _stop_forward(self, forward: Forward) -> None:
        if forward in self.forwards:
            self.forwards.remove(forward)
        self._show_forwards()
        try:
            await forward.forwarder.stop()
        except Exception:  # noqa: BLE001 - stopping is best effort
            pass

    async def stop_all_forwards(self) -> None:
        for forward in list(self.forwards):
            await self._stop_forward(forward)

    def _show_forwards(self) -> None:
        self.status_bar.forwards = "  ".join(f.label for f in self.forwards)

    def report_forward_errors(self) -> None:
        """Notify connection errors the forwarders collected since last time."""
        for forward in self.forwards:
            errors = forward.forwarder.errors
            if len(errors) > forward.errors_seen:
                self.notify(f"port-forward {forward.label}: {errors[-1]}", severity="error")
                forward.errors_seen = len(errors)
