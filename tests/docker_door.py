"""A stand-in Docker socket for the tests that take Docker away from a running engine
(tests/e2e/test_docker_down.py, tests/chaos/test_docker_outage.py): the engine is
pointed at it with DOCKER_HOST, and the test opens and shuts it. The daemon itself is
never stopped: it is shared with other work on the machine, and containers keep running
through the outage, as under `live-restore`."""

from __future__ import annotations

import contextlib
import os
import socket
import threading


class DockerDoor:
    """The engine's Docker socket, which the test can shut and reopen: a Unix socket
    forwarding to the real daemon. Shutting it cuts every connection and refuses new
    ones, which is what the engine sees of a daemon restart or of a daemon not there
    yet."""

    def __init__(self, path: str, target: str = "/var/run/docker.sock"):
        self.path, self.target = path, target
        self._stop = threading.Event()
        self._socks: list = []
        self._thread: threading.Thread | None = None

    def open(self) -> "DockerDoor":
        if os.path.exists(self.path):
            os.unlink(self.path)
        self._stop = threading.Event()
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(self.path)
        srv.listen(64)
        srv.settimeout(0.1)

        def pipe(a, b):
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        def serve(stop=self._stop):
            while not stop.is_set():
                try:
                    c, _ = srv.accept()
                except socket.timeout:
                    continue
                d = socket.socket(socket.AF_UNIX)
                d.connect(self.target)
                self._socks += (c, d)
                threading.Thread(target=pipe, args=(c, d), daemon=True).start()
                threading.Thread(target=pipe, args=(d, c), daemon=True).start()
            srv.close()
        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        return self

    def shut(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self._socks = []
