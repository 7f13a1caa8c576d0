"""Fixtures for the container executor's tests: real engines (podman, and docker on a private daemon)
with locally built images, one per test session; executors on per-test roots."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.containers import EngineUnderTest, engine_context
from workflow_runtime.executors.container.executor import LABEL_ROOT, ContainerExecutor

MakeExecutor = Callable[..., ContainerExecutor]


@pytest.fixture(scope="session", params=["podman", "docker"])
def engine(request: pytest.FixtureRequest) -> Iterator[EngineUnderTest]:
    with engine_context(request.param) as running:
        yield running


@pytest.fixture(scope="session")
def podman_engine() -> Iterator[EngineUnderTest]:
    """Podman alone, for the slower whole-hub tests that need not run on both engines."""
    with engine_context("podman") as running:
        yield running


@pytest.fixture
async def make_executor(engine: EngineUnderTest, tmp_path: Path) -> AsyncIterator[MakeExecutor]:
    """Executors on one root; containers they leave are removed after the test."""
    created: list[ContainerExecutor] = []

    def make(**kwargs: Any) -> ContainerExecutor:
        executor = ContainerExecutor(
            tmp_path / "executor", engine.name, docker_host=engine.docker_host, **kwargs
        )
        created.append(executor)
        return executor

    yield make
    for executor in created:
        await executor.close()
    if created:
        leftovers = engine.run("ps", "-aq", "--filter", f"label={LABEL_ROOT}={created[0].root}")
        if leftovers.stdout.split():
            engine.run("rm", "-f", *leftovers.stdout.split())


@pytest.fixture
def executor(make_executor: MakeExecutor) -> ContainerExecutor:
    return make_executor(kill_grace_seconds=1.0)
