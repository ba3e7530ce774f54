"""Pure helpers of the logs pane: search, jumps, pretty JSON, saving, windows."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from kubedeck.tui.logtext import (
    SearchHighlighter, matching_lines, next_match, pretty_json, save_lines, since_label,
)


def test_search_highlights_every_match_case_insensitively():
    text = SearchHighlighter("err")(Text("ERR one err two"))
    assert [(s.start, s.end) for s in text.spans] == [(0, 3), (8, 11)]
    assert SearchHighlighter("")(Text("err")).spans == []
    assert SearchHighlighter("a.b")(Text("axb a.b")).spans[0].start == 4  # literal, not regex


def test_matches_and_jumps_wrap_around():
    lines = ["x", "error 1", "y", "Error 2", "z"]
    matches = matching_lines(lines, "error")
    assert matches == [1, 3]
    assert next_match(matches, None, True) == 1
    assert next_match(matches, None, False) == 3
    assert next_match(matches, 1, True) == 3
    assert next_match(matches, 3, True) == 1
    assert next_match(matches, 1, False) == 3
    assert next_match([], 0, True) is None


def test_pretty_json_keeps_prefix():
    assert pretty_json('[web] 2026-01-01T00:00:00Z {"level": "info", "n": 1}') == [
        '[web] 2026-01-01T00:00:00Z {', '  "level": "info",', '  "n": 1', '}']
    assert pretty_json("plain {not json}") is None
    assert pretty_json("no braces") is None


def test_save_lines(tmp_path):
    path = save_lines(["a", "b"], tmp_path / "out", "default_web/x", now=datetime(2026, 1, 2, 3, 4, 5))
    assert path.name == "default_web_x-20260102-030405.log"
    assert path.read_text() == "a\nb\n"


def test_since_label():
    assert [since_label(s) for s in (60, 300, 900, 3600, None)] == ["1m", "5m", "15m", "1h", ""]
