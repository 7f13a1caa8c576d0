"""The store's test suites, run again on PostgreSQL: the same schema and migrations, the same behaviour.

The modules below test the repositories on SQLite through the fixtures ``stores`` (workflows and
templates, with the controller's persistence and resume), ``engine`` (sensor state, trigger
firings) and ``tick_store`` (schedules). Importing their tests here and overriding those fixtures
with a migrated PostgreSQL database runs every one of them against a real server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from sensors.state import SensorState
from tests.eventsources.test_schedule_store import *  # noqa: F403
from tests.sensors.helpers import T0
from tests.sensors.test_runtime import *  # noqa: F403
from tests.support.postgres import PostgresServer
from tests.triggers.test_firings import (  # noqa: F401
    test_claims_go_to_one_replica_until_they_expire,
    test_firings_created_claimed_belong_to_their_replica_until_the_lease_ends,
    test_insert_if_absent_and_transitions,
)
from tests.unit.controller.conftest import _rich_fake  # noqa: F401
from tests.unit.controller.test_persistence import *  # noqa: F403
from triggerfish.store.db import open_database
from triggerfish.store.resources import ResourceStore
from triggerfish.store.schedules import ScheduleTickStore
from triggerfish.store.workflows import WorkflowStore


@pytest.fixture
async def engine(postgres: PostgresServer) -> AsyncIterator[AsyncEngine]:
    engine = await open_database(postgres.create_database("parity"))
    yield engine
    await engine.dispose()


@pytest.fixture
def stores(engine: AsyncEngine) -> tuple[WorkflowStore, ResourceStore]:
    return WorkflowStore(engine), ResourceStore(engine)


@pytest.fixture
def tick_store(engine: AsyncEngine) -> ScheduleTickStore:
    return ScheduleTickStore(engine)


async def test_the_schema_is_postgresql_native(engine: AsyncEngine) -> None:
    assert engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg"
    async with engine.connect() as conn:
        types: dict[str, str] = dict(
            (
                await conn.execute(
                    sa.text(
                        "select column_name, data_type from information_schema.columns "
                        "where table_name = 'workflows'"
                    )
                )
            ).all()
        )
        head = await conn.scalar(sa.text("select version_num from alembic_version"))
    assert types["manifest"] == "jsonb" and types["created_at"] == "timestamp with time zone"
    assert types["owner"] == "character varying" and types["lease_until"] == "timestamp with time zone"
    assert head == "0005"


async def test_replicas_recording_the_same_deliveries_at_once_do_not_deadlock(engine: AsyncEngine) -> None:
    """After a rebalance two replicas may apply the same events, in different orders: each records
    those it got first, together all of them once, and PostgreSQL finds no deadlock."""
    state = SensorState("default", "s")

    async def record(deliveries: list[tuple[int, list[str]]]) -> set[int]:
        async with engine.begin() as conn:
            return await state.record_deliveries(conn, deliveries, T0)

    for round_ in range(10):
        deliveries = [(round_ * 1000 + n, ["dep-a"]) for n in range(300)]
        first, second = await asyncio.gather(record(deliveries), record(list(reversed(deliveries))))
        assert first.isdisjoint(second) and first | second == {offset for offset, _ in deliveries}
