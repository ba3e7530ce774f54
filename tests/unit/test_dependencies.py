"""Every third-party module the shipped code imports is declared in pyproject.toml:
an import that only works because another package happens to pull it in breaks on the
day that package drops it."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("cli", "engine", "tui", "themes")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {_norm(re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0]) for d in deps}


def _imported() -> dict[str, str]:
    """Top-level module -> a file importing it, for absolute imports in shipped code."""
    out: dict[str, str] = {}
    for folder in SHIPPED:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    out.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return out


def test_every_third_party_import_is_declared():
    declared = _declared()
    dists = importlib.metadata.packages_distributions()
    missing = []
    for module, where in sorted(_imported().items()):
        if module in sys.stdlib_module_names or module in ("kubedeck", "__future__"):
            continue
        owners = {_norm(d) for d in dists.get(module, [])}
        if not owners & declared:
            missing.append(f"{module} ({where}; distribution {sorted(owners) or 'unknown'})")
    assert not missing, "imported but not declared in pyproject.toml: " + ", ".join(missing)
