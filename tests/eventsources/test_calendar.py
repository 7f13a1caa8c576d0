"""The calendar source: ticks, ids, data, persistence across restarts, bounded catch-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsources.calendar import CalendarDriver, CalendarSettings, schedule_key
from eventsources.spec import CalendarEventSource
from tests.eventsources.conftest import FakeContext, make_ref
from tests.support.clock import FakeClock
from tests.support.cloudevents import time_of
from triggerfish.store.schedules import ScheduleTickStore

T0 = datetime(2024, 1, 1, 0, 0, 5, tzinfo=UTC)
KEY = "default/calendar/example"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def calendar(**fields: Any) -> CalendarEventSource:
    return CalendarEventSource.model_validate({"interval": "10s"} | fields)


@asynccontextmanager
async def running(
    spec: CalendarEventSource,
    clock: FakeClock,
    ticks: ScheduleTickStore | None = None,
    settings: CalendarSettings | None = None,
    context: FakeContext | None = None,
) -> AsyncIterator[tuple[CalendarDriver, FakeContext]]:
    ctx = context or FakeContext(make_ref("calendar", "example", "calendar"))
    driver = CalendarDriver(ctx, spec, ticks=ticks, clock=clock, settings=settings)
    await driver.start()
    try:
        yield driver, ctx
    finally:
        await driver.stop()


async def test_sleeps_until_the_tick_then_fires_it() -> None:
    clock = FakeClock(T0)
    async with running(calendar(), clock) as (driver, ctx):
        assert await clock.idle() == utc(2024, 1, 1, 0, 0, 10)
        assert ctx.events == []
        await clock.advance_to(utc(2024, 1, 1, 0, 0, 10))
        assert await clock.idle() == utc(2024, 1, 1, 0, 0, 20)
        (event,) = ctx.events
    assert event.get_id() == "default/calendar/example:2024-01-01T00:00:10Z"
    assert event.get_data() == {"eventTime": "2024-01-01 00:00:10 +0000 UTC"}
    assert event.get_time() == utc(2024, 1, 1, 0, 0, 10)
    assert (event.get_type(), event.get_source(), event.get_subject()) == ("calendar", "calendar", "example")
    assert driver.routes() == []


async def test_event_time_is_go_formatted_in_the_schedule_zone_with_metadata() -> None:
    clock = FakeClock(utc(2024, 3, 10, 6))
    spec = calendar(schedule="30 2 * * *", timezone="America/New_York", metadata={"baz": "1.0", "foo": "bar"})
    async with running(spec, clock) as (_, ctx):
        due = await clock.idle()
        await clock.advance_to(due)
        await clock.idle()
    (event,) = ctx.events
    assert event.get_data() == {
        "eventTime": "2024-03-10 03:00:00 -0400 EDT",
        "metadata": {"baz": "1.0", "foo": "bar"},
    }
    assert event.get_id() == "default/calendar/example:2024-03-10T07:00:00Z"


async def test_late_wakeup_fires_the_missed_ticks_in_order_bounded() -> None:
    clock = FakeClock(T0)
    async with running(calendar(), clock, settings=CalendarSettings(max_catchup=3)) as (_, ctx):
        await clock.idle()
        await clock.advance_to(utc(2024, 1, 1, 0, 1, 2))  # 00:10 … 01:00 are due: six ticks
        assert await clock.idle() == utc(2024, 1, 1, 0, 1, 10)
    assert [time_of(e).second for e in ctx.events] == [40, 50, 0]


async def test_ticks_are_persisted_and_a_restart_does_not_repeat_them(tick_store: ScheduleTickStore) -> None:
    clock = FakeClock(T0)
    async with running(calendar(), clock, tick_store) as (_, ctx):
        await clock.idle()
        await clock.advance_to(utc(2024, 1, 1, 0, 0, 20))
        await clock.idle()
    assert len(ctx.events) == 2
    assert await tick_store.last_tick(KEY) == utc(2024, 1, 1, 0, 0, 20)

    # Restarted at the very instant of the last tick: it is not fired again.
    async with running(calendar(), clock, tick_store) as (_, again):
        assert await clock.idle() == utc(2024, 1, 1, 0, 0, 30)
    assert again.events == []


async def test_restart_without_catchup_starts_from_now(tick_store: ScheduleTickStore) -> None:
    await tick_store.record_tick(KEY, utc(2024, 1, 1, 0, 0, 10))
    clock = FakeClock(utc(2024, 1, 1, 1, 0, 5))
    async with running(calendar(), clock, tick_store) as (_, ctx):
        assert await clock.idle() == utc(2024, 1, 1, 1, 0, 10)
    assert ctx.events == []


async def test_restart_with_catchup_fires_missed_ticks_bounded_by_the_setting(
    tick_store: ScheduleTickStore,
) -> None:
    await tick_store.record_tick(KEY, utc(2024, 1, 1, 0, 0, 10))
    clock = FakeClock(utc(2024, 1, 1, 1, 0, 5))  # 359 ticks were missed
    spec = calendar(
        persistence={"catchup": {"enabled": True}, "configMap": {"name": "cm", "createIfNotExist": True}}
    )
    async with running(spec, clock, tick_store, CalendarSettings(max_catchup=4)) as (_, ctx):
        assert await clock.idle() == utc(2024, 1, 1, 1, 0, 10)
    assert [e.get_time() for e in ctx.events] == [
        utc(2024, 1, 1, 0, 59, 30),
        utc(2024, 1, 1, 0, 59, 40),
        utc(2024, 1, 1, 0, 59, 50),
        utc(2024, 1, 1, 1, 0, 0),
    ]
    assert await tick_store.last_tick(KEY) == utc(2024, 1, 1, 1, 0, 0)


async def test_restart_with_catchup_respects_max_duration(tick_store: ScheduleTickStore) -> None:
    await tick_store.record_tick(KEY, utc(2024, 1, 1, 0, 0, 10))
    clock = FakeClock(utc(2024, 1, 1, 1, 0, 5))
    spec = calendar(persistence={"catchup": {"enabled": True, "maxDuration": "25s"}})
    async with running(spec, clock, tick_store) as (_, ctx):
        await clock.idle()
    assert [e.get_time() for e in ctx.events] == [utc(2024, 1, 1, 0, 59, 50), utc(2024, 1, 1, 1, 0, 0)]


async def test_catchup_resumes_right_after_the_last_fired_tick(tick_store: ScheduleTickStore) -> None:
    await tick_store.record_tick(KEY, utc(2024, 1, 1, 0, 0, 10))
    clock = FakeClock(utc(2024, 1, 1, 0, 0, 45))
    spec = calendar(persistence={"catchup": {"enabled": True}})
    async with running(spec, clock, tick_store) as (_, ctx):
        await clock.idle()
    assert [time_of(e).second for e in ctx.events] == [20, 30, 40]


async def test_a_tick_already_on_the_bus_is_not_stored_twice(tick_store: ScheduleTickStore) -> None:
    # The hub crashed after publishing 00:00:20 but before recording it: catch-up fires it again
    # and the bus recognises the id.
    await tick_store.record_tick(KEY, utc(2024, 1, 1, 0, 0, 10))
    ctx = FakeContext(make_ref("calendar", "example", "calendar"))
    clock = FakeClock(utc(2024, 1, 1, 0, 0, 25))
    spec = calendar(persistence={"catchup": {"enabled": True}})
    driver = CalendarDriver(ctx, spec, clock=clock)
    await ctx.publish(driver.event(utc(2024, 1, 1, 0, 0, 20)))
    async with running(spec, clock, tick_store, context=ctx):
        await clock.idle()
    assert [time_of(e).second for e in ctx.events] == [20]
    assert ctx.publish_calls == 2


async def test_publish_failures_are_retried_until_stored() -> None:
    clock = FakeClock(T0)
    ctx = FakeContext(make_ref("calendar", "example", "calendar"), fail_next=3)
    settings = CalendarSettings(retry_initial=0.001, retry_max=0.01)
    async with running(calendar(), clock, settings=settings, context=ctx):
        await clock.idle()
        await clock.advance_to(utc(2024, 1, 1, 0, 0, 10))
        await ctx.wait_for(1)
        await clock.idle()
    assert ctx.publish_calls == 4
    assert len(ctx.events) == 1


async def test_stop_cancels_the_timer() -> None:
    clock = FakeClock(T0)
    ctx = FakeContext(make_ref("calendar", "example", "calendar"))
    driver = CalendarDriver(ctx, calendar(), clock=clock)
    await driver.start()
    await clock.idle()
    await driver.stop()
    await clock.advance_to(T0 + timedelta(hours=1))
    await asyncio.sleep(0)
    assert ctx.events == []
    await driver.stop()  # idempotent


async def test_real_clock_fires_an_interval_tick() -> None:
    ctx = FakeContext(make_ref("calendar", "example", "calendar"))
    driver = CalendarDriver(ctx, calendar(interval="1s"))
    await driver.start()
    try:
        (event,) = await ctx.wait_for(1)
    finally:
        await driver.stop()
    assert time_of(event).microsecond == 0
    assert event.get_id() == f"default/calendar/example:{time_of(event):%Y-%m-%dT%H:%M:%S}Z"


def test_schedule_key() -> None:
    assert schedule_key(make_ref("calendar", "nightly", "cron", "team-a")) == "team-a/cron/nightly"
