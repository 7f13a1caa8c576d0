"""The SQLite driver makes one trip to aiosqlite's thread per statement (cursor, execute, rows, close)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from triggerfish.store.db import open_database, sqlite_url

metadata = sa.MetaData()
items = sa.Table(
    "driver_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, nullable=False, unique=True),
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await open_database(sqlite_url(tmp_path))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@contextmanager
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every call queued to an aiosqlite connection's thread while the block runs."""
    calls: list[Any] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(fn)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield calls


async def test_each_statement_is_one_trip_and_its_results_survive(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with engine.connect() as conn:  # a pooled connection, checked out before counting
        with trips(monkeypatch) as calls:
            inserted = await conn.execute(
                items.insert().returning(items.c.id), [{"name": "a"}, {"name": "b"}, {"name": "c"}]
            )
            assert sorted(row.id for row in inserted) == [1, 2, 3]
            assert len(calls) == 1
            updated = await conn.execute(items.update().where(items.c.id > 1).values(name=items.c.name + "!"))
            assert updated.rowcount == 2
            assert len(calls) == 2
            rows = (await conn.execute(sa.select(items.c.name).order_by(items.c.id))).all()
            assert [row.name for row in rows] == ["a", "b!", "c!"]
            assert len(calls) == 3
            await conn.commit()
            assert len(calls) == 4
            await conn.rollback()  # outside a transaction: nothing to undo, no trip
            assert len(calls) == 4


async def test_a_read_costs_one_trip_including_the_pools_reset(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with engine.begin() as conn:
        await conn.execute(items.insert(), {"name": "a"})
    with trips(monkeypatch) as calls:
        async with engine.connect() as conn:
            assert await conn.scalar(sa.select(sa.func.count()).select_from(items)) == 1
    assert len(calls) == 1


async def test_a_rollback_inside_a_transaction_undoes_it(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(items.insert(), {"name": "undone"})
        await conn.rollback()
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(items)) == 0


async def test_driver_errors_keep_their_dbapi_class(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(items.insert(), {"name": "same"})
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(items.insert(), {"name": "same"})
    async with engine.connect() as conn:  # the connection that failed went back to the pool usable
        assert await conn.scalar(sa.select(sa.func.count()).select_from(items)) == 1
