"""The schedule_ticks repository on the real (migrated) SQLite schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from triggerfish.store.schedules import ScheduleTickStore

T = datetime(2024, 1, 1, 12, tzinfo=UTC)


async def test_unknown_key_has_no_tick(tick_store: ScheduleTickStore) -> None:
    assert await tick_store.last_tick("default/cal/none") is None


async def test_record_and_read_back_as_utc(tick_store: ScheduleTickStore) -> None:
    await tick_store.record_tick("k", T.astimezone(timezone(timedelta(hours=-5))))
    tick = await tick_store.last_tick("k")
    assert tick == T
    assert tick is not None and tick.utcoffset() == timedelta(0)


async def test_ticks_only_move_forward(tick_store: ScheduleTickStore) -> None:
    await tick_store.record_tick("k", T)
    await tick_store.record_tick("k", T - timedelta(minutes=1))
    assert await tick_store.last_tick("k") == T
    await tick_store.record_tick("k", T + timedelta(seconds=1))
    assert await tick_store.last_tick("k") == T + timedelta(seconds=1)
    await tick_store.record_tick("k", T + timedelta(seconds=1))
    assert await tick_store.last_tick("k") == T + timedelta(seconds=1)


async def test_keys_are_independent_and_forgettable(tick_store: ScheduleTickStore) -> None:
    await tick_store.record_tick("a", T)
    await tick_store.record_tick("b", T + timedelta(days=1))
    assert await tick_store.last_tick("a") == T
    assert await tick_store.forget("a") is True
    assert await tick_store.forget("a") is False
    assert await tick_store.last_tick("a") is None
    assert await tick_store.last_tick("b") == T + timedelta(days=1)
