"""The TUI driven with Textual's Pilot against a real engine (`kubedeck serve` on Docker).

One test per key action: the app is built from the engine's `api.json`, keys are pressed,
and both the screen's widgets and the engine (through its own API client) are checked.
No fixed sleeps: `until()` lets the app run while polling a condition. The tests share
one engine (`shared_engine`: reset after each).
"""

from __future__ import annotations

import asyncio
import json
import os
import stat

import pytest
import yaml
from conftest import wait_for_async
from kubedeck.tui.app import KubedeckApp
from kubedeck.tui.widgets.pick_screen import PickScreen
from kubedeck.tui.widgets.resource_table import ResourceTable
from kubedeck.tui.widgets.text_screen import TextScreen

pytestmark = pytest.mark.shared_engine

SIZE = (120, 34)


def pod_yaml(name: str, *, ns: str | None = None, app: str | None = None, script: str = "sleep 3600") -> str:
    meta = {"name": name, "labels": {"app": app or name}}
    if ns:
        meta["namespace"] = ns
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Pod", "metadata": meta,
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [
            {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", script]}]},
    }, sort_keys=False)


def deployment_yaml(name: str, replicas: int = 1) -> str:
    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {
                     "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": "busybox:1.36",
                                     "command": ["sh", "-c", "sleep 3600"]}]}}},
    }, sort_keys=False)


TICKER = 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done'


@pytest.fixture
def make_app(engine, tmp_path):
    def make(**kwargs) -> KubedeckApp:
        conn = json.loads((engine.state / "api.json").read_text())
        kwargs.setdefault("config_dir", tmp_path / "config")
        return KubedeckApp(api_url=conn["url"], token=conn["token"], ca=conn["ca"], status_interval=0.2,
                           retry_delay=0.05, **kwargs)
    return make


async def until(pilot, predicate, timeout: float = 30.0, what: str = "condition"):
    """Let the app run until `predicate()` is truthy (it may call the engine's sync client)."""
    return await wait_for_async(predicate, pause=pilot.pause, timeout=timeout, what=what)


def rows(table: ResourceTable) -> dict[str, dict[str, str]]:
    """Visible rows as {name: {column: text}}."""
    out = {}
    for key in table.rows:
        cells = {h: str(table.get_cell(key, h)) for h in table.kind.headers}
        out[cells["NAME"]] = cells
    return out


def status_of(table: ResourceTable, name: str) -> str | None:
    return rows(table).get(name, {}).get("STATUS")


def select(table: ResourceTable, name: str) -> None:
    uid = next(uid for uid, obj in table.objects.items() if obj["metadata"]["name"] == name)
    table.focus()
    table.move_cursor(row=table.get_row_index(uid))


def live_pods(engine, selector: str) -> list[dict]:
    return [p for p in engine.pods(selector) if not p["metadata"].get("deletionTimestamp")]


async def test_pods_appear_and_change_live(engine, make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.main_table
        engine.write("ticker.yaml", pod_yaml("ticker"))
        await until(pilot, lambda: status_of(table, "ticker") == "Running", what="ticker Running on screen")
        assert rows(table)["ticker"]["READY"] == "1/1"
        await until(pilot, lambda: rows(app.nodes_table), what="the nodes pane (its informer starts after the first frame)")
        # a change in the store shows on screen (how fast: bench/tui_latency.py, tui_status_ms)
        engine.client.delete("Pod", "default", "ticker")
        await until(pilot, lambda: status_of(table, "ticker") in ("Terminating", None), timeout=10,
                    what="Terminating on screen")
        await until(pilot, lambda: "ticker" not in rows(table), what="row removed")


async def test_delete_with_confirmation_deployment_replaces_pod(engine, make_app):
    engine.write("web.yaml", deployment_yaml("sleeper"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.main_table
        await until(pilot, lambda: engine.running_ready("app=sleeper", 1), what="sleeper pod ready")
        first = live_pods(engine, "app=sleeper")[0]["metadata"]["name"]
        await until(pilot, lambda: status_of(table, first) == "Running", what="pod on screen")
        select(table, first)
        await pilot.press("ctrl+d")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen", what="confirm")
        await pilot.press("y")
        await until(pilot, lambda: first not in [p["metadata"]["name"] for p in live_pods(engine, "app=sleeper")],
                    what="pod deleted on the engine")
        ready = await until(pilot, lambda: engine.running_ready("app=sleeper", 1), what="replacement pod")
        second = ready[0]["metadata"]["name"]
        assert second != first
        await until(pilot, lambda: status_of(table, second) == "Running" and first not in rows(table),
                    what="replacement on screen, deleted pod gone")


async def test_scale_plus_in_deployments_view(engine, make_app):
    engine.write("web.yaml", deployment_yaml("sleeper"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.main_table
        await pilot.press("colon", *"deploy", "enter")
        await until(pilot, lambda: table.kind.plural == "deployments" and "sleeper" in rows(table),
                    what="deployments view")
        select(table, "sleeper")
        await pilot.press("plus")
        await until(pilot, lambda: engine.client.get("Deployment", "default", "sleeper")["spec"]["replicas"] == 2,
                    what="spec.replicas == 2")
        await until(pilot, lambda: engine.running_ready("app=sleeper", 2), what="2 pods ready")
        await until(pilot, lambda: rows(table)["sleeper"]["READY"] == "2/2", what="2/2 on screen")
        await pilot.press("minus")
        await until(pilot, lambda: engine.running_ready("app=sleeper", 1), what="back to 1 pod")


async def test_logs_follow_new_lines_from_container(engine, make_app):
    engine.write("ticker.yaml", pod_yaml("ticker", script=TICKER))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.main_table
        await until(pilot, lambda: status_of(table, "ticker") == "Running", what="ticker running")
        select(table, "ticker")
        await pilot.press("l")
        logs = app.log_pane

        def ticks() -> list[int]:
            return [int(line.split()[-1]) for line in logs.lines if line.startswith("tick ")]

        first = await until(pilot, lambda: ticks(), what="first tick")
        seen = max(first)
        await until(pilot, lambda: max(ticks()) >= seen + 3, what="new lines while following")
        assert logs.follow and logs.pod == ("default", "ticker")
        # select the two newest lines on screen and copy them; following stops meanwhile
        await pilot.press("v")
        await until(pilot, lambda: logs.log_widget.selecting and not logs.follow, what="select mode")
        await pilot.press("k", "y")
        await until(pilot, lambda: not logs.log_widget.selecting, what="copied")
        copied = app.clipboard.splitlines()
        assert len(copied) == 2 and all(line.startswith("tick ") for line in copied), copied
        first_copied, second_copied = (int(line.split()[-1]) for line in copied)
        assert second_copied == first_copied + 1


async def test_filter_by_name_and_label(engine, make_app):
    engine.write("pods.yaml", pod_yaml("alpha") + "---\n" + pod_yaml("beta"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.main_table
        await until(pilot, lambda: {"alpha", "beta"} <= set(rows(table)), what="both pods")
        await pilot.press("slash", *"alp", "enter")
        await until(pilot, lambda: set(rows(table)) == {"alpha"}, what="filtered to alpha")
        await pilot.press("escape")
        await until(pilot, lambda: {"alpha", "beta"} <= set(rows(table)), what="filter cleared")
        await pilot.press("slash", *"-l app=beta", "enter")
        await until(pilot, lambda: set(rows(table)) == {"beta"}, what="filtered by label")


async def test_describe_shows_events(engine, make_app):
    engine.write("alpha.yaml", pod_yaml("alpha"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.main_table

        def has_started_event() -> bool:
            events = app.informers["events"].cache.values()
            return any(e["involvedObject"].get("name") == "alpha" and e.get("reason") == "Started" for e in events)

        await until(pilot, lambda: status_of(table, "alpha") == "Running" and has_started_event(),
                    what="alpha running with events")
        select(table, "alpha")
        await pilot.press("d")
        screen = await until(pilot, lambda: isinstance(app.screen, TextScreen) and app.screen)
        assert "Name:         alpha" in screen.body
        events = screen.body.split("Events:", 1)[1]
        assert "Scheduled" in events and "Started" in events
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, TextScreen), what="describe closed")


async def test_yaml_of_selected_pod(engine, make_app):
    engine.write("alpha.yaml", pod_yaml("alpha"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.main_table
        await until(pilot, lambda: "alpha" in rows(table), what="alpha listed")
        select(table, "alpha")
        await pilot.press("y")
        screen = await until(pilot, lambda: isinstance(app.screen, TextScreen) and app.screen)
        shown = yaml.safe_load(screen.body)
        assert shown["kind"] == "Pod" and shown["metadata"]["name"] == "alpha"
        assert shown["spec"]["containers"][0]["image"] == "busybox:1.36"
        assert shown["metadata"]["annotations"]["kubedeck.io/source"] == "alpha.yaml"


async def test_namespace_picker_and_all_namespaces(engine, make_app):
    engine.write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n")
    engine.write("pods.yaml", pod_yaml("alpha") + "---\n" + pod_yaml("omega", ns="other"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.main_table
        await until(pilot, lambda: {"alpha", "omega"} <= set(rows(table)), what="both pods")
        await pilot.press("n")
        picker = await until(pilot, lambda: isinstance(app.screen, PickScreen) and app.screen, what="picker")
        await until(pilot, lambda: "other" in picker.options, what="namespace listed")
        from textual.widgets import OptionList
        picker.query_one(OptionList).highlighted = picker.options.index("other")
        await pilot.press("enter")
        await until(pilot, lambda: set(rows(table)) == {"omega"}, what="only namespace other")
        assert app.status_bar.namespace == "other"
        await pilot.press("0")
        await until(pilot, lambda: {"alpha", "omega"} <= set(rows(table)), what="all namespaces again")
        assert app.status_bar.namespace == "all"


async def test_theme_switch_is_remembered(engine, make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        before = app.theme
        await pilot.press("t")
        await until(pilot, lambda: app.theme != before, what="theme changed")
        chosen = app.theme
    assert json.loads((tmp_path / "config" / "config.json").read_text())["theme"] == chosen
    again = make_app()
    async with again.run_test(size=SIZE):
        assert again.theme == chosen


# -- manifest errors and `e` edit ---------------------------------------------------------

def editor_script(tmp_path, body: str):
    """An $EDITOR that records its arguments and edits the file (`$2`, after `+LINE`) with sed."""
    script = tmp_path / "editor.sh"
    script.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/editor-args\nfile="$(eval echo \\${{$#}})"\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def editor_args(tmp_path) -> list[str]:
    return (tmp_path / "editor-args").read_text().split()


async def test_manifest_errors_shown_with_file_and_line(engine, make_app):
    engine.write("alpha.yaml", pod_yaml("alpha"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "alpha" in rows(app.main_table), what="alpha listed")
        engine.write("broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndata:\n  key: [1, 2]\n")
        errors = app.errors_area
        text = await until(pilot, lambda: errors.display and "broken.yaml:" in str(errors.render())
                           and str(errors.render()), what="error in the status area")
        assert "broken.yaml:6" in text and "ConfigMap/bad" in text, text
        assert app.status_bar.error_count >= 1
        assert "alpha" in rows(app.main_table)  # the rest of the folder keeps running
        engine.write("broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndata:\n  key: ok\n")
        await until(pilot, lambda: not errors.display, what="error cleared once fixed")


async def test_open_manifest_error_in_editor_at_line(engine, make_app, tmp_path, monkeypatch):
    script = editor_script(tmp_path, 'sed -i "s/key: \\[1, 2\\]/key: fixed/" "$file"')
    monkeypatch.setenv("EDITOR", str(script))
    engine.write("broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndata:\n  key: [1, 2]\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.manifest_errors, what="manifest error")
        await pilot.press("E")
        await until(pilot, lambda: (tmp_path / "editor-args").exists(), what="editor ran")
        assert editor_args(tmp_path) == ["+6", str(engine.folder / "broken.yaml")]
        await until(pilot, lambda: engine.client.get("ConfigMap", "default", "bad")["data"] == {"key": "fixed"},
                    what="fixed file applied")
        await until(pilot, lambda: not app.errors_area.display, what="error cleared")


async def test_edit_folder_object_opens_manifest_at_its_line(engine, make_app, tmp_path, monkeypatch):
    script = editor_script(tmp_path, 'sed -i "s/replicas: 1/replicas: 2/" "$file"')
    monkeypatch.setenv("EDITOR", str(script))
    path = engine.write("app.yaml", pod_yaml("alpha") + "---\n" + deployment_yaml("sleeper"))
    line = path.read_text().splitlines().index("kind: Deployment")  # 0-based apiVersion line, +1
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.main_table
        await pilot.press("colon", *"deploy", "enter")
        await until(pilot, lambda: "sleeper" in rows(table), what="deployment listed")
        select(table, "sleeper")
        await pilot.press("e")
        await until(pilot, lambda: (tmp_path / "editor-args").exists(), what="editor ran")
        assert editor_args(tmp_path) == [f"+{line}", str(path)]
        assert "replicas: 2" in path.read_text()
        await until(pilot, lambda: engine.running_ready("app=sleeper", 2), what="engine applied the file")
        await until(pilot, lambda: rows(table)["sleeper"]["READY"] == "2/2", what="2/2 on screen")


async def test_edit_object_not_from_folder_goes_through_api(engine, make_app, tmp_path, monkeypatch):
    engine.client.create({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "settings", "namespace": "default"}, "data": {"color": "blue"}})
    script = editor_script(tmp_path, 'sed -i "s/color: blue/color: green/" "$file"')
    monkeypatch.setenv("EDITOR", str(script))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.main_table
        await pilot.press("colon", *"cm", "enter")
        await until(pilot, lambda: "settings" in rows(table), what="configmap listed")
        select(table, "settings")
        await pilot.press("e")
        await until(pilot, lambda: engine.client.get("ConfigMap", "default", "settings")["data"] == {"color": "green"},
                    what="edited through the API")
        assert not editor_args(tmp_path)[0].startswith("+")
        assert not os.path.exists(editor_args(tmp_path)[-1])  # temporary file removed

        # an edit the API rejects is shown as an error notification; the object is unchanged
        script.write_text(script.read_text().replace('s/color: green/color: green/', '')
                          .replace("color: blue/color: green", "color: green/color: [1, 2]"))
        await pilot.press("e")
        await until(pilot, lambda: any(n.severity == "error" and "settings" in n.message
                                       for n in app._notifications), what="error notification")
        assert engine.client.get("ConfigMap", "default", "settings")["data"] == {"color": "green"}


# -- `f` port-forward ---------------------------------------------------------------------

WEB_POD = """
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:1.36
    command: ["sh", "-c", "mkdir -p /www && echo hello-$(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: [{containerPort: 8080, name: http}]
    readinessProbe: {tcpSocket: {port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
"""


def http_get(port: int) -> str:
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
        return r.read().decode().strip()


async def test_port_forward_pod_and_service(engine, make_app):
    import socket
    engine.write("web.yaml", WEB_POD)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.main_table
        await until(pilot, lambda: engine.running_ready("app=web", 1), what="web ready")
        await until(pilot, lambda: status_of(table, "web") == "Running", what="web on screen")
        select(table, "web")
        await pilot.press("f")
        await until(pilot, lambda: app.prompt.has_focus, what="port prompt")
        assert app.prompt.value == "8080:8080"  # the first container port
        app.prompt.value = ":8080"  # any free local port: 8080 may be taken here
        await pilot.press("enter")
        await until(pilot, lambda: app.forwards, what="forward started")
        pod_port = app.forwards[0].forwarder.local_port
        assert f"127.0.0.1:{pod_port}->pod/web:8080" in app.status_bar.forwards
        assert await asyncio.to_thread(http_get, pod_port) == "hello-web"

        services = app.services_table
        await until(pilot, lambda: "web" in rows(services), what="service listed")
        select(services, "web")
        await pilot.press("f")
        await until(pilot, lambda: app.prompt.has_focus and app.prompt.value == ":80", what="service port")
        await pilot.press("enter")
        await until(pilot, lambda: len(app.forwards) == 2, what="service forward")
        svc_port = app.forwards[1].forwarder.local_port
        assert await asyncio.to_thread(http_get, svc_port) == "hello-web"

        # `f` on a forwarded object offers to stop its forward
        await pilot.press("f")
        await until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen", what="stop?")
        await pilot.press("y")
        await until(pilot, lambda: len(app.forwards) == 1, what="service forward stopped")
    # quitting stops the rest
    for port in (pod_port, svc_port):
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass


# -- logs pane extras -------------------------------------------------------------------

TWO_CONTAINERS = """
apiVersion: v1
kind: Pod
metadata: {name: duo, labels: {app: duo}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: json
    image: busybox:1.36
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo '{\\"level\\": \\"info\\", \\"n\\": '$i'}'; sleep 0.2; done"]
  - name: plain
    image: busybox:1.36
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo plain $i; if [ $((i % 5)) = 0 ]; then echo ERROR at $i; fi; sleep 0.2; done"]
"""


async def test_logs_all_containers_search_json_window_and_save(engine, make_app, tmp_path):
    engine.write("duo.yaml", TWO_CONTAINERS)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.main_table
        logs = app.log_pane
        logs.save_dir = tmp_path / "saved"
        await until(pilot, lambda: status_of(table, "duo") == "Running", what="duo running")
        select(table, "duo")
        await pilot.press("l")
        await until(pilot, lambda: logs.lines and logs.container == "json", what="first container's logs")
        await pilot.press("a")  # all containers, interleaved with a prefix
        await until(pilot, lambda: any(line.startswith("[json ] {") for line in logs.lines)
                    and any(line.startswith("[plain] plain") for line in logs.lines), what="both containers")
        assert "[all]" in logs._title()

        await pilot.press("J")  # pretty JSON: one log line becomes several indented lines
        await until(pilot, lambda: '  "level": "info",' in logs.log_widget.lines, what="pretty JSON")

        await until(pilot, lambda: sum("ERROR" in line for line in logs.lines) >= 2, what="two errors logged")
        await pilot.press("slash", *"error", "enter")  # search: highlight + jump, context kept
        await until(pilot, lambda: logs.match_line is not None, what="a match")
        shown = logs.log_widget.lines
        assert "ERROR" in shown[logs.match_line] and len(shown) > len(logs.matches())
        assert not logs.follow  # jumping stops following so the match stays put
        first = logs.match_line
        await pilot.press("N")
        assert logs.match_line < first and "ERROR" in shown[logs.match_line]
        await pilot.press("n")
        assert logs.match_line == first

        await pilot.press("S")
        saved = await until(pilot, lambda: list((tmp_path / "saved").glob("default_duo_all-*.log")), what="saved")
        assert "ERROR at 5" in saved[0].read_text()

        asked = []
        source = logs.source

        def recording(*args, **kwargs):
            asked.append(kwargs)
            return source(*args, **kwargs)

        logs.source = recording
        await pilot.press("1")  # since 1m: restarts the stream with sinceSeconds
        assert logs.since == 60 and "since:1m" in logs._title()
        await until(pilot, lambda: any("plain" in line for line in logs.lines), what="window shows lines")
        assert asked and all(a["since_seconds"] == 60 and a["tail"] is None for a in asked)
