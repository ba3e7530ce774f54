"""Shared fixtures: a real kubedeck engine (a `kubedeck serve` subprocess) on a real
Docker daemon, in a throw-away state dir whose cluster name starts with `kdtest-`, so
cleanup removes exactly what the test made, even when the test fails."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import pytest

ROOT = Path(__file__).resolve().parents[1]
# Engines merge their context into the user's kubeconfig: never the real ~/.kube/config.
os.environ["KUBECONFIG"] = str(Path(tempfile.mkdtemp(prefix="kdtest-kubeconfig-")) / "config")


class _Poll:
    """The one polling rule of every wait in these tests (`wait_for`, `wait_for_async`).

    A truthy value ends the wait. An AssertionError raised by the predicate is a check
    that failed, not "not yet": it surfaces at once, as itself. Any other exception means
    the condition is not checkable yet; the last one is shown with the timeout."""

    def __init__(self, predicate, timeout: float, what: str):
        self.predicate, self.timeout, self.what = predicate, timeout, what
        self.deadline = time.monotonic() + timeout
        self.last_exc: Exception | None = None

    def attempt(self):
        """The predicate's truthy value, or None to try again."""
        try:
            value = self.predicate()
            if value:
                return value
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001 - the condition may not be checkable yet
            self.last_exc = e
        if time.monotonic() >= self.deadline:
            raise AssertionError(f"timed out after {self.timeout}s waiting for {self.what}"
                                 + (f" (last error: {self.last_exc!r})" if self.last_exc else ""))
        return None


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    """Poll until predicate() returns something truthy (see _Poll)."""
    poll = _Poll(predicate, timeout, what)
    while (value := poll.attempt()) is None:
        time.sleep(interval)
    return value


async def wait_for_async(predicate, *, pause=None, timeout: float = 30.0, interval: float = 0.02,
                         what: str = "condition"):
    """wait_for on an event loop: `pause(interval)` between attempts (a Textual pilot's
    `pause`, default asyncio.sleep), so the app runs while we wait."""
    import asyncio

    poll = _Poll(predicate, timeout, what)
    while (value := poll.attempt()) is None:
        await (pause or asyncio.sleep)(interval)
    return value


class _Reaper:
    """Test clusters' cleanup on one background thread, so that Docker's removals (about
    0.15 s per container, serialized by the daemon) overlap the next engine's start,
    which is mostly Python imports. `settle()` waits for all of it and raises what failed:
    Engine.start() calls it once its engine is up, and every test that does not start one
    through the `engine` fixture calls it before it begins (the `_settled` fixture), so no
    test body ever runs beside an earlier test's cleanup."""

    def __init__(self):
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="kdtest-cleanup")
        self.pending: list[tuple[str, object]] = []

    def later(self, what: str, fn) -> None:
        self.pending.append((what, self.pool.submit(fn)))

    def settle(self) -> None:
        pending, self.pending = self.pending, []
        errors = []
        for what, future in pending:
            try:
                future.result()
            except BaseException as e:  # noqa: BLE001 - every failure is reported, with whose it was
                errors.append(f"{what}: {e!r}"[:4000])
        if errors:
            raise AssertionError("the cleanup of an earlier test failed:\n" + "\n".join(errors))


REAPER = _Reaper()


class _DaemonShare:
    """The Docker tests run on several xdist workers at once, sharing one daemon; a
    `dockerd_restart` test stops every container on it, so it takes the daemon for itself.
    A readers-writer lock, flock(2) on one file of this test run: every other Docker test,
    and every cluster until its cleanup is done (Engine, test_tmux's `kubedeck up`), holds
    it shared; the restart holds it exclusive. flock has no writer preference: the restart
    waits until no other Docker test runs, which is at once, as it is handed out first
    and the other workers begin with Docker-free tests (pytest_collection_modifyitems)."""

    def __init__(self):
        run = os.environ.get("PYTEST_XDIST_TESTRUNUID", f"solo-{os.getpid()}")
        self.path = Path(tempfile.gettempdir()) / f"kdtest-daemon-{run}.lock"
        self.exclusive_fd: int | None = None  # this process holds it alone

    def hold(self, mode: int) -> int | None:
        """Hold the lock (fcntl.LOCK_SH or LOCK_EX); returns what release() takes."""
        if self.exclusive_fd is not None:
            return None  # ours alone already (a second descriptor would wait for it)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, mode)
        if mode == fcntl.LOCK_EX:
            self.exclusive_fd = fd
        return fd

    def release(self, fd: int | None) -> None:
        if fd is not None:
            if fd == self.exclusive_fd:
                self.exclusive_fd = None
            os.close(fd)  # the lock goes with its last descriptor

    @contextlib.contextmanager
    def shared(self):
        """Held shared for a block: for Docker calls in session or module fixtures, which
        are set up before the function-scoped _daemon_share takes the lock for the test."""
        fd = self.hold(fcntl.LOCK_SH)
        try:
            yield
        finally:
            self.release(fd)


DAEMON = _DaemonShare()


@pytest.fixture(autouse=True)
def _daemon_share(request):
    """A Docker test holds the daemon shared (see _DaemonShare) from before its fixtures
    start an engine; a `dockerd_restart` test holds it alone."""
    item = request.node
    if not item.get_closest_marker("docker"):
        yield
        return
    fd = DAEMON.hold(fcntl.LOCK_EX if item.get_closest_marker("dockerd_restart") else fcntl.LOCK_SH)
    yield
    DAEMON.release(fd)


def _worker() -> int:
    """This xdist worker's number (0 without xdist)."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) if name.startswith("gw") else 0


#: This worker's NodePorts: engines on other xdist workers run at the same time and bind
#: the same host's 127.0.0.1, so each worker has its own 400 ports, above the fixed ones of
#: sample-manifests (30001, 30080), whose tests share one xdist group. Its engines pick
#: from the first 300 (`serve --service-node-port-range`), free_nodeport() from the rest.
_PORTS_FROM = 30100 + 400 * _worker()
NODE_PORTS = f"{_PORTS_FROM}-{_PORTS_FROM + 299}"


def free_nodeport() -> int:
    """A nodePort for a test to ask for: in this worker's share, and free on the host."""
    import socket

    for port in range(_PORTS_FROM + 300, _PORTS_FROM + 400):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError(f"no free port in {_PORTS_FROM + 300}-{_PORTS_FROM + 399}")


@pytest.fixture(autouse=True)
def _settled(request, _daemon_share):
    """An earlier test's cluster is gone before this test begins (see _Reaper); with
    the `engine` fixture, Engine.start() waits for it instead, after its engine is up."""
    if "engine" not in request.fixturenames:
        REAPER.settle()
    yield


@pytest.fixture(scope="session", autouse=True)
def _last_cleanup():
    yield
    REAPER.settle()


def pytest_ignore_collect(collection_path, config):
    """`-m "not docker"`: tests/e2e and tests/chaos hold Docker tests only; not importing
    them saves each worker ~2 s of CPU."""
    if config.getoption("markexpr") == "not docker" and any(
            collection_path.is_relative_to(ROOT / "tests" / d) for d in ("e2e", "chaos")):
        return True
    return None


def pytest_configure(config):
    config.addinivalue_line("markers", "dockerd_restart: restarts the real Docker daemon (runs first, alone on the daemon)")
    config.addinivalue_line("markers", "shared_engine: the module's tests share one engine, reset after each (`engine`)")
    config.addinivalue_line("markers", "own_engine: in a shared_engine module, this test starts an engine of its own")


#: the test modules that run sample-manifests, whose Services ask for fixed nodePorts
FIXED_NODE_PORTS = {"test_samples.py", "test_sample_readme.py"}
#: how many Docker-free tests go right after the dockerd restart: the other workers' work
#: while it has the daemon to itself (~25 s; ~0.2 s per Docker-free test on a worker)
BESIDE_THE_RESTART = 300


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    """The `docker` marker on every test that needs a Docker daemon: all of tests/e2e
    (each starts a real engine) and anything using the docker_client fixture, so
    `pytest -m "not docker"` runs exactly the Docker-free part.

    The order the workers take tests in (xdist hands out a group before single tests):
    - the group "one-worker": the `dockerd_restart` tests, then the sample-manifest tests
      (the same fixed nodePorts on the host's 127.0.0.1), one after another on one worker.
      The restart stops every container on the daemon, so it goes first, while the other
      workers run Docker-free tests beside it; sorted last, it waited for the others'
      last Docker tests (_DaemonShare) at the end of the run, ~40 s of tail;
    - BESIDE_THE_RESTART Docker-free tests;
    - the chaos tests (the longest), then the other Docker tests;
    - the rest of the Docker-free tests: short ones, which fill the end of the run."""
    e2e, chaos = ROOT / "tests" / "e2e", ROOT / "tests" / "chaos"
    for item in items:
        if "docker_client" in getattr(item, "fixturenames", ()) or Path(str(item.path)).is_relative_to(e2e):
            item.add_marker(pytest.mark.docker)
        if Path(str(item.path)).name in FIXED_NODE_PORTS or item.get_closest_marker("dockerd_restart"):
            item.add_marker(pytest.mark.xdist_group("one-worker"))
    beside = {id(item) for item in [i for i in items if not i.get_closest_marker("docker")][:BESIDE_THE_RESTART]}

    def rank(item) -> int:
        if item.get_closest_marker("dockerd_restart"):
            return 0
        if id(item) in beside:
            return 1
        if item.get_closest_marker("docker"):
            return 2 if Path(str(item.path)).is_relative_to(chaos) else 3
        return 4
    items.sort(key=rank)  # stable: collection order within each rank


@pytest.fixture(scope="session")
def docker_client():
    docker = pytest.importorskip("docker")
    # Without the lock, a worker whose first Docker test came while another worker's
    # dockerd_restart test had the daemon down failed this ping, and the failure, cached
    # with the fixture, failed every Docker test it ran after.
    with DAEMON.shared():
        try:
            client = docker.from_env()
            client.ping()
        except Exception as e:  # noqa: BLE001
            pytest.fail(f"these tests need a running Docker daemon: {e}")
        try:
            for image in ("busybox:1.36", "kubedeck-test/perl:1"):
                client.images.get(image)
        except docker.errors.ImageNotFound:
            subprocess.run(["bash", str(ROOT / "tests/images/build.sh")], check=True)
    return client


class Engine:
    """A running `kubedeck serve` with its folder, state dir and API client."""

    def __init__(self, base: Path, docker_client, extra_args=()):
        self.name = f"kdtest-{uuid.uuid4().hex[:8]}"
        self.state = base / self.name
        self.folder = base / "manifests"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.docker = docker_client
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen | None = None
        self.client = None
        self.log_path = base / f"{self.name}.log"
        self._share: int | None = None  # the daemon, held shared until cleanup() is done

    def start(self) -> "Engine":
        from kubedeck.engine.client import Client
        from kubedeck.engine.state import read_connection

        if self._share is None:
            self._share = DAEMON.hold(fcntl.LOCK_SH)
        old = read_connection(self.state)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "kubedeck", "--state", str(self.state), "serve",
                                      str(self.folder), "--ingress-http-port", "0",
                                      "--ingress-https-port", "0", "--service-node-port-range", NODE_PORTS,
                                      *self.extra_args],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"the engine exited ({self.proc.returncode}) before its API listened:\n"
                                     + self.log_tail())
            conn = read_connection(self.state)
            return conn and conn.get("pid") == self.proc.pid and conn != old
        try:
            wait_for(ready, 60, what="engine API")
        except AssertionError as e:
            if self.proc.poll() is None:  # hung: its threads' stacks (cli/serve.py) say where
                self.proc.send_signal(signal.SIGUSR1)
                with contextlib.suppress(AssertionError):  # too early for the dump: the log as it is
                    wait_for(lambda: "Thread" in self.log_tail() or self.proc.poll() is not None, 5)
            raise AssertionError(f"{e}\n--- {self.log_path}:\n{self.log_tail()}") from None
        # api.json is written once the API listens; a loaded machine (or an engine adopting
        # many containers after a kill) may take longer than one health check's 2 s to answer
        self.client = wait_for(lambda: Client.for_state(self.state), 30, what="engine API answering")
        # the API answers before the rest is set up (its imports run on a thread)
        wait_for(self._started, 60, what="the node agent's first contact with Docker and the Ingress listening")
        REAPER.settle()  # an earlier test's cluster, removed while this engine started
        return self

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else "(no log)"

    def _started(self) -> bool:
        """The node agent has reached Docker (or said why not) and the Ingress listens; with
        kubedeck's extras off (KUBEDECK_NO_EXTRAS: no status endpoint), the nodes exist."""
        from kubedeck.engine.client import ApiError

        try:
            st = self.client.status()
        except ApiError as e:
            if e.code == 404:
                return bool(self.client.list("Node"))
            raise
        return st["docker"] != "not started" and bool(st["ingress"].get("http"))

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGUSR1)  # the engine dumps its stacks to the log
                time.sleep(1)
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"engine did not stop on {sig!r}:\n" + self.log_tail()) from None

    def write(self, rel: str, text: str) -> Path:
        p = self.folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name("." + p.name + ".tmp")
        tmp.write_text(textwrap.dedent(text))
        os.replace(tmp, p)  # editors save atomically too
        return p

    def cli(self, *args, check=True, timeout=60) -> subprocess.CompletedProcess:
        r = subprocess.run([sys.executable, "-m", "kubedeck", "--state", str(self.state), *args],
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"kubedeck {' '.join(args)} failed ({r.returncode}): {r.stderr}{r.stdout}")
        return r

    # ---- reading state -------------------------------------------------------------
    def pods(self, selector: str | None = None, ns: str = "default") -> list[dict]:
        return self.client.list("Pod", ns, selector)

    def running_ready(self, selector: str, n: int) -> list[dict] | None:
        pods = [p for p in self.pods(selector) if not p["metadata"].get("deletionTimestamp")]
        ok = [p for p in pods if (p.get("status") or {}).get("phase") == "Running" and any(
            c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])]
        return ok if len(ok) == n and len(pods) == n else None

    def containers(self) -> list:
        """This cluster's containers, skipping one removed between the list and its inspect
        (docker's high-level list fails with 404 there)."""
        out = []
        for c in self.docker.api.containers(all=True, filters={"label": f"io.kubedeck.cluster={self.name}"}):
            try:
                out.append(self.docker.containers.get(c["Id"]))
            except docker.errors.NotFound:
                pass
        return out

    def cleanup(self) -> None:
        try:
            self._remove()
        finally:  # the daemon's share goes with the cluster (see _DaemonShare)
            DAEMON.release(self._share)
            self._share = None

    def _remove(self) -> None:
        if self.client:  # first: a watch it still streams would hold up the engine's stop
            self.client.close()
        self.kill(signal.SIGTERM)
        label = f"io.kubedeck.cluster={self.name}"
        api = self.docker.api
        from kubedeck.engine.kubeproxy.nodeport_kernel import remove_host_rules

        remove_host_rules(api, self.name)  # what a killed engine left in the host's netfilter

        def remove(cid: str) -> None:
            try:
                api.remove_container(cid, force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as e:  # 409: the engine's own removal is under way
                if e.status_code != 409:
                    raise
                wait_for(lambda: not api.containers(all=True, filters={"id": cid}), 30,
                         what=f"container {cid[:12]} removed")
        # the low-level list: the high-level one inspects each container and fails with 404
        # on one whose removal (asked for by the engine before it stopped) just finished.
        # A force-removal is mostly the daemon waiting for the kill: a few at once.
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(remove, [c["Id"] for c in api.containers(all=True, filters={"label": label})]))
        _drop_leftover_table(self.name)
        for n in self.docker.networks.list(filters={"label": label}):
            n.remove()
        for v in self.docker.volumes.list(filters={"label": label}):
            v.remove(force=True)
        if self.proc and self.proc.returncode not in (0, None, -9, -15):
            print(self.log_tail(4000))

    def retire(self, *, state: bool = False) -> None:
        """cleanup() (and, with `state`, removing the state dir) on the background thread
        (see _Reaper), for a fixture whose test is over."""
        def run():
            self.cleanup()
            if state:
                shutil.rmtree(self.state, ignore_errors=True)
        REAPER.later(f"cleanup of {self.name} ({self.log_path})", run)


def _drop_leftover_table(cluster: str) -> None:
    """The cluster's host nftables table, if its engine and remove_host_rules both missed
    it: a table left behind would DNAT a later test's NodePort (the same port numbers come
    round again) to a pod that is gone. Said on the test's output, never silent."""
    from kubedeck.engine.kubeproxy.nodeport_kernel import table_name

    nft = shutil.which("nft") or "/usr/sbin/nft"
    table = table_name(cluster)
    if os.path.exists(nft) and subprocess.run([nft, "list", "table", "ip", table], capture_output=True).returncode == 0:
        print(f"cleanup: host table {table} of {cluster} was left behind; removed")
        subprocess.run([nft, "delete", "table", "ip", table], capture_output=True)


class _SharedEngine:
    """The engine that the tests of a `shared_engine` module on this xdist worker take
    turns on: started for the first of them, reset after each one that another of them
    follows (tests/engine_reset.py), replaced when a reset fails. It holds the daemon's
    share from its start until the module's last test is done (Engine.start)."""

    def __init__(self, base: Path, docker_client, args=()):
        self.base, self.docker_client, self.args = base, docker_client, args
        self.engine: Engine | None = None
        self.fresh = None  # the engine as started (engine_reset.FreshState)
        self.started = 0

    def lend(self) -> Engine:
        if self.engine is not None:
            REAPER.settle()  # as Engine.start does: no test body beside an earlier cleanup
            return self.engine
        from engine_reset import FreshState

        self.started += 1
        eng = Engine(self.base / f"e{self.started}", self.docker_client, self.args)
        try:
            eng.start()
            self.fresh = FreshState(eng)
        except BaseException:
            eng.retire(state=True)
            raise
        self.engine = eng
        return eng

    def reset(self) -> None:
        try:
            self.fresh.restore(self.engine)
        except BaseException:  # never lent out again as it is: the next test gets a new one
            self.close()
            raise

    def close(self) -> None:
        if self.engine is not None:
            self.engine.retire(state=True)
            self.engine = None


@pytest.fixture(scope="module")
def _shared_engine(request, tmp_path_factory, docker_client):
    """The module's ENGINE_ARGS (if any) are added to `kubedeck serve`."""
    shared = _SharedEngine(tmp_path_factory.mktemp("shared"), docker_client, getattr(request.module, "ENGINE_ARGS", ()))
    yield shared
    shared.close()


#: the item this worker runs after the one being torn down (None: none), for `engine`
NEXT_ITEM = pytest.StashKey()


@pytest.hookimpl(tryfirst=True)  # before the runner's teardown of the fixtures
def pytest_runtest_teardown(item, nextitem):
    item.stash[NEXT_ITEM] = nextitem


@pytest.fixture
def engine(request, tmp_path, docker_client):
    """A started engine of the test's own; in a module marked `shared_engine`, the
    module's shared one (_SharedEngine), unless the test is marked `own_engine` (it
    kills or restarts its engine, stops its nodes, starts it with other flags, or counts
    what a shared engine's history would change: say which where it is not plain)."""
    item = request.node
    if item.get_closest_marker("shared_engine") and not item.get_closest_marker("own_engine"):
        shared = request.getfixturevalue("_shared_engine")
        yield shared.lend()
        following = item.stash.get(NEXT_ITEM, None)
        if following is not None and following.path == item.path:  # else the engine goes with the module
            shared.reset()
        return
    eng = Engine(tmp_path, docker_client)
    try:  # a start that failed is cleaned up too (and gives back its share of the daemon)
        yield eng.start()
    finally:
        eng.retire(state=True)


@pytest.fixture
def make_engine(tmp_path, docker_client):
    made = []

    def make(*args) -> Engine:
        eng = Engine(tmp_path / f"e{len(made)}", docker_client, args)
        made.append(eng)
        return eng.start()
    yield make
    for eng in made:
        eng.retire()


def trickle(port: int, request: bytes) -> bytes:
    """A slow client: sends `request` to 127.0.0.1:port one byte per send, then reads
    the answer until the server closes."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
        for b in request:
            slow.send(bytes([b]))
        data = b""
        while chunk := slow.recv(4096):
            data += chunk
    return data


@pytest.fixture
def cluster(tmp_path):
    """An in-process Cluster on a fresh store in tmp_path, with its base objects
    (namespaces, nodes) and no Docker: unit tests drive its controllers by hand."""
    from kubedeck.engine.cluster import Cluster, Settings

    c = Cluster(Settings(state=tmp_path, docker=False))
    c._ensure_base_objects()
    yield c
    c.store.close()
