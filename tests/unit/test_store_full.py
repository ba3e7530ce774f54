"""A store write SQLite refuses (disk full; here SQLite's own SQLITE_FULL through
max_page_count) changes nothing: no object in memory that is not on disk, no
resourceVersion used, no watch event, and a 500 Status that says what happened. The
real full disk (a tiny tmpfs state dir) is tests/chaos/test_disk_faults.py."""

from __future__ import annotations

import pytest
from kubedeck.engine.store import Store, StoreError


def cm(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"x": "y" * 3000}}


def test_a_refused_write_changes_nothing(tmp_path):
    s = Store(tmp_path / "store.sqlite")
    s.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    s.create(cm("kept"))
    pages = s._db.execute("PRAGMA page_count").fetchone()[0]
    s._db.execute(f"PRAGMA max_page_count = {pages + 4}")  # a disk with little room left
    with pytest.raises(StoreError):
        for i in range(100):  # fill it
            s.create(cm(f"fill-{i}"))
    filled = sorted(o["metadata"]["name"] for o in s.list("ConfigMap"))
    rv = s.rv
    seen = []
    s._emit = lambda ev: seen.append(ev)
    for write in (lambda: s.create(cm("new")),
                  lambda: s.update({**s.get("ConfigMap", "default", "kept"), "data": {"x": "z" * 9000}})):
        with pytest.raises(StoreError) as err:
            write()
        assert err.value.code == 500 and "cannot be written" in err.value.message
        assert "disk is full" in err.value.message
    assert s.rv == rv and seen == []
    assert sorted(o["metadata"]["name"] for o in s.list("ConfigMap")) == filled
    assert s.get("ConfigMap", "default", "kept")["data"]["x"] == "y" * 3000
    s._db.execute("PRAGMA max_page_count = 1000000")  # space again
    del s._emit
    assert s.create(cm("later"))["metadata"]["resourceVersion"] == str(rv + 1)
    s.close()
    again = Store(tmp_path / "store.sqlite")
    assert sorted(o["metadata"]["name"] for o in again.list("ConfigMap")) == sorted(filled + ["later"])
    assert again.rv == rv + 1
    again.close()
