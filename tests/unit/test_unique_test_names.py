"""pytest imports test modules by their basename (rootdir-relative, no packages): two test
files with one name in different folders stop the whole run at collection. Caught here
instead, with the names, before CI."""

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_name_is_unique():
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert not [n for n, c in names.items() if c > 1], {n: c for n, c in names.items() if c > 1}
