"""Real ``triggerfish`` processes for integration tests: the hub server, the CLI, the executor agent.

Everything here is synchronous (subprocesses and polling), so tests can kill a hub with SIGKILL and
start it again on the same data directory, as an operator would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

T = TypeVar("T")

TRIGGERFISH = Path(sys.executable).parent / "triggerfish"
"""The console script the package installs next to the interpreter (``triggerfish.cli.main:main``)."""

AGENT_MODULE = "workflow_runtime.executors.local.agent"

COMPLETED = ("Succeeded", "Failed", "Error")


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for CLI subprocesses: wide, colourless output that does not wrap tables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIGGERFISH_")}
    env.update({"COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def run_cli(
    args: Sequence[str | os.PathLike[str]],
    *,
    timeout: float = 60.0,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``triggerfish ARGS`` to completion, capturing its output."""
    return subprocess.run(
        [str(TRIGGERFISH), *(str(a) for a in args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=dict(env) if env is not None else cli_env(),
        check=False,
    )


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """A test server that cannot run: fail in CI, skip (saying why) on a developer machine."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def log_tail(path: Path, size: int = 4000) -> str:
    """The end of a server's log, for failure messages ('' when there is none yet)."""
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def stop_process_group(
    process: subprocess.Popen[bytes] | None, grace: float, first: signal.Signals = signal.SIGTERM
) -> None:
    """Send ``first`` to a server's process group, then SIGKILL after ``grace``; its data is thrown away."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, first)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll ``probe`` until it returns something other than None/False; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last is not None and last is not False:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last probe: {last!r})")


# ---------------------------------------------------------------------------------------- the agent


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [part.decode(errors="replace") for part in f.read().split(b"\0") if part]
    except OSError:
        return []


def agent_pid(data_dir: Path) -> int | None:
    """The pid of the executor agent serving ``<data_dir>/executor``, if one is alive.

    The pid file is checked against the process's command line, so a recycled pid is never
    mistaken for the agent.
    """
    root = str((data_dir / "executor").resolve())
    try:
        pid = int((data_dir / "executor" / "agent.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    argv = _cmdline(pid)
    if AGENT_MODULE in argv and root in argv:
        return pid
    return None


def process_alive(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def kill_agent(data_dir: Path, sig: signal.Signals = signal.SIGKILL, timeout: float = 10.0) -> int | None:
    """Kill the agent of ``data_dir`` (its isolated steps die with it); returns the pid killed."""
    pid = agent_pid(data_dir)
    if pid is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if process_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pid


# ---------------------------------------------------------------------------------------- the hub


class HubServer:
    """``triggerfish server --data-dir D --port P`` as a child process, with an HTTP client.

    Each :meth:`start` picks a fresh port, so a restart never races the previous process's socket.
    """

    def __init__(self, data_dir: Path, log_dir: Path, extra_args: Sequence[str] = ()) -> None:
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0
        self._client: httpx.Client | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the hub is not started"
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"hub-{self.starts}.log"

    def log_text(self) -> str:
        texts = []
        for n in range(1, self.starts + 1):
            path = self.log_dir / f"hub-{n}.log"
            if path.exists():
                texts.append(f"--- hub start {n} ---\n" + path.read_text(errors="replace"))
        return "\n".join(texts)

    @property
    def client(self) -> httpx.Client:
        assert self._client is not None, "the hub is not started"
        return self._client

    def start(self, timeout: float = 30.0) -> HubServer:
        """Start the hub and wait until ``/readyz`` answers (the hub has resumed interrupted runs)."""
        assert self.process is None or self.process.poll() is not None, "the hub is already running"
        for _attempt in range(3):
            self.port = free_port()
            self.starts += 1
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(
                    [
                        str(TRIGGERFISH),
                        "server",
                        "--data-dir",
                        str(self.data_dir),
                        "--port",
                        str(self.port),
                        *self.extra_args,
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=cli_env(),
                    start_new_session=True,
                )
            self._close_client()
            self._client = httpx.Client(base_url=self.url, timeout=10.0)
            if self._wait_ready(timeout):
                return self
            if "address already in use" not in self.log_path.read_text(errors="replace"):
                break
        raise AssertionError(f"the hub did not become ready:\n{self.log_text()}")

    def _wait_ready(self, timeout: float) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            with contextlib.suppress(httpx.HTTPError):
                if self.client.get("/readyz").status_code == 200:
                    return True
            time.sleep(0.05)
        self.kill()
        return False

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self._close_client()

    def stop(self, timeout: float = 10.0) -> None:
        """A clean shutdown (SIGTERM), falling back to SIGKILL."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_client()

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- API helpers ----------------------------------------------------------------------------

    def submit(self, manifest: Mapping[str, Any], namespace: str = "default") -> dict[str, Any]:
        response = self.client.post(f"/api/v1/workflows/{namespace}", json={"workflow": manifest})
        assert response.status_code in (200, 201), response.text
        created: dict[str, Any] = response.json()
        return created

    def get(self, name: str, namespace: str = "default") -> dict[str, Any]:
        response = self.client.get(f"/api/v1/workflows/{namespace}/{name}")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    def wait_completed(self, name: str, timeout: float, namespace: str = "default") -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            document = self.get(name, namespace)
            return document if document["status"].get("phase") in COMPLETED else None

        try:
            return wait_for(probe, timeout, f"workflow {name} to complete", interval=0.1)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.log_text()}") from None


def nodes_by_display_name(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``status.nodes`` keyed by display name (which the tests keep unique)."""
    nodes: dict[str, dict[str, Any]] = {}
    for node in (document.get("status", {}).get("nodes") or {}).values():
        assert node["displayName"] not in nodes, f"duplicate display name {node['displayName']}"
        nodes[node["displayName"]] = node
    return nodes


@contextlib.contextmanager
def hub_servers(base: Path) -> Iterator[Callable[..., HubServer]]:
    """A factory of hub servers; every hub and executor agent it made is killed on exit."""
    made: list[HubServer] = []

    def make(data_dir: Path | None = None, extra_args: Sequence[str] = ()) -> HubServer:
        index = len(made)
        directory = data_dir or base / f"hub{index}"
        server = HubServer(directory, base / f"hub{index}-logs", extra_args)
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.kill()
        for server in made:
            kill_agent(server.data_dir)
