"""A witness that counts how many times each step really ran, independent of the hub's own records.

Isolated steps cannot leave a trace on the host filesystem: each one writes into its private
overlay and sees its own empty ``/tmp``.  They share the host's network, though, so a step reports
itself by sending one line to this TCP listener (``echo ID > /dev/tcp/127.0.0.1/PORT`` in bash).
Every line received is also appended to ``log_file`` (under the test's ``tmp_path``) for debugging.
"""

from __future__ import annotations

import socketserver
import threading
import time
from pathlib import Path
from types import TracebackType


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        for raw in self.rfile:
            line = raw.decode(errors="replace").strip()
            if line:
                self.server.recorder.add(line)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, recorder: RunRecorder) -> None:
        self.recorder = recorder
        super().__init__(("127.0.0.1", 0), _Handler)


class RunRecorder:
    def __init__(self, log_file: Path) -> None:
        self.log_file = log_file
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="run-recorder", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def shell(self, line: str) -> str:
        """A bash command that reports ``line`` (which may contain Argo ``{{...}}`` tags)."""
        return f"echo '{line}' > /dev/tcp/127.0.0.1/{self.port}"

    def add(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            with open(self.log_file, "a") as f:
                f.write(line + "\n")

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def wait_for(self, *lines: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(line in self.lines for line in lines):
                return
            time.sleep(0.02)
        raise AssertionError(f"steps never reported {lines}; received {self.lines}")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
