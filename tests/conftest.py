"""Shared fixtures: a migrated SQLite store in a temporary directory, a controller over a fake executor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.fake_executor import FakeExecutor
from triggerfish.store.db import open_database, sqlite_url
from triggerfish.store.resources import ResourceStore
from triggerfish.store.workflows import WorkflowStore
from workflow_runtime.controller.controller import Controller
from workflow_runtime.controller.run import RunSettings


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[WorkflowStore, ResourceStore]]:
    engine = await open_database(sqlite_url(tmp_path))
    yield WorkflowStore(engine), ResourceStore(engine)
    await engine.dispose()


@pytest.fixture
def fake_executor() -> FakeExecutor:
    return FakeExecutor()


@pytest.fixture
async def controller(
    stores: tuple[WorkflowStore, ResourceStore], fake_executor: FakeExecutor
) -> AsyncIterator[Controller]:
    workflows, resources = stores
    controller = Controller(workflows, resources, fake_executor, RunSettings(kill_grace_seconds=0.1))
    await controller.start()
    yield controller
    await controller.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``minio`` run last: ``make test`` builds MinIO in the background (about 6 minutes
    cold), so the rest of the suite runs while it builds instead of waiting for it."""
    items.sort(key=lambda item: item.get_closest_marker("minio") is not None)
