"""The executor contract: how the controller runs one step (Argo's "pod") and reads its results.

The controller never knows whether a step is a host process, a container or a Kubernetes pod.
It hands over a fully rendered :class:`StepSpec` (no ``{{...}}`` left), waits for a
:class:`StepExit`, then reads output files and logs through the same executor.  Every method is
keyed by ``step_key`` (``"<workflow uid>/<pod name>"``), so a new hub process can reattach to a
step an earlier process started: :meth:`Executor.wait` works for any step the executor has a
record of, and raises :class:`StepLost` when it has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

LogStream = Literal["stdout", "stderr"]


@dataclass(frozen=True, slots=True)
class StepSpec:
    """Everything needed to run one step, already rendered."""

    step_key: str
    image: str
    command: list[str]
    """The template's ``command``; empty means "use the image's entrypoint" (like a container runtime,
    resolved by the executor; for the local executor from the configured image table)."""
    args: list[str] = field(default_factory=list)
    """The template's ``args``; empty means "use the image's default arguments" when command is empty."""
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    files: Mapping[str, bytes] = field(default_factory=dict)
    """Absolute paths inside the step's view to create before start (script source, input artifacts)."""
    file_modes: Mapping[str, int] = field(default_factory=dict)
    """Permission bits for entries of ``files`` (default 0o644), e.g. 0o755 for a script."""
    input_paths: Mapping[str, Path] = field(default_factory=dict)
    """Absolute paths inside the step's view → host files or directories to copy there before start
    (input artifacts too large or too deep for ``files``)."""
    output_paths: tuple[str, ...] = ()
    """Paths the controller will read after the step ends (output parameters and artifacts)."""
    stdin: bytes | None = None
    resources: Mapping[str, str] = field(default_factory=dict)
    """Resource limits as Kubernetes quantities (``cpu: 500m``, ``memory: 64Mi``), from the template's
    ``resources.limits``; container executors enforce them."""


@dataclass(frozen=True, slots=True)
class StepExit:
    """How a step ended."""

    exit_code: int
    """Process exit code; 128+N when killed by signal N (like a container runtime)."""
    started_at: datetime
    finished_at: datetime
    reason: Literal["Completed", "Error", "Killed", "OOMKilled"] = "Completed"
    message: str = ""


class ExecutorError(Exception):
    """The executor could not start or track a step (Argo would put the node in phase Error)."""


class StepLost(ExecutorError):
    """The executor has no record of the step (e.g. it was started before a crash that also took the
    executor down).  Argo's equivalent is "pod deleted": the node errors and may be retried."""


class Executor(Protocol):
    """Runs steps; implementations: local host processes, podman/docker containers, Kubernetes pods."""

    async def start(self, spec: StepSpec) -> None:
        """Launch the step. Returns once the executor has durably recorded it (reattachable)."""

    async def wait(self, step_key: str) -> StepExit:
        """Wait until the step ends. Also valid for steps started by an earlier hub process."""

    async def kill(self, step_key: str, grace_seconds: float) -> None:
        """SIGTERM the step, SIGKILL after ``grace_seconds``; no-op if it already ended."""

    def read_file(self, step_key: str, path: str) -> bytes | None:
        """Content of ``path`` as the step saw it after it ended, or None if absent."""

    def materialize(self, step_key: str, path: str) -> Path | None:
        """A host path holding the file or directory ``path`` from the step's view, or None."""

    def read_log(self, step_key: str, stream: LogStream, tail_bytes: int | None = None) -> bytes:
        """The step's stdout or stderr (the last ``tail_bytes`` bytes when given)."""

    async def cleanup(self, step_key: str) -> None:
        """Release what the step holds (mounts, containers) but keep its logs."""

    async def discard(self, step_key: str) -> None:
        """Forget a finished step entirely (logs included), so the same key can run again (retry)."""

    async def close(self) -> None:
        """Stop using the executor; running steps keep running (they can be reattached)."""
