"""Workflow runs and their node trees."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from triggerfish.store.schema import nodes, workflow_events, workflows
from triggerfish.store.upsert import upsert

_INSERT = workflows.insert()
_LINK = workflow_events.insert()
_STATUS_UPDATE = (
    workflows.update()
    .where(workflows.c.uid == sa.bindparam("b_uid"))
    .values(
        phase=sa.bindparam("b_phase"),
        message=sa.bindparam("b_message"),
        status=sa.bindparam("b_status", type_=workflows.c.status.type),
        started_at=sa.bindparam("b_started_at", type_=workflows.c.started_at.type),
        finished_at=sa.bindparam("b_finished_at", type_=workflows.c.finished_at.type),
        version=workflows.c.version + 1,
    )
)
"""One statement for every status in a persisted batch (executemany: one trip to the database)."""

UNFINISHED_PHASES = ("Pending", "Running")


class AlreadyExists(Exception):
    """A workflow with this namespace and name exists."""


@dataclass(frozen=True, slots=True)
class EventLink:
    """A run was caused by the event at ``offset`` on the bus (through trigger firing ``firing_id``)."""

    offset: int
    firing_id: int | None = None


@dataclass(slots=True)
class _Create:
    record: WorkflowRecord
    caused_by: Sequence[EventLink]
    done: asyncio.Future[None]


@dataclass(slots=True)
class WorkflowRecord:
    """One row of ``workflows``: the submitted manifest plus the status summary (without nodes)."""

    uid: str
    namespace: str
    name: str
    manifest: dict[str, Any]
    phase: str
    created_at: datetime
    labels: dict[str, str] = field(default_factory=dict)
    message: str = ""
    status: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    version: int = 1


def _record(row: sa.Row[Any]) -> WorkflowRecord:
    return WorkflowRecord(
        uid=row.uid,
        namespace=row.namespace,
        name=row.name,
        manifest=row.manifest,
        labels=row.labels,
        phase=row.phase,
        message=row.message,
        status=row.status,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        version=row.version,
    )


def _row(record: WorkflowRecord) -> dict[str, Any]:
    return {
        "uid": record.uid,
        "namespace": record.namespace,
        "name": record.name,
        "manifest": record.manifest,
        "labels": record.labels,
        "phase": record.phase,
        "message": record.message,
        "status": record.status,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
    }


def _settle(request: _Create, error: BaseException | None) -> None:
    if request.done.done():
        return
    if error is None:
        request.done.set_result(None)
    else:
        request.done.set_exception(error)


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    phase: str
    message: str
    status: Mapping[str, Any]
    started_at: datetime | None
    finished_at: datetime | None


WorkflowChanges = tuple[str, StatusUpdate | None, list[dict[str, Any]]]
"""(workflow uid, new status or None, changed nodes as JSON)."""


class WorkflowStore:
    """Async access to workflow rows and their nodes. Safe to share within one event loop."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._node_upsert = upsert(nodes, engine.dialect.name, ("workflow_uid", "node_id"), ("data",))
        self._owner: str | None = None
        self._lease = timedelta(0)
        self._on_fenced: Callable[[set[str]], None] | None = None
        self._creates: list[_Create] = []
        self._creator: asyncio.Task[None] | None = None

    record = staticmethod(_record)

    def fence(self, owner: str, lease_seconds: float, on_fenced: Callable[[set[str]], None]) -> None:
        """Scale-out (several replicas, see :mod:`triggerfish.store.leases`): workflows created here
        are owned by ``owner`` with a lease, and ``save_batch`` writes only the workflows ``owner``
        still owns, holding their rows against a concurrent takeover (``FOR SHARE`` on PostgreSQL)
        until it commits. Writes dropped because another replica took a workflow over are reported
        to ``on_fenced``. Without this call (the embedded profile) nothing is fenced."""
        self._owner = owner
        self._lease = timedelta(seconds=lease_seconds)
        self._on_fenced = on_fenced

    async def create(self, record: WorkflowRecord, caused_by: Sequence[EventLink] = ()) -> None:
        """Insert a new run and the events behind it (lineage); raises AlreadyExists when its
        (namespace, name) or uid is taken.

        Runs created meanwhile share one transaction, as the bus's appends do: a trigger fires a
        group of firings at once, and a transaction each kept SQLite's single write lock busy."""
        request = _Create(record, caused_by, asyncio.get_running_loop().create_future())
        self._creates.append(request)
        if self._creator is None:
            self._creator = asyncio.create_task(self._create_queued(), name="workflow-store-create")
        await asyncio.shield(request.done)  # a cancelled caller's run may be committed all the same

    async def _create_queued(self) -> None:
        try:
            while self._creates:
                batch, self._creates = self._creates, []
                if len(batch) == 1:
                    await self._create_alone(batch[0])
                    continue
                try:
                    await self._insert(batch)
                except IntegrityError:  # find the taken ones: each on its own
                    for request in batch:
                        await self._create_alone(request)
                    continue
                except Exception as error:
                    for request in batch:
                        _settle(request, error)
                    continue
                for request in batch:
                    _settle(request, None)
        finally:
            self._creator = None

    async def _create_alone(self, request: _Create) -> None:
        try:
            await self._insert([request])
        except IntegrityError as exc:  # the (namespace, name) or the uid is taken
            taken = AlreadyExists(f'workflows.argoproj.io "{request.record.name}" already exists')
            taken.__cause__ = exc
            _settle(request, taken)
        except Exception as error:
            _settle(request, error)
        else:
            _settle(request, None)

    async def _insert(self, batch: Sequence[_Create]) -> None:
        statement = _INSERT  # values as parameters: the statement stays compiled in SQLAlchemy's cache
        extra: dict[str, Any] = {}
        if self._owner is not None:
            extra["owner"] = self._owner
            if self._engine.dialect.name == "postgresql":  # the lease runs on the database's clock
                statement = statement.values(lease_until=sa.func.now() + self._lease)
            else:
                extra["lease_until"] = datetime.now(UTC) + self._lease
        rows = [_row(request.record) | extra for request in batch]
        links = [
            {"workflow_uid": request.record.uid, "event_offset": link.offset, "firing_id": link.firing_id}
            for request in batch
            for link in {link.offset: link for link in request.caused_by}.values()
        ]
        async with self._engine.begin() as conn:
            await conn.execute(statement, rows)
            if links:
                await conn.execute(_LINK, links)

    async def get(self, namespace: str, name: str) -> WorkflowRecord | None:
        query = workflows.select().where(workflows.c.namespace == namespace, workflows.c.name == name)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _record(row) if row else None

    async def get_by_uid(self, uid: str) -> WorkflowRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(workflows.select().where(workflows.c.uid == uid))).first()
        return _record(row) if row else None

    async def find(
        self,
        namespace: str | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        phases: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[WorkflowRecord]:
        """Newest first. Label matching is exact on every given key."""
        query = workflows.select().order_by(workflows.c.created_at.desc(), workflows.c.name)
        if namespace is not None:
            query = query.where(workflows.c.namespace == namespace)
        if phases:
            query = query.where(workflows.c.phase.in_(list(phases)))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        records = [_record(row) for row in rows]
        if labels:
            records = [r for r in records if all(r.labels.get(k) == v for k, v in labels.items())]
        end = None if limit is None else offset + limit
        return records[offset:end]

    async def count_by_phase(self) -> dict[tuple[str, str], int]:
        """``(namespace, phase) → number of workflows``, for the metrics gauge."""
        query = sa.select(workflows.c.namespace, workflows.c.phase, sa.func.count()).group_by(
            workflows.c.namespace, workflows.c.phase
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {(namespace, phase): count for namespace, phase, count in rows}

    async def unfinished(self) -> list[WorkflowRecord]:
        """Workflows a restarted hub must resume."""
        return await self.find(phases=UNFINISHED_PHASES)

    async def delete(self, namespace: str, name: str) -> bool:
        async with self._engine.begin() as conn:
            record = (
                await conn.execute(
                    sa.select(workflows.c.uid).where(
                        workflows.c.namespace == namespace, workflows.c.name == name
                    )
                )
            ).first()
            if record is None:
                return False
            await conn.execute(nodes.delete().where(nodes.c.workflow_uid == record.uid))
            await conn.execute(workflows.delete().where(workflows.c.uid == record.uid))
        return True

    async def save_batch(self, batch: Sequence[WorkflowChanges]) -> None:
        """Persist node transitions and status changes of several workflows in one transaction."""
        async with self._engine.begin() as conn:
            if self._owner is not None:
                batch = await self._owned_only(conn, batch)
            rows = [
                {"workflow_uid": uid, "node_id": node["id"], "data": node}
                for uid, _, changed in batch
                for node in changed
            ]
            if rows:
                await conn.execute(self._node_upsert, rows)
            statuses = [
                {
                    "b_uid": uid,
                    "b_phase": status.phase,
                    "b_message": status.message,
                    "b_status": dict(status.status),
                    "b_started_at": status.started_at,
                    "b_finished_at": status.finished_at,
                }
                for uid, status, _ in batch
                if status is not None
            ]
            if statuses:
                await conn.execute(_STATUS_UPDATE, statuses)

    async def _owned_only(self, conn: Any, batch: Sequence[WorkflowChanges]) -> Sequence[WorkflowChanges]:
        """The part of ``batch`` whose workflows this replica still owns (rows locked until commit)."""
        uids = list({uid for uid, _, _ in batch})
        query = (
            sa.select(workflows.c.uid)
            .where(workflows.c.uid.in_(uids), workflows.c.owner == self._owner)
            .order_by(workflows.c.uid)  # the lease renewal locks in the same order: no deadlock
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(read=True)
        owned = {row.uid for row in await conn.execute(query)}
        lost = set(uids) - owned
        if not lost:
            return batch
        if self._on_fenced is not None:
            self._on_fenced(lost)
        return [change for change in batch if change[0] in owned]

    async def delete_nodes(self, uid: str, node_ids: Sequence[str]) -> None:
        """Forget nodes (retry removes the ones it runs again)."""
        if not node_ids:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                nodes.delete().where(nodes.c.workflow_uid == uid, nodes.c.node_id.in_(list(node_ids)))
            )

    async def load_nodes(self, uid: str) -> list[dict[str, Any]]:
        query = sa.select(nodes.c.data).where(nodes.c.workflow_uid == uid)
        async with self._engine.connect() as conn:
            return [row.data for row in (await conn.execute(query)).all()]
