"""Durable sensor state: partial matches (``sensor_matches``) and deliveries (``event_deliveries``).

A trigger whose condition needs several dependencies remembers, per dependency, the latest event
that matched it, until the condition holds (then all of them are cleared, as Argo Events'
JetStream driver does) or a ``conditionsReset`` tick passes. ``event_deliveries`` records which
dependencies each event matched, for lineage; it is written in the same transaction as the state
change, so a redelivered event (the bus offset was not committed before a crash) is recognised
and does not change the state twice.

All methods take the caller's connection: the runner applies one event's effects in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from triggerfish.store.schema import event_deliveries, sensor_matches
from triggerfish.store.upsert import upsert

__all__ = ["Delivery", "SavedMatch", "SensorState"]


@dataclass(frozen=True, slots=True)
class SavedMatch:
    offset: int
    at: datetime
    """When the matching event was appended to the bus (what ``conditionsReset`` compares)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    offset: int
    dependencies: list[str]
    at: datetime


class SensorState:
    """State of one sensor (``namespace``/``name``)."""

    def __init__(self, namespace: str, sensor: str) -> None:
        self.namespace = namespace
        self.sensor = sensor

    def _where(self) -> sa.ColumnElement[bool]:
        return sa.and_(sensor_matches.c.namespace == self.namespace, sensor_matches.c.sensor == self.sensor)

    # -- partial matches

    async def saved(self, conn: AsyncConnection, trigger: str) -> dict[str, SavedMatch]:
        """Dependency → latest matching event, for ``trigger``."""
        rows = await conn.execute(
            sa.select(sensor_matches.c.dependency, sensor_matches.c.event_offset, sensor_matches.c.updated_at)
            .where(self._where(), sensor_matches.c.trigger == trigger)
            .order_by(sensor_matches.c.event_offset)
        )
        return {row.dependency: SavedMatch(row.event_offset, row.updated_at) for row in rows}

    async def save(
        self, conn: AsyncConnection, trigger: str, dependency: str, offset: int, at: datetime
    ) -> None:
        statement = upsert(
            sensor_matches,
            conn.dialect.name,
            ("namespace", "sensor", "trigger", "dependency"),
            ("event_offset", "updated_at"),
        )
        await conn.execute(
            statement,
            {
                "namespace": self.namespace,
                "sensor": self.sensor,
                "trigger": trigger,
                "dependency": dependency,
                "event_offset": offset,
                "updated_at": at,
            },
        )

    async def clear(
        self, conn: AsyncConnection, trigger: str, dependencies: Iterable[str] | None = None
    ) -> None:
        """Forget ``trigger``'s partial matches (only ``dependencies`` when given)."""
        statement = sa.delete(sensor_matches).where(self._where(), sensor_matches.c.trigger == trigger)
        if dependencies is not None:
            statement = statement.where(sensor_matches.c.dependency.in_(list(dependencies)))
        await conn.execute(statement)

    async def clear_before(self, conn: AsyncConnection, trigger: str, before: datetime) -> None:
        """Forget ``trigger``'s partial matches from events appended before ``before``."""
        await conn.execute(
            sa.delete(sensor_matches).where(
                self._where(), sensor_matches.c.trigger == trigger, sensor_matches.c.updated_at < before
            )
        )

    async def prune(self, conn: AsyncConnection, keep: Mapping[str, Sequence[str]]) -> None:
        """Drop partial matches of triggers/dependencies no longer in the sensor (after an update)."""
        rows = await conn.execute(
            sa.select(sensor_matches.c.trigger, sensor_matches.c.dependency).where(self._where())
        )
        for row in rows.all():
            if row.dependency not in keep.get(row.trigger, ()):
                await self.clear(conn, row.trigger, [row.dependency])

    # -- deliveries

    async def record_deliveries(
        self, conn: AsyncConnection, deliveries: Sequence[tuple[int, Sequence[str]]], at: datetime
    ) -> set[int]:
        """Record (offset, dependencies matched) of each event; the offsets recorded now. The others
        were applied before (they are being redelivered): one statement finds them and records the rest.
        Rows go in offset order, so replicas applying the same events (after a rebalance) lock them
        in the same order rather than deadlock."""
        if not deliveries:
            return set()
        module = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = (
            module.insert(event_deliveries)
            .on_conflict_do_nothing(index_elements=["event_offset", "namespace", "sensor"])
            .returning(event_deliveries.c.event_offset)
        )
        rows = [
            {
                "event_offset": offset,
                "namespace": self.namespace,
                "sensor": self.sensor,
                "dependencies": list(dependencies),
                "at": at,
            }
            for offset, dependencies in sorted(deliveries, key=lambda delivery: delivery[0])
        ]
        return {row.event_offset for row in await conn.execute(statement, rows)}


async def deliveries_of(engine: AsyncEngine, offset: int) -> dict[tuple[str, str], list[str]]:
    """Which sensors (namespace, name) an event was delivered to, and the dependencies it matched."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(event_deliveries).where(event_deliveries.c.event_offset == offset)
        )
        return {(row.namespace, row.sensor): list(row.dependencies) for row in rows}


async def partial_matches(engine: AsyncEngine, namespace: str, sensor: str) -> dict[str, dict[str, int]]:
    """Trigger → dependency → event offset, for inspection (CLI, API, tests)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(sensor_matches).where(
                sensor_matches.c.namespace == namespace, sensor_matches.c.sensor == sensor
            )
        )
        out: dict[str, dict[str, int]] = {}
        for row in rows:
            out.setdefault(row.trigger, {})[row.dependency] = row.event_offset
        return out
