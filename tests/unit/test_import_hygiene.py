"""The engine never imports the TUI (nor Textual): checked in a fresh interpreter."""

import subprocess
import sys


def test_engine_imports_no_tui():
    code = """
import importlib, pkgutil, sys
import kubedeck.engine as engine
for mod in pkgutil.walk_packages(engine.__path__, "kubedeck.engine."):
    importlib.import_module(mod.name)
bad = sorted(m for m in sys.modules if m == "textual" or m.startswith(("textual.", "kubedeck.tui")))
print(",".join(bad))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"engine imported: {out.stdout.strip()}"
