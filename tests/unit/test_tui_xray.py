"""`:xray` and `J` against the fake API: live counters, a component's actions, `?`, the
journey, and the Events-only fallback of a cluster without the activity stream."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_fake_api import NOW, TOKEN, FakeApi, dataset, wait_for  # noqa: E402

from kubedeck.tui.app import KubedeckApp  # noqa: E402
from kubedeck.tui.journey import JourneyScreen  # noqa: E402
from kubedeck.tui.widgets.text_screen import TextScreen  # noqa: E402
from kubedeck.tui.xray import ComponentBox, XrayScreen  # noqa: E402


def entry(seq, component, verb, kind, name, detail="", ns="default", instance=""):
    now = time.time()
    return {"seq": seq, "start": now - 0.01, "end": now, "component": component, "instance": instance, "verb": verb,
            "kind": kind, "namespace": ns, "name": name, "detail": detail}


@pytest.fixture
async def fake_api():
    api = FakeApi()
    dataset(api)
    api.activity = [entry(1, "etcd", "ADDED", "Pod", "web-1", 2),
                    entry(2, "default-scheduler", "Scheduled", "Pod", "web-1", "Successfully assigned default/web-1 to node-1"),
                    entry(3, "kubelet", "Started", "Pod", "web-1", "Started container main"),
                    entry(4, "kubelet", "status", "Pod", "web-1", "Ready", instance="node-1")]
    await api.start()
    yield api
    await api.stop()


def make(api, tmp_path) -> KubedeckApp:
    return KubedeckApp(api_url=api.url, token=TOKEN, now=lambda: NOW, config_dir=tmp_path / "config",
                       status_interval=0.2, retry_delay=0.05)


def box(screen: XrayScreen, name: str) -> ComponentBox:
    return next(b for b in screen.query(ComponentBox) if b.box == name)


async def open_xray(app, pilot) -> XrayScreen:
    await wait_for(pilot, lambda: "node-1" in app.informers["nodes"].cache.__repr__()
                   or len(app.informers["nodes"].cache) == 1, message="nodes listed")
    await pilot.press("colon", *"xray", "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, XrayScreen), message="x-ray open")
    return app.screen


async def test_xray_diagram_counts_live_and_lists_a_components_actions(fake_api, tmp_path):
    app = make(fake_api, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_xray(app, pilot)
        titles = {b.box for b in screen.query(ComponentBox)}
        assert titles == {"folder", "apiserver", "etcd", "scheduler", "controllers", "ingress",
                          "kubelet@node-1", "runtime@node-1", "proxy@node-1"}
        await wait_for(pilot, lambda: box(screen, "kubelet@node-1").counts == (2, 2), message="kubelet counted")
        assert box(screen, "scheduler").counts == (1, 1) and box(screen, "etcd").counts == (1, 1)
        assert "● Ready" in str(box(screen, "kubelet@node-1").render())
        # live: new actions arrive while the view is open
        fake_api.activity += [entry(5, "replicaset-controller", "SuccessfulCreate", "ReplicaSet", "web-abc",
                                    "Created pod: web-3"),
                              entry(6, "default-scheduler", "Scheduled", "Pod", "web-3", "assigned")]
        await wait_for(pilot, lambda: box(screen, "scheduler").counts == (2, 2), message="scheduler live")
        assert box(screen, "controllers").counts == (1, 1)
        since = [r.query.get("since") for r in fake_api.requests if r.path == "/kubedeck/v1/activity"]
        assert since[0] == "0" and "4" in since  # incremental: only what is new is fetched
        # select the scheduler (arrows): its actions, newest first
        for _ in range(2):
            await pilot.press("right")
        assert app.focused is box(screen, "scheduler")
        await wait_for(pilot, lambda: screen.table.row_count == 2, message="scheduler's actions")
        assert "Scheduled Pod default/web-3" in str(screen.table.get_row_at(0)[1])
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, TextScreen), message="explanation")
        assert "picks a node" in app.screen.body and "kubedeck" in app.screen.body
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, (TextScreen, XrayScreen)), message="back")


async def test_journey_of_a_pod_and_the_events_only_fallback(fake_api, tmp_path):
    app = make(fake_api, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.main_table.row_count == 4, message="pods")
        app.main_table.focus()
        while app.main_table.selected_object()["metadata"]["name"] != "web-1":
            await pilot.press("down")
        await pilot.press("J")
        await wait_for(pilot, lambda: isinstance(app.screen, JourneyScreen) and app.screen.hops, message="journey")
        assert [h.component for h in app.screen.hops] == ["kube-apiserver", "default-scheduler", "kubelet", "kubelet"]
        assert app.screen.hops[-1].what == "readiness passed: pod Ready"
        await pilot.press("down", "down", "down")  # the highlighted hop is shown whole under the table
        detail = app.screen.query_one("#journey-detail")
        await wait_for(pilot, lambda: "kubelet: readiness passed: pod Ready" in str(detail.render()),
                       message="the last hop's whole text")
        await pilot.press("escape")
    # a cluster without the activity stream: Events only
    fake_api.activity = None
    fake_api.add("events", {"metadata": {"name": "web-1.1", "namespace": "default", "uid": "ev1"},
                            "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default"},
                            "reason": "Scheduled", "message": "assigned", "count": 1, "type": "Normal",
                            "firstTimestamp": "2026-01-02T11:59:00Z", "source": {"component": "default-scheduler"}})
    app = make(fake_api, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: len(app.informers["events"].cache) == 1, message="events listed")
        screen = await open_xray(app, pilot)
        await wait_for(pilot, lambda: box(screen, "scheduler").counts[1] == 1, message="scheduler from Events")
        assert screen.extras is False and "?" in str(box(screen, "controllers").render())
