"""ContainerExecutor: each step runs in its own podman or docker container.

A step is one attached ``<engine> run`` (the *runner*), started in a session of its own with its stdout
and stderr going straight to the step's log files: it ends when the container ends and its exit code is
the step's, so a step costs one engine command on its critical path, like the bare ``run --rm`` it
stands for.  The runner does not depend on the hub, and the container is kept until :meth:`cleanup`,
so a restarted hub reattaches by container name (``<engine> wait``, ``inspect``, ``logs``).  Input
files are bind mounts of private copies, as Argo mounts its script and artifacts; output paths are
copied out of the stopped container when it ends, so they stay readable after cleanup removed it.
Every step runs under ``run --init`` (a tiny init as PID 1 that forwards signals, as Argo's emissary
wraps the command), so a kill's SIGTERM reaches a command that installs no handler for it.

On disk, under the executor root (stdlib + orjson records, shared with :mod:`..local.layout`)::

    <root>/<workflow uid>/<pod name>/
        record.json          engine, container name, runner pid, output paths  (written before the run)
        staged/              private copies of StepSpec.files and input_paths, bind-mounted in the container
        stdin stdout.log stderr.log
        killed               a kill was requested: an exit by signal is then "Killed"
        outputs/             the output paths, copied out after the exit
        exit.json            how it ended, or why the engine could not run it
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import posixpath
import re
import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NoReturn

from workflow_runtime.executors.base import ExecutorError, LogStream, StepExit, StepLost, StepSpec
from workflow_runtime.executors.container.engine import (
    ENGINES,
    ContainerState,
    Engine,
    EngineName,
    NoSuchContainer,
    copy_entry,
    resolve_in_root,
)
from workflow_runtime.executors.container.resources import resource_flags
from workflow_runtime.executors.local.layout import check_step_key, is_under, read_json, write_json_atomic

PullPolicy = Literal["never", "missing"]

LABEL_STEP = "io.triggerfish.step"
LABEL_ROOT = "io.triggerfish.root"
"""Labels on every container, so leftovers of one executor root can be found (``--filter label=...``)."""

_POLL_SECONDS = 0.05
"""While the runner is alive but its container is not created (or started) yet."""
_MOUNT_UNSAFE = frozenset(',"\n')
_INIT_EXEC_FAILED = re.compile(
    r"^(?:ERROR \(catatonit:\d+\): failed to exec pid1|\[FATAL tini \(\d+\)\] exec .* failed)"
    r": (?P<reason>.*)$"
)
"""The last stderr line of podman's (catatonit) or docker's (tini) ``--init`` when the exec failed."""


class StepDir:
    """The files of one step under the executor root."""

    def __init__(self, root: Path, key: str) -> None:
        check_step_key(key)
        self.dir = root / key
        self.record = self.dir / "record.json"
        self.staged = self.dir / "staged"
        self.stdin = self.dir / "stdin"
        self.stdout = self.dir / "stdout.log"
        self.stderr = self.dir / "stderr.log"
        self.killed = self.dir / "killed"
        self.outputs = self.dir / "outputs"
        self.exit = self.dir / "exit.json"


class ContainerExecutor:
    """Runs steps as containers of ``engine`` (see :mod:`workflow_runtime.executors.base`).

    ``network`` is the ``--network`` of every step (``host``: steps reach the hub and services on
    loopback), ``run_args`` extra ``run`` flags, ``pull_policy`` the ``--pull`` policy.  At most
    ``max_parallel_steps`` containers started by this object run at once; further starts wait.
    ``docker_host`` is docker's ``-H`` (the CLI's default when None).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        engine: EngineName,
        *,
        network: str = "host",
        run_args: Sequence[str] = (),
        pull_policy: PullPolicy = "missing",
        docker_host: str | None = None,
        max_parallel_steps: int = 32,
        kill_grace_seconds: float = 30.0,
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {sorted(ENGINES)}, got {engine!r}")
        if max_parallel_steps < 1:
            raise ValueError("max_parallel_steps must be at least 1")
        binary = shutil.which(engine)
        if binary is None:
            raise ExecutorError(
                f"the container executor needs {engine}, which is not installed "
                f"(Debian: apt-get install {'podman' if engine == 'podman' else 'docker.io'})"
            )
        self._root = Path(os.path.abspath(root))
        self._root.mkdir(parents=True, exist_ok=True)
        global_args = ["-H", docker_host] if engine == "docker" and docker_host else []
        self.engine: Engine = ENGINES[engine](binary, global_args)
        self._run_flags = ["--init", "--network", network, "--pull", pull_policy, *run_args]
        self._slots = asyncio.Semaphore(max_parallel_steps)
        self._kill_grace = kill_grace_seconds
        self._runners: dict[str, asyncio.subprocess.Process] = {}
        self._exits: dict[str, asyncio.Future[StepExit]] = {}

    @property
    def root(self) -> Path:
        return self._root

    def container_name(self, step_key: str) -> str:
        """Unique per executor root and step, and readable in ``podman ps`` (it ends with the pod name)."""
        digest = hashlib.sha256(f"{self._root}\0{step_key}".encode()).hexdigest()[:12]
        return f"tf-{digest}-{step_key.rsplit('/', 1)[-1]}"

    # -- Executor protocol -------------------------------------------------------------------------

    async def start(self, spec: StepSpec) -> None:
        """Launch a step; a no-op for a step already launched (possibly by an earlier hub process)."""
        key = spec.step_key
        step = self._dir(key)
        if key in self._exits or step.record.exists() or step.exit.exists():
            return
        if not spec.image:
            raise ExecutorError(f"step {key} names no image")
        limits = resource_flags(spec.resources)
        await self._slots.acquire()
        try:
            runner, record = await self._launch(step, spec, limits)
        except BaseException as error:
            self._slots.release()
            shutil.rmtree(step.dir, ignore_errors=True)
            if isinstance(error, OSError):
                raise ExecutorError(f"step {key}: {error}") from error
            raise
        self._runners[key] = runner
        self._exits[key] = asyncio.ensure_future(self._run_to_end(key, runner, record))

    async def wait(self, step_key: str) -> StepExit:
        exit_future = self._exits.get(step_key)
        if exit_future is None:
            exit_future = self._exits[step_key] = asyncio.ensure_future(self._reattach(step_key))
        try:
            return await asyncio.shield(exit_future)
        finally:
            if exit_future.done() and self._exits.get(step_key) is exit_future:
                del self._exits[step_key]

    async def kill(self, step_key: str, grace_seconds: float | None = None) -> None:
        step = self._dir(step_key)
        record = read_json(str(step.record))
        if record is None or step.exit.exists():
            return
        step.killed.touch()
        grace = self._kill_grace if grace_seconds is None else grace_seconds
        while True:
            with contextlib.suppress(NoSuchContainer):
                await self.engine.stop(record["container"], grace)
            state = await self.engine.inspect(record["container"])
            if (state is not None and state.ended) or not self._runner_alive(step_key):
                return
            await asyncio.sleep(_POLL_SECONDS)  # stopped before the runner started it: stop it again

    def read_file(self, step_key: str, path: str) -> bytes | None:
        found = self.materialize(step_key, path)
        if found is None or not found.is_file():
            return None
        return found.read_bytes()

    def materialize(self, step_key: str, path: str) -> Path | None:
        if not path.startswith("/"):
            raise ValueError(f"step paths are absolute, got {path!r}")
        outputs = self._dir(step_key).outputs
        found = resolve_in_root(str(outputs), path) if outputs.is_dir() else None
        return Path(found) if found is not None and found != str(outputs) else None

    def read_log(self, step_key: str, stream: LogStream, tail_bytes: int | None = None) -> bytes:
        step = self._dir(step_key)
        try:
            with open(step.stdout if stream == "stdout" else step.stderr, "rb") as log:
                if tail_bytes is not None:
                    log.seek(0, os.SEEK_END)
                    log.seek(max(0, log.tell() - tail_bytes))
                return log.read()
        except FileNotFoundError:
            return b""

    async def cleanup(self, step_key: str) -> None:
        """Remove the container and the staged inputs; logs, outputs and the exit record stay."""
        step = self._dir(step_key)
        record = await self._settled_record(step_key, "cleanup")
        if record is not None:
            await self.engine.remove(record["container"])
        shutil.rmtree(step.staged, ignore_errors=True)
        step.stdin.unlink(missing_ok=True)

    async def discard(self, step_key: str) -> None:
        step = self._dir(step_key)
        record = await self._settled_record(step_key, "discarding it")
        if record is not None:
            await self.engine.remove(record["container"])
        self._exits.pop(step_key, None)
        shutil.rmtree(step.dir, ignore_errors=True)

    async def close(self) -> None:
        """Stop following steps; their containers and runners go on, for a later :meth:`wait`."""
        for exit_future in self._exits.values():
            exit_future.cancel()
        self._exits.clear()
        self._runners.clear()

    # -- running -----------------------------------------------------------------------------------

    async def _launch(
        self, step: StepDir, spec: StepSpec, limits: Sequence[str]
    ) -> tuple[asyncio.subprocess.Process, dict[str, Any]]:
        """Stage the inputs, record the step, then start its runner (the record comes first, so a
        second ``start`` after a crash is a no-op instead of a second container)."""
        workdir = spec.working_dir
        if workdir and not await self.engine.lacks_directory(spec.image, workdir):
            workdir = None  # in the image already
        mounts = self._stage(step, spec, workdir)
        container = self.container_name(spec.step_key)
        record: dict[str, Any] = {
            "engine": self.engine.name,
            "container": container,
            "command": spec.command[0] if spec.command else None,
            "memory_limit": "memory" in spec.resources,
            "output_paths": list(spec.output_paths),
            "mounts": mounts,
            "started_at": time.time(),
            "runner_pid": None,
            "runner_start": None,
        }
        write_json_atomic(str(step.record), record)
        argv = self.engine.argv("run", *self._run_options(spec, container, mounts, limits))
        with contextlib.ExitStack() as files:
            stdin = files.enter_context(open(step.stdin, "rb")) if spec.stdin is not None else None
            runner = await asyncio.create_subprocess_exec(
                *argv,
                stdin=stdin or asyncio.subprocess.DEVNULL,
                stdout=files.enter_context(open(step.stdout, "ab")),
                stderr=files.enter_context(open(step.stderr, "ab")),
                start_new_session=True,  # not in the hub's process group: a ^C of the hub spares it
                cwd=step.dir,  # podman's conmon drops an ``oom`` marker file in its working directory
            )
        record.update(runner_pid=runner.pid, runner_start=_process_start(runner.pid))
        write_json_atomic(str(step.record), record)
        return runner, record

    def _run_options(
        self, spec: StepSpec, container: str, mounts: Mapping[str, str], limits: Sequence[str]
    ) -> list[str]:
        options = ["--name", container, "--label", f"{LABEL_STEP}={spec.step_key}"]
        options += ["--label", f"{LABEL_ROOT}={self._root}", *self._run_flags, *limits]
        for name, value in spec.env.items():
            options += ["--env", f"{name}={value}"]
        for inside, host in mounts.items():
            options += ["--mount", f"type=bind,source={host},destination={inside}"]
        if spec.working_dir:
            options += ["--workdir", spec.working_dir]
        if spec.stdin is not None:
            options.append("--interactive")
        rest = [*spec.command[1:], *spec.args]
        if spec.command:  # Kubernetes: a command replaces the entrypoint and drops the image's cmd
            options += ["--entrypoint", spec.command[0]]
        return [*options, spec.image, *rest]

    def _stage(self, step: StepDir, spec: StepSpec, workdir: str | None) -> dict[str, str]:
        """Private copies of the step's input files, and where each is mounted: {path inside: host}.
        ``workdir``: an empty directory to mount there, for an engine that would not create it."""
        mounts: dict[str, str] = {}
        sources: list[tuple[str, bytes | Path]] = [*spec.files.items(), *spec.input_paths.items()]
        if workdir:
            _check_mount_point(spec.step_key, workdir)
            (step.staged / "workdir").mkdir(parents=True)
            mounts[workdir] = str(step.staged / "workdir")
        if sources:
            step.staged.mkdir(parents=True, exist_ok=True)
        for index, (inside, source) in enumerate(sources):
            _check_mount_point(spec.step_key, inside)
            host = step.staged / str(index)
            if isinstance(source, bytes):
                host.write_bytes(source)
                host.chmod(spec.file_modes.get(inside, 0o644))
            elif source.is_dir():
                shutil.copytree(source, host, symlinks=True)
            else:
                shutil.copy2(source, host)
            mounts[inside] = str(host)
        step.dir.mkdir(parents=True, exist_ok=True)
        if spec.stdin is not None:
            step.stdin.write_bytes(spec.stdin)
        return mounts

    async def _run_to_end(
        self, key: str, runner: asyncio.subprocess.Process, record: dict[str, Any]
    ) -> StepExit:
        try:
            code = await runner.wait()
        finally:
            self._slots.release()
            self._runners.pop(key, None)
        if code == 0:
            started = datetime.fromtimestamp(record["started_at"], UTC)
            return await self._conclude(key, record, StepExit(0, started, datetime.now(UTC)))
        return await self._settle(key, record, runner_code=code)

    async def _reattach(self, key: str) -> StepExit:
        """Follow a step this object did not start (e.g. started before a hub restart)."""
        step = self._dir(key)
        ended = read_json(str(step.exit))
        if ended is not None:
            return _step_exit(ended)
        record = read_json(str(step.record))
        if record is None:
            raise StepLost(f"step {key} has no record under {self._root}")
        return await self._settle(key, record, runner_code=None)

    async def _settle(self, key: str, record: dict[str, Any], runner_code: int | None) -> StepExit:
        """Find out how the container ended, from the engine: after the runner failed (``runner_code``),
        or on reattach (None), where the runner may still be starting the container."""
        container = record["container"]
        state = await self.engine.inspect(container)
        while (state is None or state.never_started) and self._runner_alive(key):
            await asyncio.sleep(_POLL_SECONDS)
            state = await self.engine.inspect(container)
        if state is None:
            if runner_code is None:
                raise StepLost(f"step {key}: its container {container} is gone and its runner has ended")
            self._fail(key, self._runner_error(key, runner_code))
        started = state.started_at or datetime.fromtimestamp(record["started_at"], UTC)
        if state.never_started:
            code = runner_code or state.exit_code or 127
            message = state.error or self._runner_error(key, code)
            return await self._conclude(
                key, record, StepExit(code, started, datetime.now(UTC), "Error", message)
            )
        logs_complete = runner_code is not None and state.ended
        if not state.ended:  # the runner died, or belongs to a dead hub: the engine tells the end
            await self.engine.wait(container)
            state = await self.engine.inspect(container) or state
        if not logs_complete:  # the runner may have died before the container: take the engine's copy
            await self.engine.save_logs(container, self._dir(key).stdout, self._dir(key).stderr)
        return await self._conclude(key, record, self._exit_from_state(key, record, state, started))

    def _exit_from_state(
        self, key: str, record: Mapping[str, Any], state: ContainerState, started: datetime
    ) -> StepExit:
        finished = state.finished_at or datetime.now(UTC)
        code = state.exit_code
        killed = self._dir(key).killed.exists()
        if state.oom_killed or (code == 137 and record.get("memory_limit") and not killed):
            # podman 4.3 on cgroup v1 never sets OOMKilled: a SIGKILL nobody asked for under a memory
            # limit is taken for the kernel's OOM killer, as Kubernetes would report it
            return StepExit(code, started, finished, "OOMKilled")
        if code > 128 and killed:
            return StepExit(
                code, started, finished, "Killed", f"terminated by signal {_signal_name(code - 128)}"
            )
        if code in (1, 127):
            failed_exec = self._init_exec_failure(key)
            if failed_exec is not None:
                return StepExit(127, started, finished, "Error", failed_exec)
        return StepExit(code, started, finished, "Completed" if code == 0 else "Error")

    def _init_exec_failure(self, key: str) -> str | None:
        """Why ``run --init``'s init could not start the command (catatonit exits 1, tini 127), from
        the init's last words on stderr; the exit code is made 127 either way, as a shell's."""
        lines = self.read_log(key, "stderr", tail_bytes=1024).decode(errors="replace").splitlines()
        match = _INIT_EXEC_FAILED.match(lines[-1]) if lines else None
        if match is None:
            return None
        command = (read_json(str(self._dir(key).record)) or {}).get("command")
        what = f"the command {command!r}" if command else "the image's entrypoint"
        return f"could not run {what}: {match['reason']}"

    def _fail(self, key: str, error: str) -> NoReturn:
        """The engine could not run the step at all: record why, for later waits too."""
        write_json_atomic(str(self._dir(key).exit), {"error": error})
        raise ExecutorError(error)

    async def _conclude(self, key: str, record: dict[str, Any], result: StepExit) -> StepExit:
        """Copy the outputs out of the container, then write the exit record."""
        step = self._dir(key)
        shutil.rmtree(step.outputs, ignore_errors=True)
        wanted = {posixpath.normpath(p) for p in record["output_paths"] if p.startswith("/")}
        outermost = [p for p in wanted if not any(q != p and is_under(p, q) for q in wanted)]
        from_engine = []
        for path in outermost:
            step.outputs.mkdir(exist_ok=True)
            staged = _mounted_source(record["mounts"], path)
            if staged is None:
                from_engine.append(path)
            elif os.path.exists(staged):
                copy_entry(staged, step.outputs, path)
        if from_engine:
            await self.engine.export(record["container"], from_engine, step.outputs)
            for inside, host in record["mounts"].items():  # the container shows empty mount points
                if any(is_under(inside, path) for path in from_engine) and os.path.exists(host):
                    copy_entry(host, step.outputs, inside)
        write_json_atomic(
            str(step.exit),
            {
                "exit_code": result.exit_code,
                "started_at": result.started_at.timestamp(),
                "finished_at": result.finished_at.timestamp(),
                "reason": result.reason,
                "message": result.message,
            },
        )
        return result

    # -- helpers -----------------------------------------------------------------------------------

    def _dir(self, key: str) -> StepDir:
        try:
            return StepDir(self._root, key)
        except ValueError as error:
            raise ExecutorError(str(error)) from None

    def _runner_alive(self, key: str) -> bool:
        runner = self._runners.get(key)
        if runner is not None:
            return runner.returncode is None
        record = read_json(str(self._dir(key).record)) or {}
        pid = record.get("runner_pid")
        started = _process_start(pid) if pid is not None else None
        return started is not None and started == record.get("runner_start")

    def _runner_error(self, key: str, code: int) -> str:
        """The engine's own complaint: the last line the runner wrote to stderr."""
        lines = self.read_log(key, "stderr", tail_bytes=4096).decode(errors="replace").strip().splitlines()
        detail = lines[-1] if lines else "no message"
        return f"{self.engine.name} could not run the step (exit {code}): {detail}"

    async def _settled_record(self, key: str, doing: str) -> dict[str, Any] | None:
        """The step's record once it has ended and its exit is recorded; ExecutorError while it runs."""
        step = self._dir(key)
        record = read_json(str(step.record))
        if record is None or step.exit.exists():
            return record
        state = await self.engine.inspect(record["container"])
        running = state is not None and not state.ended and not state.never_started
        if running or self._runner_alive(key):
            raise ExecutorError(f"step {key} is still running: kill it and wait before {doing}")
        with contextlib.suppress(ExecutorError):
            await self.wait(key)  # copies its outputs and logs before the container goes
        return record


def _check_mount_point(key: str, inside: str) -> None:
    if not inside.startswith("/") or posixpath.normpath(inside) != inside:
        raise ExecutorError(f"step {key}: mount path must be absolute and normalised: {inside!r}")
    if _MOUNT_UNSAFE.intersection(inside):
        raise ExecutorError(f"step {key}: mount path {inside!r} has a ',', '\"' or newline")


def _mounted_source(mounts: Mapping[str, str], path: str) -> str | None:
    """The staged host copy holding ``path`` when it lies in a bind-mounted input (the container's
    own filesystem shows only the empty mount point there)."""
    for inside, host in mounts.items():
        if is_under(path, inside):
            return host + path[len(inside) :]
    return None


def _process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (tells a live runner from a recycled pid)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[19]) if fields[0] not in (b"Z", b"X") else None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _step_exit(record: dict[str, Any]) -> StepExit:
    if "error" in record:
        raise ExecutorError(record["error"])
    return StepExit(
        exit_code=record["exit_code"],
        started_at=datetime.fromtimestamp(record["started_at"], UTC),
        finished_at=datetime.fromtimestamp(record["finished_at"], UTC),
        reason=record["reason"],
        message=record["message"],
    )
