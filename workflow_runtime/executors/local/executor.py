"""LocalExecutor: each step is a host process in a private filesystem view, run by the root's agent.

The hub only talks to the agent (one request per start, one event per exit) and reads files; forking,
mounting and reaping happen in the agent and the step children, so the hub's CPU per step stays
small and steps survive a hub crash.  Reattaching is by step key: ``exit.json`` if the step ended,
else the agent's answer to "status", else :class:`StepLost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from workflow_runtime.executors.base import ExecutorError, LogStream, StepExit, StepLost, StepSpec
from workflow_runtime.executors.images import ImageEntry, ImageTable
from workflow_runtime.executors.local import client, sandbox
from workflow_runtime.executors.local.agent import DEFAULT_IDLE_TIMEOUT
from workflow_runtime.executors.local.layout import StepPaths, is_under, read_json, remove_overlay_scratch
from workflow_runtime.executors.local.view import StepView

Isolation = Literal["overlay", "none"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""A container's PATH; the interpreter's bin dir (``argosay``) is appended after the step's own."""

_OVERLAY_UNSAFE = frozenset(",:\\")


class LocalExecutor:
    """Runs steps as isolated host processes under ``root`` (see :mod:`workflow_runtime.executors.base`).

    ``isolation="overlay"`` (the default) needs root and overlayfs; ``"none"`` runs steps directly on
    the host filesystem (absolute paths are shared between steps and with the host) for developers
    who opt in.  ``max_parallel_steps`` bounds running steps started by this object: further starts
    wait for a slot.  ``kill_grace_seconds`` is used by :meth:`kill` when no grace is given.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        images: ImageTable | Mapping[str, ImageEntry] | None = None,
        isolation: Isolation = "overlay",
        max_parallel_steps: int = 64,
        kill_grace_seconds: float = 30.0,
        agent_idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        if isolation not in ("overlay", "none"):
            raise ValueError(f"isolation must be 'overlay' or 'none', got {isolation!r}")
        if max_parallel_steps < 1:
            raise ValueError("max_parallel_steps must be at least 1")
        self._root = os.path.abspath(root)
        self._isolated = isolation == "overlay"
        if self._isolated:
            if _OVERLAY_UNSAFE.intersection(self._root):
                raise ExecutorError(
                    f"executor root {self._root!r} must not contain ',', ':' or '\\' (overlay)"
                )
            problem = sandbox.isolation_problem()
            if problem is not None:
                raise ExecutorError(_isolation_message(problem))
        os.makedirs(self._root, exist_ok=True)
        self._images = images if isinstance(images, ImageTable) else ImageTable(images)
        self._slots = asyncio.Semaphore(max_parallel_steps)
        self._kill_grace = kill_grace_seconds
        self._idle_timeout = agent_idle_timeout
        self._tool_dir = os.path.dirname(sys.executable)
        self._exits: dict[str, asyncio.Future[StepExit]] = {}
        self._holding_slot: set[str] = set()
        self._connection: client.AgentConnection | None = None
        self._connecting = asyncio.Lock()
        self._isolation_problem: str | None = None

    @property
    def root(self) -> Path:
        return Path(self._root)

    # -- Executor protocol -------------------------------------------------------------------------

    async def start(self, spec: StepSpec) -> None:
        """Launch a step; a no-op for a step already launched (possibly by an earlier hub process),
        so a controller resuming after a crash can call it again and then ``wait`` to reattach."""
        key = spec.step_key
        argv = self._images.argv(spec.image, spec.command, spec.args)
        paths = self._paths(key)
        if key in self._exits or os.path.exists(paths.exit) or os.path.exists(paths.launch):
            return
        if await self._running(key):
            return
        if spec.input_paths:  # artifacts can be large: copy them off the event loop
            await asyncio.to_thread(self._stage, paths, spec)
        else:
            self._stage(paths, spec)
        await self._slots.acquire()
        self._holding_slot.add(key)
        try:
            agent = await self._agent()
            if self._isolated and self._isolation_problem:
                raise ExecutorError(_isolation_message(self._isolation_problem))
            self._exits[key] = asyncio.get_running_loop().create_future()
            await agent.request(
                "start",
                key=key,
                argv=argv,
                env=self._env(spec.env, self._toolbox_dir(spec.image)),
                cwd=spec.working_dir,
                isolated=self._isolated,
                stdin=spec.stdin is not None,
            )
        except BaseException as error:
            self._exits.pop(key, None)
            self._release(key)
            if isinstance(error, ConnectionError):
                raise ExecutorError(f"lost the local executor agent while starting step {key}") from error
            raise

    async def wait(self, step_key: str) -> StepExit:
        exit_future = self._exits.get(step_key)
        if exit_future is None:
            exit_future = await self._watch(step_key)
        try:
            return await exit_future
        finally:
            if self._exits.get(step_key) is exit_future:
                del self._exits[step_key]

    async def kill(self, step_key: str, grace_seconds: float | None = None) -> None:
        self._paths(step_key)
        agent = await self._existing_agent()
        if agent is not None:
            grace = self._kill_grace if grace_seconds is None else grace_seconds
            await agent.request("kill", key=step_key, grace=grace)

    def read_file(self, step_key: str, path: str) -> bytes | None:
        return self._view(step_key).read_file(path)

    def materialize(self, step_key: str, path: str) -> Path | None:
        return self._view(step_key).materialize(path)

    def read_log(self, step_key: str, stream: LogStream, tail_bytes: int | None = None) -> bytes:
        paths = self._paths(step_key)
        try:
            with open(paths.stdout if stream == "stdout" else paths.stderr, "rb") as f:
                if tail_bytes is not None:
                    f.seek(max(0, os.fstat(f.fileno()).st_size - tail_bytes))
                return f.read()
        except FileNotFoundError:
            return b""

    async def cleanup(self, step_key: str) -> None:
        paths = self._paths(step_key)
        if read_json(paths.exit) is None and await self._running(step_key):
            raise ExecutorError(f"step {step_key} is still running: kill it and wait before cleanup")
        remove_overlay_scratch(paths)  # usually done already by the agent when the step ended

    async def discard(self, step_key: str) -> None:
        paths = self._paths(step_key)
        if read_json(paths.exit) is None and await self._running(step_key):
            raise ExecutorError(f"step {step_key} is still running: kill it and wait before discarding it")
        self._exits.pop(step_key, None)
        shutil.rmtree(paths.dir, ignore_errors=True)

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
        for exit_future in self._exits.values():
            exit_future.cancel()
        self._exits.clear()

    async def stop_agent(self) -> None:
        """Stop the root's agent (for tests, benchmarks and shutting a host down): its running steps
        die with it, and waiting on them raises StepLost."""
        agent = await self._existing_agent()
        if agent is None:
            return
        with contextlib.suppress(ConnectionError):  # it may be on its way out already
            await agent.request("shutdown")
        await agent.lost

    # -- agent connection --------------------------------------------------------------------------

    async def _agent(self) -> client.AgentConnection:
        """The agent connection, launching the agent when none runs."""
        agent = await self._connect(launch=True)
        assert agent is not None  # connect(launch=True) returns a connection or raises
        return agent

    async def _existing_agent(self) -> client.AgentConnection | None:
        """The agent connection, or None when no agent runs (and so no step of this root runs)."""
        return await self._connect(launch=False)

    async def _connect(self, launch: bool) -> client.AgentConnection | None:
        if self._connection is not None and not self._connection.closed:
            return self._connection
        async with self._connecting:
            if self._connection is None or self._connection.closed:
                found = await client.connect(
                    self._root, self._on_event, self._on_lost, launch=launch, idle_timeout=self._idle_timeout
                )
                if found is None:
                    return None
                self._connection, hello = found
                self._isolation_problem = hello.get("isolation_problem")
            return self._connection

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("ev") != "exit":
            return
        key = event["key"]
        self._release(key)
        exit_future = self._exits.get(key)
        if exit_future is not None and not exit_future.done():
            exit_future.set_result(_step_exit(event))

    def _on_lost(self, connection: client.AgentConnection) -> None:
        """The agent died (its steps died with it): every step still awaited is lost."""
        if connection is not self._connection:
            return
        self._connection = None
        for key in list(self._holding_slot):
            self._release(key)
        for key, exit_future in self._exits.items():
            if exit_future.done():
                continue
            record = read_json(self._paths(key).exit)
            if record is not None:
                exit_future.set_result(_step_exit(record))
            else:
                exit_future.set_exception(self._lost(key, "the local executor agent exited while it ran"))
                exit_future.exception()  # mark retrieved: nobody may be waiting

    def _release(self, key: str) -> None:
        if key in self._holding_slot:
            self._holding_slot.discard(key)
            self._slots.release()

    async def _watch(self, key: str) -> asyncio.Future[StepExit]:
        """Reattach to a step this object did not start (e.g. started before a hub restart)."""
        paths = self._paths(key)
        exit_future: asyncio.Future[StepExit] = asyncio.get_running_loop().create_future()
        self._exits[key] = exit_future  # registered first, so an exit event cannot slip past
        record = read_json(paths.exit)
        running = None if record else await self._running(key)
        if running:
            return exit_future
        record = record or read_json(paths.exit)  # it may have ended between the two looks
        if exit_future.done():  # an exit event or the agent's death settled it meanwhile
            return exit_future
        if record is not None:
            exit_future.set_result(_step_exit(record))
        else:
            why = "the agent does not know it" if running is False else f"no agent runs for {self._root}"
            exit_future.set_exception(self._lost(key, why))
        return exit_future

    async def _running(self, key: str) -> bool | None:
        """Whether the agent is running the step; None when no agent runs."""
        agent = await self._existing_agent()
        if agent is None:
            return None
        try:
            return bool((await agent.request("status", key=key))["running"])
        except ConnectionError:
            return None

    # -- helpers -----------------------------------------------------------------------------------

    def _paths(self, key: str) -> StepPaths:
        try:
            return StepPaths(self._root, key)
        except ValueError as error:
            raise ExecutorError(str(error)) from None

    def _view(self, key: str) -> StepView:
        return StepView(self._paths(key), self._isolated)

    def _stage(self, paths: StepPaths, spec: StepSpec) -> None:
        """Write the step's input files, input artifacts and stdin where its view will show them."""
        if not spec.files and not spec.input_paths and spec.stdin is None:
            return
        if os.path.exists(paths.exit):  # the agent refuses it too, but only after we wrote
            raise ExecutorError(f"step {spec.step_key} already ran; step keys are single-use")
        os.makedirs(paths.dir, exist_ok=True)
        for view_path, content in spec.files.items():
            host = self._staging_path(paths, spec.step_key, view_path)
            with open(host, "wb") as f:
                f.write(content)
            os.chmod(host, spec.file_modes.get(view_path, 0o644))
        for view_path, source in spec.input_paths.items():
            host = self._staging_path(paths, spec.step_key, view_path)
            if os.path.isdir(host) and not os.path.islink(host):
                shutil.rmtree(host)  # without isolation the host path may hold an earlier run's copy
            elif os.path.lexists(host):
                os.unlink(host)
            if source.is_dir():
                shutil.copytree(source, host, symlinks=True)
                if self._isolated and not is_under(view_path, "/tmp"):
                    # Like a volume mounted there: the artifact hides what the host has at that path.
                    os.setxattr(host, "trusted.overlay.opaque", b"y", follow_symlinks=False)
            else:
                shutil.copy2(source, host)
        if spec.stdin is not None:
            with open(paths.stdin, "wb") as f:
                f.write(spec.stdin)

    def _staging_path(self, paths: StepPaths, step_key: str, view_path: str) -> str:
        """The host path that appears at ``view_path`` in the step's view, its directory created."""
        try:
            host = paths.staging_path(view_path, self._isolated)
        except ValueError as error:
            raise ExecutorError(f"step {step_key}: {error}") from None
        if self._isolated and is_under(view_path, "/tmp"):
            paths.make_tmp()
        os.makedirs(os.path.dirname(host), exist_ok=True)
        return host

    def _env(self, env: Mapping[str, str], toolbox: str | None) -> dict[str, str]:
        merged = {"PATH": DEFAULT_PATH, "HOME": os.path.expanduser("~"), **env}
        merged["PATH"] = f"{merged['PATH']}:{self._tool_dir}"
        if toolbox:
            merged["PATH"] = f"{toolbox}:{merged['PATH']}"
        return merged

    def _toolbox_dir(self, image: str) -> str | None:
        """A directory of the image's userland to put first on PATH (see ``ImageConfig.toolbox``).

        For ``busybox``: every applet of the host's busybox, or, without busybox, bash as ``sh``
        (bash keeps ash features such as ``$RANDOM`` that the host's dash lacks).
        """
        config = self._images.lookup(image)
        if config is None or config.toolbox is None:
            return None
        # Next to the interpreter rather than under the executor root: the root may be under /tmp,
        # which an isolated step sees as its own empty /tmp.
        directory = os.path.join(sys.prefix, "share", "triggerfish", "toolbox", config.toolbox)
        if os.path.isdir(directory):
            return directory
        staging = directory + f".{os.getpid()}"
        os.makedirs(staging, exist_ok=True)
        busybox = shutil.which("busybox") if config.toolbox == "busybox" else None
        if busybox is not None:
            listing = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout
            for applet in listing.split():
                os.symlink(busybox, os.path.join(staging, applet))
        else:
            bash = shutil.which("bash")
            if bash is None:
                shutil.rmtree(staging)
                return None
            os.symlink(bash, os.path.join(staging, "sh"))
        try:
            os.rename(staging, directory)
        except OSError:  # another process made it first
            shutil.rmtree(staging, ignore_errors=True)
        return directory

    def _lost(self, key: str, why: str) -> StepLost:
        launch = read_json(self._paths(key).launch)
        if launch is None:
            detail = "it has no launch record either"
        else:
            started = datetime.fromtimestamp(launch["started_at"], UTC).isoformat()
            detail = f"it was launched as pid {launch['pid']} at {started}"
        return StepLost(f"step {key} has no exit record and {why}; {detail}")


def _step_exit(record: dict[str, Any]) -> StepExit:
    return StepExit(
        exit_code=record["exit_code"],
        started_at=datetime.fromtimestamp(record["started_at"], UTC),
        finished_at=datetime.fromtimestamp(record["finished_at"], UTC),
        reason=record["reason"],
        message=record["message"],
    )


def _isolation_message(problem: str) -> str:
    return (
        f"step isolation is unavailable: {problem}. The local executor gives each step a private view of "
        "the filesystem (an overlay mount in its own mount namespace); run the hub as root on a kernel "
        "with overlayfs, or create the LocalExecutor with isolation='none' to run steps directly on the "
        "host filesystem (steps then share /tmp and every other path with each other and the host)."
    )
