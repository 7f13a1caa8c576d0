"""A real PostgreSQL server for tests: Debian's ``postgresql`` package, started on loopback.

``initdb`` into a temporary directory (trust authentication for the superuser ``triggerfish``),
then ``postgres`` on a free loopback port with its socket in that directory. PostgreSQL refuses
to run as root, so as root the server runs as the ``postgres`` user the Debian package creates.
Durability settings are relaxed (``fsync=off``): the tests kill hubs, never the database server.
Each test that needs a clean schema gets its own database (:meth:`PostgresServer.create_database`).

A server that cannot start fails the tests that need it when ``CI=true``; on a developer machine
without the package they are skipped, with the reason.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

from tests.support.processes import free_port, log_tail, stop_process_group, unavailable

SUPERUSER = "triggerfish"
START_TIMEOUT = 60.0


def postgres_bin() -> Path | None:
    """The newest installed server's bin directory (``/usr/lib/postgresql/<major>/bin``)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name)
    )
    return candidates[-1].parent if candidates else None


@dataclass
class PostgresServer:
    directory: Path
    bin: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _names: Iterator[int] = field(default_factory=lambda: count(1))

    @property
    def _user(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def url(self, database: str = SUPERUSER) -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @property
    def log_path(self) -> Path:
        return self.directory / "postgres.log"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args), capture_output=True, text=True, timeout=120, check=False, user=self._user
        )

    def start(self) -> PostgresServer:
        data = self.directory / "data"
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        initdb = self._run(
            str(self.bin / "initdb"),
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}")
        self.port = free_port()
        with open(self.log_path, "wb") as log:
            if self._user is not None:
                entry = pwd.getpwnam(self._user)
                os.chown(self.log_path, entry.pw_uid, entry.pw_gid)
            self.process = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(data),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.directory),
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=300",
                    "-c",
                    "shared_buffers=128MB",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self._user,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}:\n{self.log_tail()}")
            ready = self._run(str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port))
            if ready.returncode == 0:
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"postgres was not ready after {START_TIMEOUT:.0f}s:\n{self.log_tail()}")

    def log_tail(self, size: int = 4000) -> str:
        return log_tail(self.log_path, size)

    def create_database(self, prefix: str = "test") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"{prefix}_{next(self._names)}_{os.getpid()}"
        created = self._run(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name
        )
        if created.returncode != 0:
            raise RuntimeError(f"createdb {name} failed: {created.stderr}")
        return self.url(name)

    def stop(self, grace: float = 5.0) -> None:
        """Fast shutdown, then SIGKILL after ``grace``: the data directory is thrown away anyway."""
        process, self.process = self.process, None
        stop_process_group(process, grace, signal.SIGINT)  # "fast" shutdown


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        unavailable("PostgreSQL is not installed: run deploy/system-deps.sh (or `make install`)")
    assert bin_dir is not None
    directory = Path(tempfile.mkdtemp(prefix="triggerfish-pg-"))
    server = PostgresServer(directory, bin_dir)
    try:
        try:
            server.start()
        except (RuntimeError, OSError, KeyError) as exc:
            unavailable(f"PostgreSQL did not start: {exc}")
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
