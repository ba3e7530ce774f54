"""The tests' own helpers: an assert inside a wait surfaces as itself, at once, and the
`docker` marker lets `-m "not docker"` run exactly the Docker-free tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from conftest import ROOT, wait_for, wait_for_async


def test_an_assert_in_the_predicate_surfaces_at_once_as_itself():
    calls = []

    def check():
        calls.append(1)
        assert len(calls) > 5, "the invariant broke"
    began = time.monotonic()
    with pytest.raises(AssertionError, match="the invariant broke"):
        wait_for(check, 30, interval=0.01)
    assert time.monotonic() - began < 5 and len(calls) == 1


def test_other_errors_mean_not_yet_and_show_with_the_timeout():
    def flaky():
        raise ConnectionError("not up yet")
    with pytest.raises(AssertionError, match=r"timed out after 0.2s waiting for the API.*not up yet"):
        wait_for(flaky, 0.2, interval=0.01, what="the API")
    values = iter([None, 0, "ready"])
    assert wait_for(lambda: next(values), 5, interval=0.01) == "ready"


async def test_the_async_wait_follows_the_same_rule():
    with pytest.raises(AssertionError, match="broke"):
        await wait_for_async(lambda: (_ for _ in ()).throw(AssertionError("broke")), timeout=30)
    values = iter([None, "ok"])
    assert await wait_for_async(lambda: next(values), timeout=5) == "ok"


def test_not_docker_deselects_every_docker_test():
    def collected(*args: str) -> set[str]:
        # without the plugins these two files do not use (hypothesis' alone is ~1 s of import)
        plugins = [a for p in ("cacheprovider", "hypothesispytest", "textual-snapshot", "syrupy", "anyio")
                   for a in ("-p", f"no:{p}")]
        r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *plugins, "-n", "0", *args,
                            "tests/e2e/test_rollout.py", "tests/unit/test_tasks.py"],
                           check=False, capture_output=True, text=True, cwd=ROOT, timeout=120)
        return {line.split("::")[0] for line in r.stdout.splitlines() if "::" in line}
    assert collected("-m", "not docker") == {"tests/unit/test_tasks.py"}
    assert collected("-m", "docker") == {"tests/e2e/test_rollout.py"}
