"""The store at rest: private file modes, Secrets' stringData folded as Kubernetes does,
and a damaged store refused in one line instead of a raw traceback or an empty cluster."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys

import pytest
from kubedeck.engine.store import Store
from kubedeck.engine.store_file import StoreDamaged, marker, set_aside

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(**fields) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, **fields}


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "store.sqlite")
    s.create(NS)
    yield s
    s.close()


def test_store_files_are_private_from_the_start(tmp_path, store):
    for name in ("store.sqlite", "store.sqlite-wal", "store.sqlite-shm", "store.sqlite.ok"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name


def test_an_existing_readable_store_is_tightened(tmp_path):
    path = tmp_path / "store.sqlite"
    Store(path).close()
    os.chmod(path, 0o644)
    Store(path).close()
    assert path.stat().st_mode & 0o777 == 0o600


def test_string_data_is_folded_into_data_on_every_write(store):
    out = store.create(secret(data={"a": b64("old"), "keep": b64("k")}, stringData={"a": "new", "b": "x:y"}))
    assert "stringData" not in out
    assert out["data"] == {"a": b64("new"), "keep": b64("k"), "b": b64("x:y")}
    assert "stringData" not in store.get("Secret", "default", "s")
    # a PUT, a merge patch and an apply all end in update(): the same rule
    out["stringData"] = {"keep": "changed"}
    out = store.update(out)
    assert out["data"]["keep"] == b64("changed") and "stringData" not in out
    stored = json.loads(store._db.execute("SELECT body FROM objects WHERE kind='Secret'").fetchone()[0])
    assert "stringData" not in stored and stored["data"]["keep"] == b64("changed")


def test_a_corrupt_store_is_refused_in_one_line(tmp_path):
    path = tmp_path / "store.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreDamaged) as err:
        Store(path)
    text = str(err.value)
    assert "\n" not in text and str(path) in text and "--reset-store" in text


def test_a_truncated_store_that_held_a_cluster_is_refused(tmp_path, store):
    store.create(secret(data={"a": b64("x")}))
    store.close()
    path = tmp_path / "store.sqlite"
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"store.sqlite{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"")
    with pytest.raises(StoreDamaged, match="empty or missing"):
        Store(path)
    path.unlink()  # deleted by hand: same thing
    with pytest.raises(StoreDamaged, match="empty or missing"):
        Store(path)


def test_a_new_store_starts_empty_even_from_a_zero_byte_file(tmp_path):
    path = tmp_path / "store.sqlite"
    path.write_bytes(b"")  # what sqlite3.connect leaves when killed before its first write
    s = Store(path)
    assert s.rv == 0 and marker(path).exists()
    s.close()


def test_a_row_that_is_not_json_is_damage(tmp_path, store):
    store.close()
    db = sqlite3.connect(tmp_path / "store.sqlite")
    db.execute("UPDATE objects SET body='{not json'")
    db.commit()
    db.close()
    with pytest.raises(StoreDamaged, match="cannot be read"):
        Store(tmp_path / "store.sqlite")


def test_serve_refuses_a_damaged_store_in_one_line(tmp_path):
    state = tmp_path / "kdtest-damaged"
    state.mkdir()
    (state / "store.sqlite").write_bytes(b"garbage" * 1000)
    cmd = [sys.executable, "-m", "kubedeck", "--state", str(state), "serve", str(tmp_path)]
    r = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: the store {state / 'store.sqlite'} cannot be read")
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert (state / "store.sqlite").read_bytes() == b"garbage" * 1000  # untouched


def test_reset_sets_the_damaged_store_aside_and_starts_empty(tmp_path, store):
    store.create(NS | {"metadata": {"name": "mine"}})
    store.close()
    path = tmp_path / "store.sqlite"
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"store.sqlite{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"")
    with pytest.raises(StoreDamaged) as err:
        Store(path)
    aside = set_aside(err.value.path)
    assert aside.exists() and aside.name.startswith("store.sqlite.damaged-")
    fresh = Store(path)
    assert fresh.list("Namespace") == []
    fresh.close()
