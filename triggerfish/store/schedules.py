"""The last tick each schedule fired (calendar event sources, CronWorkflows), so a restart neither
repeats a tick nor, when catch-up is wanted, forgets the ones it missed."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from triggerfish.store.schema import schedule_ticks


class ScheduleTickStore:
    """``schedule_key`` → last fired tick. Recording is monotonic: an older tick never overwrites a
    newer one, so two replicas racing on the same schedule cannot move it backwards."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def last_tick(self, key: str) -> datetime | None:
        query = sa.select(schedule_ticks.c.last_tick).where(schedule_ticks.c.schedule_key == key)
        async with self._engine.connect() as conn:
            value = (await conn.execute(query)).scalar_one_or_none()
        return value

    async def record_tick(self, key: str, tick: datetime) -> None:
        """Remember ``tick`` as fired unless a later one is already recorded."""
        now = datetime.now(UTC)
        table = schedule_ticks
        async with self._engine.begin() as conn:
            advanced = await conn.execute(
                table.update()
                .where(table.c.schedule_key == key, table.c.last_tick < tick)
                .values(last_tick=tick, updated_at=now)
            )
            if advanced.rowcount:
                return
            module = postgresql if conn.dialect.name == "postgresql" else sqlite
            await conn.execute(
                module.insert(table)
                .values(schedule_key=key, last_tick=tick, updated_at=now)
                .on_conflict_do_nothing(index_elements=["schedule_key"])
            )

    async def forget(self, key: str) -> bool:
        """Drop a schedule's record (its source or CronWorkflow was deleted)."""
        async with self._engine.begin() as conn:
            result = await conn.execute(schedule_ticks.delete().where(schedule_ticks.c.schedule_key == key))
        return bool(result.rowcount)
