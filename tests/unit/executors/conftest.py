"""A factory for LocalExecutors on a temporary root whose agents are stopped after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from workflow_runtime.executors.local.executor import LocalExecutor


@pytest.fixture
async def make_executor(tmp_path: Path) -> AsyncIterator[Callable[..., LocalExecutor]]:
    """``make_executor(**kwargs)``: isolation 'none' and a root under tmp_path unless given."""
    created: list[LocalExecutor] = []

    def make(root: Path | None = None, **kwargs: Any) -> LocalExecutor:
        kwargs.setdefault("isolation", "none")
        kwargs.setdefault("agent_idle_timeout", 10.0)
        executor = LocalExecutor(root or tmp_path / "executor", **kwargs)
        created.append(executor)
        return executor

    yield make
    for executor in created:
        await executor.stop_agent()
        await executor.close()
