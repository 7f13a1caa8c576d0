"""SqlBus on PostgreSQL: the shared bus contract against a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.bus.contract import BusContract, BusFactory, RecordCountRetentionContract
from tests.support.postgres import PostgresServer
from triggerfish.bus.sqlite import Retention, SqlBus
from triggerfish.store.db import open_database


@pytest.fixture
async def bus_factory(postgres: PostgresServer) -> AsyncIterator[BusFactory]:
    url = postgres.create_database("sqlbus")
    made: list[tuple[AsyncEngine, SqlBus]] = []

    async def make(*, max_records: int | None = None, max_age_seconds: float | None = None) -> SqlBus:
        engine = await open_database(url)
        bus = SqlBus(engine, retention=Retention(max_age_seconds, max_records, check_interval_seconds=0))
        made.append((engine, bus))
        return bus

    yield make
    for engine, bus in made:
        await bus.close()
        await engine.dispose()


class TestSqlBusOnPostgresContract(BusContract, RecordCountRetentionContract):
    pass
