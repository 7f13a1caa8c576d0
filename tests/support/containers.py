"""Real container engines for tests and benchmarks, with the stand-in images Argo manifests name.

* podman: Debian's package with Triggerfish's private configuration (runc, cgroupfs, ulimits this host
  accepts; images and containers under ``~/.cache/triggerfish/containers/podman``), both written by
  ``deploy/container-engines.sh`` and selected with ``CONTAINERS_CONF``/``CONTAINERS_STORAGE_CONF`` in
  this process's environment, so every ``podman`` it starts (the executor's, a hub's) uses them.
* docker: Debian's ``dockerd``, started here on a private socket with its data next to podman's
  (``--iptables=false``: the host's nat table is left alone; steps use the host network).

Images come from ``deploy/images/build.py`` (a cached no-op when they are up to date).  An engine that
cannot be had fails the tests that need it when ``CI=true``; elsewhere they are skipped, saying why.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import unavailable
from workflow_runtime.executors.container.engine import EngineName

REPO = Path(__file__).resolve().parents[2]
ENGINES_SCRIPT = REPO / "deploy" / "container-engines.sh"
BUILD_SCRIPT = REPO / "deploy" / "images" / "build.py"
DOCKERD_START_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class EngineUnderTest:
    name: EngineName
    docker_host: str | None = None
    """docker's ``-H`` for the private daemon; None for podman."""

    def argv(self, *args: str) -> list[str]:
        """A CLI command line for this engine (``docker -H ...`` for the private daemon)."""
        host = ["-H", self.docker_host] if self.docker_host else []
        return [self.name, *host, *args]

    def run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout, check=False)


def prepare_engines() -> None:
    """Install and configure the engines (``deploy/container-engines.sh``), and point this process's
    podman at Triggerfish's configuration."""
    done = subprocess.run([str(ENGINES_SCRIPT)], capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        unavailable(f"{ENGINES_SCRIPT.name} failed: {done.stderr.strip()}")
    for line in done.stdout.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export":
            name, _, value = words[1].partition("=")
            os.environ[name] = value


def build_images(engine: EngineUnderTest) -> None:
    host = ["--docker-host", engine.docker_host] if engine.docker_host else []
    done = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), engine.name, *host],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        unavailable(f"building the test images for {engine.name} failed: {done.stderr.strip()}")


@contextlib.contextmanager
def podman() -> Iterator[EngineUnderTest]:
    prepare_engines()
    if shutil.which("podman") is None:
        unavailable("podman is not installed: run deploy/container-engines.sh as root")
    engine = EngineUnderTest("podman")
    probe = engine.run("info", "--format", "{{.Host.OCIRuntime.Name}}")
    if probe.returncode != 0:
        unavailable(f"podman does not work here: {probe.stderr.strip()}")
    build_images(engine)
    yield engine


@contextlib.contextmanager
def docker() -> Iterator[EngineUnderTest]:
    """A private dockerd for the duration of the block.  Its images and containers live next to
    podman's (``<cache>/triggerfish/containers/docker``), so the images are built once per machine; a
    second test session at the same time gets a temporary data root instead of sharing it."""
    prepare_engines()
    dockerd = shutil.which("dockerd")
    if dockerd is None or shutil.which("docker") is None:
        unavailable("docker is not installed: run deploy/container-engines.sh as root")
    if os.geteuid() != 0:
        unavailable("dockerd needs root")
    assert dockerd is not None
    with contextlib.ExitStack() as stack:
        # short: containerd's sockets live under the exec root, and unix socket paths have 108 bytes
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tf-dockerd-")))
        data = _exclusive_data_root(stack) or base / "data"
        socket = f"unix://{base}/docker.sock"
        log = stack.enter_context(open(base / "dockerd.log", "wb"))
        argv = [dockerd, "--data-root", str(data), "--exec-root", str(base / "x"), "--pidfile"]
        argv += [str(base / "pid"), "-H", socket, "--iptables=false", "--ip6tables=false"]
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        engine = EngineUnderTest("docker", socket)
        stack.callback(_stop_dockerd, engine, process, base)
        deadline = time.monotonic() + DOCKERD_START_TIMEOUT
        while engine.run("version", timeout=10).returncode != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                unavailable(
                    f"dockerd did not start:\n{(base / 'dockerd.log').read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.1)
        build_images(engine)
        yield engine


def _exclusive_data_root(stack: contextlib.ExitStack) -> Path | None:
    """The shared docker data root, locked for this process; None when another process has it."""
    data = Path(os.environ["CONTAINERS_CONF"]).parent.parent / "docker"
    data.mkdir(parents=True, exist_ok=True)
    lock = os.open(data / "lock", os.O_WRONLY | os.O_CREAT, 0o644)
    stack.callback(os.close, lock)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return None
    return data / "data"


def _stop_dockerd(engine: EngineUnderTest, process: subprocess.Popen[bytes], base: Path) -> None:
    """Remove what the tests left (every container of this daemon is theirs), then stop it and unmount
    the network namespace it leaves mounted under its exec root (``base``)."""
    leftovers = engine.run("ps", "-aq", timeout=30).stdout.split()
    if leftovers:
        engine.run("rm", "-f", *leftovers, timeout=60)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    for point in sorted(points, key=len, reverse=True):
        if point.startswith(f"{base}/"):
            subprocess.run(["umount", point], capture_output=True, check=False)


def engine_context(name: EngineName) -> contextlib.AbstractContextManager[EngineUnderTest]:
    return podman() if name == "podman" else docker()
