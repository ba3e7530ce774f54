"""engine/files.py's atomic writes and the API token that uses them (engine/cluster.py)."""

from __future__ import annotations

import stat

from kubedeck.engine.cluster import _load_or_make_token
from kubedeck.engine.files import write_atomic


def test_write_atomic_replaces_the_file_with_its_mode_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "token"
    path.write_text("old")
    write_atomic(path, "new", 0o600)
    write_atomic(tmp_path / "rules.nft", b"table ip t {}\n", durable=False)
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (tmp_path / "rules.nft").read_bytes() == b"table ip t {}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules.nft", "token"]


def test_an_empty_token_file_is_replaced_not_served(tmp_path):
    (tmp_path / "token").write_text("")  # what a crash or EROFS while writing it left
    token = _load_or_make_token(tmp_path)
    assert len(token) > 20 and (tmp_path / "token").read_text() == token
    assert _load_or_make_token(tmp_path) == token  # kept from then on
    assert stat.S_IMODE((tmp_path / "token").stat().st_mode) == 0o600
