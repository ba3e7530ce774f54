"""A compiled yes/no check in front of schema.py's jsonschema validation.

Nearly every object the API, the folder sync and the CLI validate is valid, and
jsonschema walks the schema interpretively: ~215 us for a ConfigMap, ~1 ms for a
Deployment, 18 % of the engine's event loop under the API benchmark's load.
fastjsonschema turns a kind's schema into Python code that says the same yes in
4.5 us and 67 us. It only says yes or no: on a no (or any surprise) schema.py runs
jsonschema as before, which words every problem with its field and line. The
schemas use type, properties, additionalProperties, items, required, enum, format
and $ref/$defs only, which mean the same in fastjsonschema's draft 7 as in the
2020-12 they declare (tests/unit/test_schema_fast.py compares the verdicts).

Generating and compiling a Pod's validator costs ~0.45 s and its code is ~1.7 MB, so
it is never done on the request path: the first validation of a kind schedules it
on one background thread and uses jsonschema meanwhile; the compiled code is kept
(marshal) in the user's cache dir, where the next engine loads it in ~5 ms.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import os
import re
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .schema import SCHEMA_VERSION, definitions

log = logging.getLogger(__name__)

_checks: dict[str, Callable | None] = {}  # def name -> compiled check; None: being made, or failed
_UNSEEN = object()
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kubedeck" / "schema"


def _cache_file(def_name: str) -> Path:
    import fastjsonschema

    # the code depends on the schemas, the generator and the bytecode format
    return cache_dir() / f"{SCHEMA_VERSION}-{fastjsonschema.VERSION}-{sys.implementation.cache_tag}-{def_name}.bin"


def _from_code(entry: str, code) -> Callable:
    scope: dict = {}
    exec(code, scope)  # noqa: S102 - code generated here from the bundled schemas, or its cached bytecode
    return scope[entry]


def _load(def_name: str) -> Callable | None:
    try:
        return _from_code(*marshal.loads(_cache_file(def_name).read_bytes()))
    except FileNotFoundError:
        return None
    except Exception as e:  # noqa: BLE001 - a damaged cache file is made again
        log.debug("schema cache for %s unreadable (%s): compiling it again", def_name, e)
        return None


def _make(def_name: str) -> None:
    try:
        import fastjsonschema

        schema = {k: v for k, v in definitions().items() if k != "$schema"}  # draft 7 semantics (see above)
        source = fastjsonschema.compile_to_code({**schema, "$ref": f"#/$defs/{def_name}"})
        code = compile(source, f"<schema {def_name}>", "exec")
        # the generated module's first function checks the root (its name follows the $id)
        entry = re.search(r"^def (\w+)\(", source, re.M).group(1)
        check = _from_code(entry, code)
        path = _cache_file(def_name)
        # written aside and renamed, under a temporary name of this process and thread:
        # engines compiling the same kind at once must not write into one file (which
        # write_atomic's one temporary name per target would have them do)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(marshal.dumps((entry, code)))
            os.replace(tmp, path)
        except OSError as e:  # a read-only home: compiled again by the next engine
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            log.debug("schema cache not written (%s)", e)
        _checks[def_name] = check
    except Exception:  # noqa: BLE001 - jsonschema stays in charge of this kind
        log.warning("no compiled schema check for %s: jsonschema validates it alone", def_name, exc_info=True)


def valid(def_name: str, obj) -> bool:
    """True when `obj` surely matches the schema; False means "ask jsonschema" (it may
    be invalid, or this kind's check is not compiled yet)."""
    check = _checks.get(def_name, _UNSEEN)
    if check is _UNSEEN:
        with _lock:
            if def_name not in _checks:
                check = _checks[def_name] = _load(def_name)
                if check is None:
                    global _pool
                    if _pool is None:
                        _pool = ThreadPoolExecutor(1, thread_name_prefix="schema-compile")
                    _pool.submit(_make, def_name)
            check = _checks[def_name]
    if check is None:
        return False
    try:
        check(obj)
    except Exception:  # noqa: BLE001 - JsonSchemaValueException, or input it did not expect
        return False
    return True


def ready(def_name: str, timeout: float = 60) -> bool:
    """Wait until `def_name`'s check is compiled (tests, benchmarks' warm-up)."""
    valid(def_name, None)
    if _pool is not None:
        _pool.submit(lambda: None).result(timeout)  # one thread: runs after every compile queued before
    return _checks.get(def_name) is not None
