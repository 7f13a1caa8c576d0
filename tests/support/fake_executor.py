"""An in-memory executor for controller unit tests: each step's outcome comes from a function.

It honours the Executor contract (start/wait/kill/read_file/read_log) without processes, so the
controller's semantics can be tested fast and deterministically; the real executors have their
own integration tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workflow_runtime.executors.base import LogStream, StepExit, StepLost, StepSpec
from workflow_runtime.state import utcnow


@dataclass
class Outcome:
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    files: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


Behaviour = Callable[[StepSpec], Outcome]


def argv(spec: StepSpec) -> list[str]:
    return [*spec.command, *spec.args]


def echo_behaviour(spec: StepSpec) -> Outcome:
    """Understands a tiny argosay-like language: ``echo MSG [FILE]``, ``exit N``, ``sleep S``, ``fail``."""
    words = argv(spec)
    if words[:1] == ["argosay"]:
        words = words[1:]
    if not words:
        return Outcome(stdout="hello argo\n")
    verb, rest = words[0], words[1:]
    if verb == "echo":
        message = rest[0] if rest else "hello argo"
        if len(rest) > 1:
            return Outcome(files={rest[1]: message})
        return Outcome(stdout=message + "\n")
    if verb == "exit":
        return Outcome(exit_code=int(rest[0]) if rest else 0)
    if verb == "sleep":
        return Outcome(seconds=float(rest[0].rstrip("s")))
    if verb == "fail":
        return Outcome(exit_code=1, stderr="failed\n")
    return Outcome(stdout=" ".join(words) + "\n")


class FakeExecutor:
    def __init__(self, behaviour: Behaviour = echo_behaviour) -> None:
        self.behaviour = behaviour
        self.specs: dict[str, StepSpec] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.exits: dict[str, asyncio.Future[StepExit]] = {}
        self.started: list[str] = []
        self.killed: list[str] = []

    async def start(self, spec: StepSpec) -> None:
        if spec.step_key in self.specs:
            return
        self.specs[spec.step_key] = spec
        self.started.append(spec.step_key)
        outcome = self.behaviour(spec)
        self.outcomes[spec.step_key] = outcome
        future: asyncio.Future[StepExit] = asyncio.get_running_loop().create_future()
        self.exits[spec.step_key] = future
        started = utcnow()

        def finish(code: int) -> None:
            if not future.done():
                future.set_result(StepExit(code, started, utcnow()))

        asyncio.get_running_loop().call_later(outcome.seconds, finish, outcome.exit_code)

    async def wait(self, step_key: str) -> StepExit:
        future = self.exits.get(step_key)
        if future is None:
            raise StepLost(step_key)
        return await asyncio.shield(future)  # a cancelled waiter must not cancel the step itself

    async def kill(self, step_key: str, grace_seconds: float) -> None:
        self.killed.append(step_key)
        future = self.exits.get(step_key)
        if future is not None and not future.done():
            now = utcnow()
            future.set_result(StepExit(143, now, now, reason="Killed"))

    def read_file(self, step_key: str, path: str) -> bytes | None:
        outcome = self.outcomes.get(step_key)
        if outcome is None or path not in outcome.files:
            return None
        return outcome.files[path].encode()

    def materialize(self, step_key: str, path: str) -> Path | None:
        return None

    def read_log(self, step_key: str, stream: LogStream, tail_bytes: int | None = None) -> bytes:
        outcome = self.outcomes.get(step_key)
        if outcome is None:
            return b""
        data = (outcome.stdout if stream == "stdout" else outcome.stderr).encode()
        return data[-tail_bytes:] if tail_bytes else data

    async def cleanup(self, step_key: str) -> None:
        return None

    async def discard(self, step_key: str) -> None:
        for table in (self.specs, self.outcomes, self.exits):
            table.pop(step_key, None)

    async def close(self) -> None:
        return None
