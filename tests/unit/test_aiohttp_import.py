"""engine/aiohttp_import.py: aiohttp imported with its CA loads held back, then loaded."""

import subprocess
import sys

CHECK = """
import ssl
from kubedeck.engine import aiohttp_import
aiohttp_import.import_web()
import aiohttp.connector as c
assert ssl.SSLContext.set_default_verify_paths is ssl._SSLContext.set_default_verify_paths  # restored
held = c._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"], c._SSL_CONTEXT_UNVERIFIED.cert_store_stats()["x509_ca"]
assert held == (0, 0), held
assert aiohttp_import.load_held() == 2
want = ssl.create_default_context().cert_store_stats()["x509_ca"]
got = c._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"], c._SSL_CONTEXT_UNVERIFIED.cert_store_stats()["x509_ca"]
assert got == (want, want), (got, want)
assert aiohttp_import.load_held() == 0  # once
print("ok", want)
"""


def test_the_ca_bundle_is_held_back_during_the_import_and_loaded_later():
    r = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stderr
