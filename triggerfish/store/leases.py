"""Workflow ownership for several hub replicas on one database (the scale-out profile).

Each unfinished workflow is driven by one replica: ``workflows.owner`` names it and
``workflows.lease_until`` says until when. The owner renews its leases periodically; a replica
that dies stops renewing, and once a lease has passed any replica may claim the workflow. Claims
are conditional ``UPDATE``s (``… WHERE owner IS NULL OR owner = me OR lease_until < now``): on
PostgreSQL the condition is evaluated again on the locked row, so two replicas racing for the
same workflow cannot both win. Times are the database's clock on PostgreSQL (``now()``), so the
replicas' clocks do not matter; SQLite (one process) uses this process's clock.

:class:`WorkflowStore` fences writes with the same columns (see ``WorkflowStore.fence``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from triggerfish.store.schema import workflows
from triggerfish.store.workflows import UNFINISHED_PHASES, WorkflowRecord, WorkflowStore

CLAIM_BATCH = 500


def db_now(dialect: str) -> Any:
    """The current time as the database sees it (PostgreSQL) or as this process does (SQLite)."""
    return sa.func.now() if dialect == "postgresql" else datetime.now(UTC)


class LeaseStore:
    def __init__(self, engine: AsyncEngine, owner: str, lease_seconds: float) -> None:
        self._engine = engine
        self.owner = owner
        self.lease = timedelta(seconds=lease_seconds)
        self._dialect = engine.dialect.name

    def _now(self) -> Any:
        return db_now(self._dialect)

    def _claimable(self) -> sa.ColumnElement[bool]:
        return sa.or_(
            workflows.c.owner.is_(None),
            workflows.c.owner == self.owner,
            workflows.c.lease_until < self._now(),
        )

    async def _claim(self, conn: AsyncConnection, uids: Collection[str]) -> list[str]:
        if not uids:
            return []
        result = await conn.execute(
            workflows.update()
            .where(workflows.c.uid.in_(list(uids)), self._claimable())
            .values(owner=self.owner, lease_until=self._now() + self.lease)
            .returning(workflows.c.uid)
        )
        return [row.uid for row in result]

    async def claim_unfinished(self, exclude: Collection[str] = ()) -> list[WorkflowRecord]:
        """Claim unfinished workflows nobody holds a live lease on (ours included), except
        ``exclude`` (what this replica is driving already); returns the claimed ones."""
        candidates = (
            sa.select(workflows.c.uid)
            .where(workflows.c.phase.in_(UNFINISHED_PHASES), self._claimable())
            .order_by(workflows.c.created_at)
            .limit(CLAIM_BATCH + len(exclude))
        )
        if self._dialect == "postgresql":  # rows being written (or claimed) elsewhere: next scan
            candidates = candidates.with_for_update(skip_locked=True)
        async with self._engine.begin() as conn:
            uids = [row.uid for row in await conn.execute(candidates) if row.uid not in exclude]
            claimed = await self._claim(conn, uids[:CLAIM_BATCH])
            if not claimed:
                return []
            rows = await conn.execute(workflows.select().where(workflows.c.uid.in_(claimed)))
            records = [WorkflowStore.record(row) for row in rows]
        return sorted(records, key=lambda r: r.created_at)

    async def claim(self, uid: str) -> str | None:
        """Claim one workflow (any phase); None when claimed, else the replica that holds it."""
        async with self._engine.begin() as conn:
            if await self._claim(conn, [uid]):
                return None
            holder = await conn.scalar(sa.select(workflows.c.owner).where(workflows.c.uid == uid))
        return str(holder) if holder is not None else "nobody (no such workflow)"

    async def renew(self, uids: Iterable[str]) -> set[str]:
        """Extend our leases; returns the uids we no longer own (taken over by another replica)."""
        wanted = set(uids)
        if not wanted:
            return set()
        async with self._engine.begin() as conn:
            ours = (
                sa.select(workflows.c.uid)
                .where(workflows.c.uid.in_(list(wanted)), workflows.c.owner == self.owner)
                .order_by(workflows.c.uid)  # the same lock order as WorkflowStore.save_batch
            )
            if self._dialect == "postgresql":
                ours = ours.with_for_update()
            kept = {row.uid for row in await conn.execute(ours)}
            if kept:
                await conn.execute(
                    workflows.update()
                    .where(workflows.c.uid.in_(list(kept)))
                    .values(lease_until=self._now() + self.lease)
                )
        return wanted - kept

    async def release(self, uid: str) -> None:
        """Give a finished workflow's lease up (its final status is already written)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                workflows.update()
                .where(workflows.c.uid == uid, workflows.c.owner == self.owner)
                .values(owner=None, lease_until=None)
            )

    async def holders(self) -> dict[str, str | None]:
        """uid → owner of every unfinished workflow (for status and tests)."""
        query = sa.select(workflows.c.uid, workflows.c.owner).where(workflows.c.phase.in_(UNFINISHED_PHASES))
        async with self._engine.connect() as conn:
            return {row.uid: row.owner for row in await conn.execute(query)}
