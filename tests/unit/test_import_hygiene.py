"""The engine never imports the TUI, Textual or the CLI: checked in a fresh interpreter.

The CLI is the `kubedeck` package itself, so only its bare `__init__` may load (as the
engine's parent package); engine/present is covered like every engine module."""

import subprocess
import sys


def test_engine_imports_no_tui_and_no_cli():
    code = """
import importlib, pkgutil, sys
import kubedeck.engine as engine
for mod in pkgutil.walk_packages(engine.__path__, "kubedeck.engine."):
    importlib.import_module(mod.name)
bad = sorted(m for m in sys.modules if m == "textual" or m.startswith(("textual.", "kubedeck.tui"))
             or (m.startswith("kubedeck.") and not m.startswith("kubedeck.engine")))
print(",".join(bad))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"engine imported: {out.stdout.strip()}"
