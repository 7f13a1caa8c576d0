"""SqlBus on SQLite: the shared bus contract, plus what only this driver promises."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.bus.contract import (
    BusContract,
    BusFactory,
    RecordCountRetentionContract,
    event,
    eventually_gone,
    ids,
    publish_all,
    take,
)
from triggerfish.bus.sqlite import BusClosed, GroupBusy, Retention, SqlBus
from triggerfish.store.db import open_database, sqlite_url


@pytest.fixture
async def bus_factory(tmp_path: Path) -> AsyncIterator[BusFactory]:
    """Each call opens a new engine and bus on the same database file, as a restarted hub would."""
    made: list[tuple[AsyncEngine, SqlBus]] = []

    async def make(*, max_records: int | None = None, max_age_seconds: float | None = None) -> SqlBus:
        engine = await open_database(sqlite_url(tmp_path))
        retention = Retention(max_age_seconds, max_records, check_interval_seconds=0)
        bus = SqlBus(engine, retention=retention)
        made.append((engine, bus))
        return bus

    yield make
    for engine, bus in made:
        await bus.close()
        await engine.dispose()


@pytest.fixture
async def bus(bus_factory: BusFactory) -> SqlBus:
    return await sql_bus(bus_factory)


async def sql_bus(bus_factory: BusFactory, **retention: Any) -> SqlBus:
    made = await bus_factory(**retention)
    assert isinstance(made, SqlBus)
    return made


class TestSqlBusContract(BusContract, RecordCountRetentionContract):
    pass


@contextmanager
def counting(engine: AsyncEngine | type[Engine], what: str) -> Iterator[list[Any]]:
    """Every ``what`` engine event (``before_cursor_execute``, ``commit``) while the block runs, on
    ``engine`` or (given the ``Engine`` class) on every engine, the bus writer's own included."""
    seen: list[Any] = []
    target = engine if isinstance(engine, type) else engine.sync_engine

    def listener(*args: Any) -> None:
        seen.append(args)

    sa_event.listen(target, what, listener)
    try:
        yield seen
    finally:
        sa_event.remove(target, what, listener)


async def test_concurrent_publishes_share_transactions(bus: SqlBus) -> None:
    with counting(Engine, "commit") as commits:
        results = await asyncio.gather(*(bus.publish(event(n)) for n in range(500)))
    assert len({r.offset for r in results}) == 500
    assert 1 <= len(commits) <= 50, f"{len(commits)} transactions for 500 concurrent publishes"


async def test_a_subscriber_that_keeps_up_gets_the_published_events_undecoded(
    bus_factory: BusFactory,
) -> None:
    bus = await sql_bus(bus_factory)
    subscription = bus.subscribe("g")
    published = [event(n, data={"n": n, "nested": {"list": [1, "two", None]}}) for n in range(3)]
    waiting = asyncio.create_task(take(subscription, 3))
    await asyncio.sleep(0.05)  # caught up with the (empty) log, it waits for the next batch
    await asyncio.gather(*(bus.publish(e) for e in published))
    records = await waiting
    assert all(r.event is e for r, e in zip(records, published, strict=True))
    restarted = await sql_bus(bus_factory)  # its records come from the table: decoded, and equal
    behind = await take(restarted.subscribe("late"), 3)
    assert [(r.event.get_attributes(), r.event.get_data()) for r in behind] == [
        (e.get_attributes(), e.get_data()) for e in published
    ]
    assert all(r.event is not e for r, e in zip(behind, published, strict=True))


async def test_a_failing_publish_does_not_fail_its_batch(bus: SqlBus) -> None:
    unbindable: Any = object()  # the driver cannot store it: the batch's transaction fails
    results = await asyncio.gather(
        bus.publish(event(1)),
        bus.publish(event(2), key=unbindable),
        bus.publish(event(3)),
        return_exceptions=True,
    )
    assert isinstance(results[1], Exception)
    assert ids(await take(bus.subscribe("g"), 2)) == ["event-1", "event-3"]
    assert not (await bus.publish(event(2))).duplicate


async def test_an_idle_subscriber_does_not_query(bus: SqlBus) -> None:
    subscription = bus.subscribe("g")
    await bus.publish(event(1))
    await take(subscription, 1)
    waiting = asyncio.create_task(take(subscription, 1))
    await asyncio.sleep(0.05)  # it looked once, found nothing and waits
    with counting(bus._engine, "before_cursor_execute") as statements:
        await asyncio.sleep(0.3)
    assert statements == []
    await bus.publish(event(2))
    assert ids(await waiting) == ["event-2"]


async def test_a_group_has_one_subscription_at_a_time(bus: SqlBus) -> None:
    first = bus.subscribe("g")
    with pytest.raises(GroupBusy, match="'g'"):
        bus.subscribe("g")
    bus.subscribe("other")
    await first.close()
    bus.subscribe("g")


async def test_close_finishes_queued_publishes_and_ends_subscriptions(bus: SqlBus) -> None:
    subscription = bus.subscribe("g")
    waiting = asyncio.create_task(take(subscription, 1000))
    await asyncio.sleep(0.05)
    publishes = [asyncio.create_task(bus.publish(event(n))) for n in range(100)]
    await asyncio.sleep(0)  # all of them are queued
    await bus.close()
    assert len({(await p).offset for p in publishes}) == 100
    assert len(await waiting) < 100  # the waiting iteration ended with the bus
    assert await anext(aiter(subscription), None) is None
    with pytest.raises(BusClosed):
        await bus.publish(event(100))
    with pytest.raises(BusClosed):
        bus.subscribe("h")


async def test_latest_start_is_kept_until_the_first_commit(bus: SqlBus) -> None:
    await publish_all(bus, (event(n) for n in range(3)))
    subscription = bus.subscribe("g", start="latest")
    await bus.publish(event(3))
    assert ids(await take(subscription, 1)) == ["event-3"]
    await subscription.close()  # a crash before any commit
    await bus.publish(event(4))
    records = await take(bus.subscribe("g", start="latest"), 2)
    assert ids(records) == ["event-3", "event-4"]


async def test_list_filters_newest_first(bus: SqlBus) -> None:
    for n in range(6):
        source = "github" if n % 2 else "calendar"
        await bus.publish(event(n, source=source))
    github = await bus.list(source="github")
    assert ids(github) == ["event-5", "event-3", "event-1"]
    page = await bus.list(limit=2)
    older = await bus.list(limit=2, before=page[-1].offset)
    assert ids(page + older) == ["event-5", "event-4", "event-3", "event-2"]
    assert ids(await bus.list(after=page[0].offset - 2)) == ["event-5", "event-4"]
    newest = await bus.list(type="webhook", subject="push", namespace="default", limit=1)
    assert [r.offset for r in newest] == [page[0].offset]
    assert await bus.list(namespace="elsewhere") == []
    assert ids(await bus.list(event_id="event-4")) == ["event-4"]


async def test_a_consumer_behind_retention_is_told_what_it_lost(
    bus_factory: BusFactory, caplog: pytest.LogCaptureFixture
) -> None:
    bus = await sql_bus(bus_factory, max_records=5)
    published = await publish_all(bus, (event(n) for n in range(3)))
    subscription = bus.subscribe("slow")
    await subscription.commit((await take(subscription, 1))[0])
    await subscription.close()
    published += await publish_all(bus, (event(n) for n in range(3, 20)))
    await eventually_gone(bus, (p.offset for p in published[1:15]))

    again = bus.subscribe("slow")
    with caplog.at_level(logging.WARNING, logger="triggerfish.bus.sqlite"):
        assert ids(await take(again, 5)) == [f"event-{n}" for n in range(15, 20)]
    assert again.lost == 14
    assert "deleted by retention" in caplog.text


async def test_retention_never_reuses_an_offset(bus_factory: BusFactory) -> None:
    bus = await sql_bus(bus_factory, max_age_seconds=0.05)
    published = await publish_all(bus, (event(n) for n in range(3)))
    await asyncio.sleep(0.1)
    newest = await bus.publish(event(3))
    await eventually_gone(bus, (p.offset for p in published))
    await asyncio.sleep(0.1)  # everything is now older than max_age, yet the newest record stays
    later = await bus.publish(event(4))
    assert later.offset == newest.offset + 1
