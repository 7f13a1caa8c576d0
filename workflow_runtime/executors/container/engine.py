"""The podman and docker command lines, driven through asyncio subprocesses.

Why the CLI and not the engines' REST APIs: on this machine kind an attached ``podman run`` is the
cheapest way to run a short container (168 ms median), while the same run-wait-logs-remove cycle through
podman's Docker-compatible API costs 407 ms; docker's CLI and API are within 10 % of each other
(shared/design/TEST-INFRA.md §2.3, §3).  The CLI also needs no API service for podman and no client
library, and one attached ``run`` gives stdout, stderr and the exit code.  Both CLIs accept the same
flags for everything used here, so the two engines differ only in how files are copied out.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import re
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import orjson

from workflow_runtime.executors.base import ExecutorError

EngineName = Literal["podman", "docker"]

_NO_SUCH_CONTAINER = re.compile(r"no such (container|object)", re.IGNORECASE)
_NANOSECONDS = re.compile(r"(\.\d{6})\d+")
_MAX_SYMLINKS = 40


class EngineError(ExecutorError):
    """An engine command failed."""


class NoSuchContainer(EngineError):
    """The engine does not know the container (never created, or removed)."""


@dataclass(frozen=True, slots=True)
class ContainerState:
    """The part of ``<engine> container inspect`` the executor uses."""

    status: str
    exit_code: int
    oom_killed: bool
    error: str
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def ended(self) -> bool:
        return self.status in ("exited", "stopped", "dead")

    @property
    def never_started(self) -> bool:
        """Created but never run: the runtime could not start it (e.g. the command does not exist)."""
        return self.status in ("created", "configured") and self.started_at is None


class Engine:
    """One engine's CLI.  ``global_args`` go before the subcommand (e.g. docker's ``-H unix://...``)."""

    name: EngineName
    remove_flags: tuple[str, ...] = ("-f",)

    def __init__(self, binary: str, global_args: Sequence[str] = ()) -> None:
        self.binary = binary
        self.global_args = tuple(global_args)
        self._removals: dict[str, asyncio.Future[None]] = {}
        self._remover: asyncio.Task[None] | None = None

    def argv(self, *args: str) -> list[str]:
        return [self.binary, *self.global_args, *args]

    async def call(self, *args: str) -> bytes:
        """Run one CLI command and return its stdout; EngineError (NoSuchContainer) when it fails."""
        process = await asyncio.create_subprocess_exec(
            *self.argv(*args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        if process.returncode != 0:
            message = err.decode(errors="replace").strip()
            error = NoSuchContainer if _NO_SUCH_CONTAINER.search(message) else EngineError
            raise error(f"{self.name} {args[0]} failed (exit {process.returncode}): {message}")
        return out

    async def inspect(self, container: str) -> ContainerState | None:
        """The container's state, or None when the engine does not know it."""
        try:
            out = await self.call("container", "inspect", container)
        except NoSuchContainer:
            return None
        documents = orjson.loads(out)
        if not documents:
            return None
        state = documents[0]["State"]
        return ContainerState(
            status=str(state.get("Status", "")).lower(),
            exit_code=int(state.get("ExitCode") or 0),
            oom_killed=bool(state.get("OOMKilled")),
            error=str(state.get("Error") or ""),
            started_at=_parse_time(state.get("StartedAt")),
            finished_at=_parse_time(state.get("FinishedAt")),
        )

    async def wait(self, container: str) -> None:
        """Return once the container has stopped."""
        await self.call("wait", container)

    async def stop(self, container: str, grace_seconds: float) -> None:
        """The image's stop signal (SIGTERM), then SIGKILL after the grace, both sent by the engine, so
        the escalation happens even if the hub dies meanwhile.  The CLIs take whole seconds."""
        await self.call("stop", "-t", str(max(0, int(-(-grace_seconds // 1)))), container)

    async def remove(self, container: str) -> None:
        """Remove a container, running or not (one already gone is fine).  Removals asked for while an
        ``rm`` runs share the next one: ``rm`` of 10 containers costs a fourth of 10 ``rm`` (podman:
        0.36 s against 1.57 s), which counts when the steps of a fan-out end together."""
        removal = self._removals.get(container)
        if removal is None:
            removal = self._removals[container] = asyncio.get_running_loop().create_future()
        if self._remover is None or self._remover.done():
            self._remover = asyncio.ensure_future(self._remove_batches())
        await asyncio.shield(removal)

    async def _remove_batches(self) -> None:
        while self._removals:
            batch, self._removals = self._removals, {}
            error: EngineError | None = None
            try:
                await self.call("rm", *self.remove_flags, *batch)
            except NoSuchContainer:
                pass  # docker went on with the others
            except EngineError as failed:
                error = failed
            for removal in batch.values():
                if error is None:
                    removal.set_result(None)
                else:
                    removal.set_exception(error)

    async def save_logs(self, container: str, stdout: Path, stderr: Path) -> None:
        """Write the engine's copy of the container's output over the two log files."""
        with open(f"{stdout}.tmp", "wb") as out, open(f"{stderr}.tmp", "wb") as err:
            process = await asyncio.create_subprocess_exec(
                *self.argv("logs", container), stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=err
            )
            code = await process.wait()
        if code != 0:
            raise EngineError(f"{self.name} logs {container} failed (exit {code})")
        os.replace(f"{stdout}.tmp", stdout)
        os.replace(f"{stderr}.tmp", stderr)

    async def export(self, container: str, paths: Sequence[str], destination: Path) -> None:
        """Copy each path (file or directory) of the stopped container to ``destination + path``,
        following symlinks as the container would; paths that do not exist are skipped."""
        raise NotImplementedError

    async def lacks_directory(self, image: str, path: str) -> bool:
        """Whether ``run --workdir path`` needs the directory made for it (docker makes it itself)."""
        return False


class Podman(Engine):
    name: EngineName = "podman"
    remove_flags = ("-f", "--ignore")
    """Podman 4.3's ``rm -f`` removes nothing when one of several names is missing, unless ``--ignore``."""

    def __init__(self, binary: str, global_args: Sequence[str] = ()) -> None:
        super().__init__(binary, global_args)
        self._directories: dict[tuple[str, str], bool] = {}

    async def lacks_directory(self, image: str, path: str) -> bool:
        """Podman 4.3 refuses to start a container whose working directory is not in its image (unless
        it is the image's own WORKDIR), where docker and Kubernetes create it.  Looked up once per image
        and path in the image's root filesystem (``image mount``, 50 ms); False when the image is not
        there yet (``run`` pulls it, and then says what is wrong)."""
        known = self._directories.get((image, path))
        if known is None:
            try:
                root = (await self.call("image", "mount", image)).decode().strip()
            except EngineError:
                return False
            try:
                found = resolve_in_root(root, path)
                known = self._directories[image, path] = found is None or not os.path.isdir(found)
            finally:
                await self.call("image", "unmount", image)
        return known

    async def export(self, container: str, paths: Sequence[str], destination: Path) -> None:
        """Through ``podman mount`` (50 ms, then plain file copies) rather than ``podman cp`` (250 ms a
        path).  The mount is released by ``podman rm`` at cleanup."""
        root = (await self.call("mount", container)).decode().strip()
        for path in paths:
            found = resolve_in_root(root, path)
            if found is not None:
                copy_entry(found, destination, path)


class Docker(Engine):
    name: EngineName = "docker"

    async def export(self, container: str, paths: Sequence[str], destination: Path) -> None:
        """``docker cp -L`` is done by the daemon (50-70 ms), so the paths are copied concurrently."""

        async def one(path: str) -> None:
            target = destination / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                await self.call("cp", "-L", f"{container}:{path}", str(target))
            except NoSuchContainer:
                raise
            except EngineError:
                return  # the path does not exist in the container

        await asyncio.gather(*(one(path) for path in paths))


ENGINES: dict[EngineName, type[Engine]] = {"podman": Podman, "docker": Docker}


def resolve_in_root(root: str, path: str) -> str | None:
    """The host path of ``path`` inside the root filesystem ``root``, with every symlink (the last one
    too) resolved inside ``root`` as the container would resolve it; None when it does not exist."""
    todo = [part for part in reversed(path.split("/")) if part not in ("", ".")]
    parts: list[str] = []
    hops = 0
    while todo:
        name = todo.pop()
        if name == "..":
            if parts:
                parts.pop()
            continue
        host = os.path.join(root, *parts, name)
        try:
            mode = os.lstat(host).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not stat.S_ISLNK(mode):
            parts.append(name)
            continue
        hops += 1
        if hops > _MAX_SYMLINKS:
            return None
        target = os.readlink(host)
        if target.startswith("/"):
            parts = []
        todo.extend(part for part in reversed(target.split("/")) if part not in ("", "."))
    return os.path.join(root, *parts)


def copy_entry(source: str, destination: Path, path: str) -> None:
    """Copy a host file or directory to ``destination + path`` (symlinks inside directories kept)."""
    target = destination / posixpath.normpath(path).lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if os.path.isdir(source):
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target)


def find_engine(docker_host: str | None = None) -> EngineName | None:
    """Podman if installed, else docker if installed with a daemon to talk to (``executor.kind: auto``)."""
    if shutil.which("podman") is not None:
        return "podman"
    if shutil.which("docker") is not None and (
        docker_host or os.environ.get("DOCKER_HOST") or os.path.exists("/var/run/docker.sock")
    ):
        return "docker"
    return None


def _parse_time(value: object) -> datetime | None:
    """RFC 3339 with nanoseconds, as both engines print it; Go's zero time means "never"."""
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(_NANOSECONDS.sub(r"\1", value))
    except ValueError:
        return None
