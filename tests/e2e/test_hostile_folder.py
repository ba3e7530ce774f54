"""The hostile corpus (tests/data/hostile) through a live engine's folder sync, one
engine for the lot, next to a running app: every file gets its error in
/kubedeck/v1/status with the same line and field `kubedeck validate` gives
(tests/unit/test_hostile_corpus.py holds the expectations), plus the cases made at run
time: a huge file, symlink loops, a dangling link, a FIFO, a file rewritten while it is
read, editors' swap and backup files. The app is untouched, nothing bad is created, the
engine log has no traceback, and the folder deleted and recreated under the watcher is
synced again."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path

import pytest

from conftest import wait_for
from e2e_kit import APP_POD

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_hostile_corpus import CORPUS, EXPECTED  # noqa: E402

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  k: v\n"
MADE = {"huge.yaml": "file is too large", "loop-a.yaml": "symlink loop", "loop-b.yaml": "symlink loop",
        "dangling.yaml": "dangling symlink", "pipe.yaml": "FIFO"}
# what the corpus defines that would be valid elsewhere: the good halves of mixed files
GOOD_HALVES = {"fine", "ok", "twice"}


def errors_by_file(engine) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in engine.client.status()["manifestErrors"]:
        if e["severity"] == "error":
            out.setdefault(e["file"], []).append(e)
    return out


@pytest.mark.timeout(300)
def test_hostile_folder_content_is_reported_and_disturbs_nothing(engine):
    engine.write("app.yaml", APP_POD)
    wait_for(lambda: engine.running_ready("app=app", 1), 60, what="app running")
    uid = engine.client.get("Pod", "default", "app")["metadata"]["uid"]
    before = {c.id for c in engine.containers()}
    folder = engine.folder
    hostile = folder / "hostile"
    shutil.copytree(CORPUS, hostile)
    (folder / "huge.yaml").write_bytes(b"# " + b"x" * (4 << 20) + b"\n")
    os.symlink("loop-b.yaml", folder / "loop-a.yaml")
    os.symlink("loop-a.yaml", folder / "loop-b.yaml")
    os.symlink("nowhere.yaml", folder / "dangling.yaml")
    os.mkfifo(folder / "pipe.yaml")
    for junk in (".app.yaml.swp", "app.yaml~", "4913", "#app.yaml#"):
        (folder / junk).write_bytes(b"\x00garbage: [")
    # a file rewritten in place while the engine reads it: torn reads are errors, then it settles
    churn = folder / "churn.yaml"
    text = CM % "churn" + "".join(f"  key{i}: value{i}\n" for i in range(5000))
    stop = threading.Event()

    def rewrite():
        while not stop.is_set():
            with open(churn, "w") as f:
                f.write(text[: len(text) // 2])
                f.flush()
                f.write(text[len(text) // 2:])
    writer = threading.Thread(target=rewrite, daemon=True)
    writer.start()
    try:
        want = {f"hostile/{n}" for n in EXPECTED} | set(MADE)
        got = wait_for(lambda: (lambda e: e if set(e) >= want else None)(errors_by_file(engine)), 60,
                       what="an error for every hostile file")
        assert engine.client.status()["docker"] == "ok"  # the engine kept serving meanwhile
    finally:
        stop.set()
        writer.join()
    for name, (line, field, words) in EXPECTED.items():
        found = got[f"hostile/{name}"]
        assert any(e["line"] == line and (not field or e["field"] == field) and words in e["message"]
                   for e in found), f"{name}: want line {line} {field!r} {words!r}; got {found}"
    for name, words in MADE.items():
        assert any(words in e["message"] for e in got[name]), got[name]
    assert not any(n.startswith((".app", "app.yaml~", "4913", "#")) for n in got)  # editors' files ignored
    wait_for(lambda: engine.client.get("ConfigMap", "default", "churn"), 30, what="the churned file settles")
    # the app untouched; of the corpus only its good halves exist
    assert engine.client.get("Pod", "default", "app")["metadata"]["uid"] == uid
    assert {c.id for c in engine.containers()} == before
    assert {c["metadata"]["name"] for c in engine.client.list("ConfigMap", "default")} - {"kube-root-ca.crt"} \
        == GOOD_HALVES | {"churn"}
    assert engine.client.list("Deployment", "default") == []
    assert [p["metadata"]["name"] for p in engine.pods()] == ["app"]

    # the folder deleted and recreated under the watcher: synced again, watched again
    shutil.rmtree(folder)
    wait_for(lambda: not engine.pods(), 60, what="the folder's objects gone with it")
    folder.mkdir()
    engine.write("app.yaml", APP_POD)
    engine.write("later.yaml", CM % "later")
    wait_for(lambda: engine.running_ready("app=app", 1), 60, what="app back")
    wait_for(lambda: engine.client.get("ConfigMap", "default", "later"), 30, what="a new file synced")
    engine.write("bad.yaml", CM % "Bad_Name")
    wait_for(lambda: "bad.yaml" in errors_by_file(engine), 30, what="a new error after the recreate")
    assert list(errors_by_file(engine)) == ["bad.yaml"]
    assert engine.client.status()["taskFailures"] in ([], {})
    log = engine.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[log.index("Traceback") - 500:][:3000]
