"""The ``trigger_firings`` table: one row per set of events that satisfied a trigger.

The row is written (status ``pending``) in the same transaction as the sensor state change that
produced it, before any action runs: it is the durable outbox the runner works from, so a crash
at any point either leaves the row pending (it is fired again after restart) or finished. Its
``idempotency_key`` is a digest of the namespace, sensor, trigger and the event offset per
dependency; inserting the same set again is a no-op, and drivers pass the key on (the workflow
submitter creates at most one run per key).

Status: ``pending`` → ``succeeded`` | ``failed`` | ``dead-lettered`` (the action failed after its
retries and the ``dlqTrigger`` ran instead).

Several replicas (the scale-out profile) see each other's pending firings, so a replica claims a
firing (``claimed_by``, ``claim_until``) before it fires it, like a workflow lease
(:mod:`triggerfish.store.leases`): one conditional ``UPDATE`` lets exactly one replica win, and
a dead replica's claims expire so another one fires what it left pending.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from triggerfish.store.leases import db_now
from triggerfish.store.schema import trigger_firings, workflow_events

__all__ = [
    "Finished",
    "FiringRecord",
    "FiringStatus",
    "FiringStore",
    "NewFiring",
    "firing_key",
    "workflows_of_event",
]

FiringStatus = Literal["pending", "succeeded", "failed", "dead-lettered"]
PENDING: FiringStatus = "pending"
SUCCEEDED: FiringStatus = "succeeded"
FAILED: FiringStatus = "failed"
DEAD_LETTERED: FiringStatus = "dead-lettered"


def firing_key(
    namespace: str, sensor: str, trigger: str, event_offsets: Mapping[str, int], replay: str = ""
) -> str:
    """sha256 of ``namespace/sensor/trigger`` and the event offset of each dependency (sorted).

    ``replay`` distinguishes a deliberate replay (which must fire again) from a redelivery (which
    must not)."""
    lines = [f"{namespace}/{sensor}/{trigger}"]
    lines.extend(f"{dependency}={event_offsets[dependency]}" for dependency in sorted(event_offsets))
    if replay:
        lines.append(f"replay={replay}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class FiringRecord:
    id: int
    key: str
    namespace: str
    sensor: str
    trigger: str
    event_offsets: dict[str, int]
    """Dependency → bus offset of the event that satisfied it."""
    status: FiringStatus
    attempts: int
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def offsets(self) -> list[int]:
        return sorted(set(self.event_offsets.values()))


def _record(row: sa.Row[Any]) -> FiringRecord:
    return FiringRecord(
        id=row.id,
        key=row.idempotency_key,
        namespace=row.namespace,
        sensor=row.sensor,
        trigger=row.trigger,
        event_offsets={str(k): int(v) for k, v in dict(row.event_offsets).items()},
        status=row.status,
        attempts=row.attempts,
        result=row.result,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@dataclass(frozen=True, slots=True)
class NewFiring:
    """A set of events that satisfied a trigger, to be inserted as a pending firing."""

    namespace: str
    sensor: str
    trigger: str
    event_offsets: Mapping[str, int]
    replay: str = ""
    key: str = field(init=False, compare=False)
    """:func:`firing_key` of the above (computed once: it is asked for several times per firing)."""

    def __post_init__(self) -> None:
        key = firing_key(self.namespace, self.sensor, self.trigger, self.event_offsets, self.replay)
        object.__setattr__(self, "key", key)

    def record(self, firing_id: int, now: datetime) -> FiringRecord:
        """The pending firing as stored under ``firing_id`` at ``now``."""
        return FiringRecord(
            id=firing_id,
            key=self.key,
            namespace=self.namespace,
            sensor=self.sensor,
            trigger=self.trigger,
            event_offsets=dict(self.event_offsets),
            status=PENDING,
            attempts=0,
            result=None,
            error=None,
            created_at=now,
            updated_at=now,
        )


@dataclass(frozen=True, slots=True)
class Finished:
    """The final status of one firing (see :meth:`FiringStore.finish`)."""

    firing_id: int
    status: FiringStatus
    attempts: int
    result: Mapping[str, Any] | None = None
    error: str | None = None


_FINISH = (
    sa.update(trigger_firings)
    .where(trigger_firings.c.id == sa.bindparam("firing_id"), trigger_firings.c.status == PENDING)
    .values(
        status=sa.bindparam("new_status"),
        attempts=sa.bindparam("new_attempts"),
        result=sa.bindparam("new_result", type_=trigger_firings.c.result.type),
        error=sa.bindparam("new_error"),
        updated_at=sa.bindparam("now", type_=trigger_firings.c.updated_at.type),
    )
)
"""A firing's final status, written only while it is pending (a finished firing never changes)."""


class FiringStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @staticmethod
    async def create_many(
        conn: AsyncConnection,
        firings: Sequence[NewFiring],
        now: datetime,
        *,
        claimed_by: str | None = None,
        lease_seconds: float = 0.0,
    ) -> list[FiringRecord]:
        """Insert pending firings whose keys are new (one statement); the records inserted, oldest
        first (the runner hands them to its workers rather than reading them back). With
        ``claimed_by`` they are created claimed by that replica for ``lease_seconds``, as
        :meth:`claim` would: the replica that creates a firing fires it without a claim first."""
        if not firings:
            return []
        module = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = module.insert(trigger_firings)
        if claimed_by is not None:
            until = db_now(conn.dialect.name) + timedelta(seconds=lease_seconds)
            statement = statement.values(claimed_by=claimed_by, claim_until=until)
        statement = statement.on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(
            trigger_firings.c.id, trigger_firings.c.idempotency_key
        )
        new = {firing.key: firing for firing in firings}
        rows = [
            {
                "idempotency_key": key,
                "namespace": firing.namespace,
                "sensor": firing.sensor,
                "trigger": firing.trigger,
                "event_offsets": dict(firing.event_offsets),
                "status": PENDING,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
            for key, firing in new.items()
        ]
        inserted = sorted(await conn.execute(statement, rows), key=lambda row: row.id)
        return [new[row.idempotency_key].record(row.id, now) for row in inserted]

    async def get(self, key: str) -> FiringRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(trigger_firings).where(trigger_firings.c.idempotency_key == key))
            ).first()
        return _record(row) if row is not None else None

    def _claimable(self, owner: str) -> sa.ColumnElement[bool]:
        return sa.or_(
            trigger_firings.c.claimed_by.is_(None),
            trigger_firings.c.claimed_by == owner,
            trigger_firings.c.claim_until < db_now(self._engine.dialect.name),
        )

    async def pending(
        self, namespace: str, sensor: str, trigger: str | None = None, *, claimable_by: str | None = None
    ) -> list[FiringRecord]:
        """Unfinished firings of a sensor (or one trigger), oldest first; with ``claimable_by``,
        only those no other replica holds a live claim on."""
        statement = sa.select(trigger_firings).where(
            trigger_firings.c.namespace == namespace,
            trigger_firings.c.sensor == sensor,
            trigger_firings.c.status == PENDING,
        )
        if trigger is not None:
            statement = statement.where(trigger_firings.c.trigger == trigger)
        if claimable_by is not None:
            statement = statement.where(self._claimable(claimable_by))
        async with self._engine.connect() as conn:
            rows = await conn.execute(statement.order_by(trigger_firings.c.id))
            return [_record(row) for row in rows]

    async def claim(self, firing_ids: Collection[int], owner: str, lease_seconds: float) -> set[int]:
        """Claim pending firings for ``owner`` until ``lease_seconds`` from now, or extend its own
        claims; the ids it holds now. A live claim of another replica is left alone (on PostgreSQL
        the condition is evaluated again on the locked row, so two racing replicas cannot both win)."""
        if not firing_ids:
            return set()
        now = db_now(self._engine.dialect.name)
        async with self._engine.begin() as conn:
            rows = await conn.execute(
                trigger_firings.update()
                .where(
                    trigger_firings.c.id.in_(list(firing_ids)),
                    trigger_firings.c.status == PENDING,
                    self._claimable(owner),
                )
                .values(claimed_by=owner, claim_until=now + timedelta(seconds=lease_seconds))
                .returning(trigger_firings.c.id)
            )
            return {row.id for row in rows}

    async def list(self, namespace: str, sensor: str, *, limit: int = 100) -> list[FiringRecord]:
        """A sensor's firings, newest first."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(trigger_firings)
                .where(trigger_firings.c.namespace == namespace, trigger_firings.c.sensor == sensor)
                .order_by(trigger_firings.c.id.desc())
                .limit(limit)
            )
            return [_record(row) for row in rows]

    async def attempted(self, firing_id: int, attempts: int, error: str | None, now: datetime) -> None:
        """Record a failed attempt of a firing that will be retried (it stays pending)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(trigger_firings)
                .where(trigger_firings.c.id == firing_id, trigger_firings.c.status == PENDING)
                .values(attempts=attempts, error=error, updated_at=now)
            )

    async def finish_many(self, finished: Sequence[Finished], *, now: datetime) -> None:
        """Move pending firings to their final status, in one transaction (a finished one never changes)."""
        if not finished:
            return
        rows = [
            {
                "firing_id": f.firing_id,
                "new_status": f.status,
                "new_attempts": f.attempts,
                "new_result": dict(f.result) if f.result is not None else None,
                "new_error": f.error,
                "now": now,
            }
            for f in finished
        ]
        async with self._engine.begin() as conn:
            await conn.execute(_FINISH, rows)

    async def finish(
        self,
        firing_id: int,
        status: FiringStatus,
        *,
        attempts: int,
        now: datetime,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Move a pending firing to its final status (a finished firing is never changed again)."""
        await self.finish_many([Finished(firing_id, status, attempts, result, error)], now=now)


# ---------------------------------------------------------------- lineage: workflow ↔ events


async def workflows_of_event(engine: AsyncEngine, offset: int) -> list[str]:
    """Workflow uids an event contributed to (lineage from an event to its runs)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(workflow_events.c.workflow_uid).where(workflow_events.c.event_offset == offset)
        )
        return [row.workflow_uid for row in rows]


async def events_of_workflow(engine: AsyncEngine, workflow_uid: str) -> list[int]:
    """Event offsets that caused a workflow run (lineage from a run back to its events)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(workflow_events.c.event_offset)
            .where(workflow_events.c.workflow_uid == workflow_uid)
            .order_by(workflow_events.c.event_offset)
        )
        return [row.event_offset for row in rows]
