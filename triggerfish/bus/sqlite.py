"""The embedded bus: a durable log in the ``events`` table, consumer groups in ``consumer_offsets``.

Written with dialect-neutral SQLAlchemy, so it runs on SQLite (the embedded profile) and PostgreSQL.

* **Group commit.** One writer task owns every write. It takes all requests queued while its
  previous transaction ran (publishes and consumer commits alike) and writes them in one
  transaction, then resolves each caller's future. A publish therefore returns once its row is
  committed, and the commit cost is shared: SQLite manages ~1,500 transactions/s but many
  thousand rows per transaction. A request that makes its batch fail is retried alone, so one bad
  event cannot fail its neighbours.
* **Idempotence.** ``INSERT … ON CONFLICT (source, event_id) DO NOTHING RETURNING``; rows that did
  not come back are duplicates whose offsets are looked up in the same transaction. Duplicates are
  detected while the first copy is retained: the dedupe window is the retention window.
* **Notification.** After each transaction that appended, the writer bumps a generation counter
  and notifies an :class:`asyncio.Condition`; idle subscribers wait on it, so they wake at once
  and never poll. Only appends made through this bus object wake its subscribers: another process
  appending to the same database is seen on this process's next append.
* **Ordering.** SQLite has a single writer, so offsets become visible in order. On PostgreSQL the
  append transaction locks the table against other writers (readers are not blocked), otherwise
  a consumer could see offset 11 committed before 10 and skip 10 for good.
* **Reads.** A subscription that keeps up takes the writer's last batch from memory (when it is
  exactly what follows its position); one that is behind reads the table in batches.
* **Retention** deletes the oldest records by age and/or count, regardless of consumers (as Kafka
  does). It runs in the writer task between batches, in chunks of ``TRIM_CHUNK`` rows so no
  publish waits long behind it, once ``check_every_records`` appends or ``check_interval_seconds``
  have passed since the last run; an idle bus does nothing. Running it on another connection
  would make publishes queue behind SQLite's busy handler, which sleeps. The newest record is
  always kept, so SQLite never hands out an offset twice. A subscription that was behind the
  deleted records continues at the oldest remaining one, logs a warning and adds the skipped
  offsets to :attr:`SqlSubscription.lost` (an upper bound on PostgreSQL, whose sequences skip
  values).
* **Consumer groups.** Within one bus object a group has at most one open subscription;
  a second ``subscribe`` raises :class:`GroupBusy` until the first is closed.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from triggerfish.bus.base import Published, Record, StartPosition
from triggerfish.bus.sql_writer import transaction_runner
from triggerfish.events import Event, decode, encode, namespace_of
from triggerfish.store.schema import consumer_offsets, events

log = logging.getLogger(__name__)

MAX_BATCH = 1000
"""Requests per transaction: bounds how long one transaction (and the callers in it) takes."""

READ_BATCH = 256
"""Records a subscription fetches per query."""

TRIM_CHUNK = 1000
"""Records retention deletes per transaction (~7 ms with 7 KB payloads on SQLite)."""


class BusClosed(RuntimeError):
    """The bus was closed; nothing more can be published or committed through it."""


class GroupBusy(RuntimeError):
    """The consumer group already has an open subscription on this bus."""


@dataclass(frozen=True, slots=True)
class Retention:
    """Which records to delete: older than ``max_age_seconds``, beyond the newest ``max_records``.

    ``check_*`` rate-limit the deletion, which runs after an append once either threshold passed.
    """

    max_age_seconds: float | None = None
    max_records: int | None = None
    check_interval_seconds: float = 1.0
    check_every_records: int = 1000

    def __post_init__(self) -> None:
        if self.max_records is not None and self.max_records < 1:
            raise ValueError("max_records must keep at least one record")

    @property
    def enabled(self) -> bool:
        return self.max_age_seconds is not None or self.max_records is not None


@dataclass(slots=True)
class _Append:
    identity: tuple[str, str]
    row: dict[str, Any]
    event: Event
    done: asyncio.Future[Published]


@dataclass(slots=True)
class _Commit:
    group: str
    offset: int
    done: asyncio.Future[None]


_Request = _Append | _Commit


def _resolve(request: _Request, result: Any) -> None:
    if not request.done.done():  # the caller may have been cancelled
        request.done.set_result(result)


def _fail(request: _Request, error: BaseException) -> None:
    if not request.done.done():
        request.done.set_exception(error)


_OLDEST = sa.select(sa.func.min(events.c.offset))
_NEWEST = sa.select(sa.func.max(events.c.offset))


def _record(row: Mapping[Any, Any]) -> Record:
    """A record from an ``events`` row."""
    return Record(
        offset=row["offset"], event=decode(row["payload"]), key=row["key"], appended_at=row["appended_at"]
    )


class SqlBus:
    """The :class:`~triggerfish.bus.base.Bus` on a SQL database. The engine stays the caller's."""

    def __init__(self, engine: AsyncEngine, *, retention: Retention) -> None:
        self._engine = engine
        self._retention = retention
        module = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._lock_for_append = engine.dialect.name == "postgresql"
        self._sqlite = engine.dialect.name == "sqlite"
        self._insert = (
            module.insert(events)
            .on_conflict_do_nothing(index_elements=["source", "event_id"])
            .returning(events.c.offset, events.c.source, events.c.event_id)
        )
        upsert = module.insert(consumer_offsets)
        self._commit_offsets = upsert.on_conflict_do_update(
            index_elements=["group_name"],
            set_={"committed": upsert.excluded.committed, "updated_at": upsert.excluded.updated_at},
            where=consumer_offsets.c.committed < upsert.excluded.committed,
        )
        self._queue: asyncio.Queue[_Request | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._appended = asyncio.Condition()
        self._generation = 0
        self._tail: builtins.list[Record] = []
        """The records of the last batch appended, in order, when their offsets are consecutive. They
        carry the published events themselves: decoding a 7 KB payload again for each subscriber in
        this process was a tenth of the hub's CPU per webhook delivery."""
        # Debian builds SQLite with secure_delete ON: retention would write every freed overflow
        # page of every 7 KB payload back to disk, three times the cost of FAST.
        pragmas = ("PRAGMA secure_delete=FAST",) if self._sqlite else ()
        self._transactions = transaction_runner(engine, pragmas=pragmas)
        self._groups: set[str] = set()
        self._appended_since_trim = 0
        self._last_trim = float("-inf")
        self._trim_more = False

    # ------------------------------------------------------------------------------ public API

    async def publish(self, event: Event, *, key: str | None = None) -> Published:
        """Append durably; an event whose (source, id) is in the log returns its offset instead."""
        identity = (event.get_source(), event.get_id())
        row = {
            "source": identity[0],
            "event_id": identity[1],
            "type": event.get_type(),
            "subject": event.get_subject() or "",
            "namespace": namespace_of(event),
            "key": key,
            "payload": encode(event),
        }
        done: asyncio.Future[Published] = self._future()
        self._submit(_Append(identity, row, event, done))
        return await done

    def subscribe(self, group: str, *, start: StartPosition = "earliest") -> SqlSubscription:
        """``latest`` means records appended after this call, for a group that has committed nothing."""
        if self._closed:
            raise BusClosed("the bus is closed")
        if group in self._groups:
            raise GroupBusy(f"consumer group {group!r} already has an open subscription")
        self._groups.add(group)
        return SqlSubscription(self, group, start, datetime.now(UTC))

    async def get(self, offset: int) -> Record | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(events.select().where(events.c.offset == offset))).first()
        return _record(row._mapping) if row else None

    async def list(
        self,
        *,
        source: str | None = None,
        type: str | None = None,
        subject: str | None = None,
        namespace: str | None = None,
        event_id: str | None = None,
        before: int | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> builtins.list[Record]:
        """Newest first, for lineage. Page with ``before`` = the last offset of the previous page."""
        filters = {
            "source": source,
            "type": type,
            "subject": subject,
            "namespace": namespace,
            "event_id": event_id,
        }
        query = events.select().order_by(events.c.offset.desc()).limit(limit)
        for column, value in filters.items():
            if value is not None:
                query = query.where(events.c[column] == value)
        if before is not None:
            query = query.where(events.c.offset < before)
        if after is not None:
            query = query.where(events.c.offset > after)
        async with self._engine.connect() as conn:
            return [_record(row._mapping) for row in (await conn.execute(query)).all()]

    async def lag(self) -> dict[str, int]:
        """Per consumer group, how many events lie beyond its committed offset."""
        async with self._engine.connect() as conn:
            head = await conn.scalar(sa.select(sa.func.max(events.c.offset)))
            query = sa.select(consumer_offsets.c.group_name, consumer_offsets.c.committed)
            groups = (await conn.execute(query)).all()
        return {group: max(int(head or 0) - int(committed), 0) for group, committed in groups}

    async def close(self) -> None:
        """Write everything already queued, then stop; open subscriptions end their iteration."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._queue.put_nowait(None)
            await self._writer
        await self._wake()

    # ------------------------------------------------------------------ used by subscriptions

    async def _commit(self, group: str, offset: int) -> None:
        done: asyncio.Future[None] = self._future()
        self._submit(_Commit(group, offset, done))
        await done

    async def _start_position(self, group: str, start: StartPosition, since: datetime) -> int:
        """The group's committed offset, or where a group without one starts."""
        async with self._engine.connect() as conn:
            committed = await conn.scalar(
                sa.select(consumer_offsets.c.committed).where(consumer_offsets.c.group_name == group)
            )
            if committed is not None:
                return int(committed)
            if start == "earliest":
                oldest = await conn.scalar(_OLDEST)
                return int(oldest) - 1 if oldest is not None else 0
            before = await conn.scalar(
                sa.select(sa.func.max(events.c.offset)).where(events.c.appended_at < since)
            )
        position = int(before or 0)
        if not self._closed:
            await self._commit(group, position)  # a crash before the first commit keeps this start
        return position

    def _read_tail(self, position: int) -> builtins.list[Record]:
        """The last batch, from memory, if it is exactly what follows ``position`` in the log.

        It is when its offsets are consecutive and the first is ``position + 1``: nothing can lie
        between. A subscription that keeps up therefore reads nothing from the database.
        """
        if not self._tail or self._tail[0].offset != position + 1:
            return []
        return list(self._tail)

    async def _read(self, position: int) -> builtins.list[Record]:
        query = events.select().where(events.c.offset > position).order_by(events.c.offset).limit(READ_BATCH)
        async with self._engine.connect() as conn:
            return [_record(row._mapping) for row in (await conn.execute(query)).all()]

    async def _oldest(self) -> int | None:
        async with self._engine.connect() as conn:
            oldest = await conn.scalar(_OLDEST)
        return None if oldest is None else int(oldest)

    async def _wait_for_append(self, generation: int, subscription: SqlSubscription) -> None:
        async with self._appended:
            await self._appended.wait_for(
                lambda: self._generation != generation or self._closed or subscription.closed
            )

    async def _wake(self) -> None:
        async with self._appended:
            self._appended.notify_all()

    def _release(self, group: str) -> None:
        self._groups.discard(group)

    # ------------------------------------------------------------------------------ the writer

    def _future(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    def _submit(self, request: _Request) -> None:
        """Queue for the writer, started on first use (it needs the running loop)."""
        if self._closed:
            raise BusClosed("the bus is closed")
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_forever(), name="bus-writer")
        self._queue.put_nowait(request)

    async def _write_forever(self) -> None:
        try:
            while True:
                while self._trim_more and self._queue.empty():
                    await self._trim()  # a backlog of deletions, while nobody waits
                batch = [await self._queue.get()]
                while len(batch) < MAX_BATCH and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                requests = [request for request in batch if request is not None]
                if requests:
                    await self._write(requests)
                if len(requests) < len(batch):  # the close() marker, always the last request
                    return
                if self._trim_due():
                    await self._trim()
        finally:
            await self._transactions.close()

    async def _write(self, requests: builtins.list[_Request]) -> None:
        try:
            results = await self._transaction(requests)
        except Exception as error:
            if len(requests) == 1:
                _fail(requests[0], error)
                return
            for request in requests:  # find the culprit: each request in its own transaction
                await self._write([request])
            return
        for request, result in zip(requests, results, strict=True):
            _resolve(request, result)
        appended = sorted(
            (
                Record(result.offset, request.event, request.row["key"], request.row["appended_at"])
                for request, result in zip(requests, results, strict=True)
                if isinstance(request, _Append) and not result.duplicate
            ),
            key=attrgetter("offset"),
        )
        if appended:
            self._appended_since_trim += len(appended)
            consecutive = appended[-1].offset - appended[0].offset == len(appended) - 1
            self._tail = appended if consecutive else []
            self._generation += 1
            await self._wake()

    async def _transaction(self, requests: builtins.list[_Request]) -> builtins.list[Any]:
        """One transaction for the batch; the result of each request, in order."""
        now = datetime.now(UTC)
        appends = [r for r in requests if isinstance(r, _Append)]
        commits: dict[str, int] = {}
        for request in requests:
            if isinstance(request, _Commit):
                commits[request.group] = max(commits.get(request.group, request.offset), request.offset)
        published = await self._transactions.run(self._write_batch, appends, commits, now)
        return [published.get(id(r)) if isinstance(r, _Append) else None for r in requests]

    def _write_batch(
        self, conn: Connection, appends: builtins.list[_Append], commits: dict[str, int], now: datetime
    ) -> dict[int, Published]:
        """The body of a batch's transaction (see :mod:`triggerfish.bus.sql_writer`)."""
        published = self._append(conn, appends, now) if appends else {}
        if commits:
            rows = [{"group_name": g, "committed": o, "updated_at": now} for g, o in commits.items()]
            conn.execute(self._commit_offsets, rows)
        return published

    def _append(
        self, conn: Connection, appends: builtins.list[_Append], now: datetime
    ) -> dict[int, Published]:
        """Insert the batch; the outcome of each append, keyed by ``id()`` of the request."""
        if self._lock_for_append:
            conn.execute(sa.text("LOCK TABLE events IN EXCLUSIVE MODE"))
        first: dict[tuple[str, str], _Append] = {}
        for append in appends:
            append.row["appended_at"] = now
            first.setdefault(append.identity, append)
        rows = [append.row for append in first.values()]
        offsets = {(r.source, r.event_id): r.offset for r in conn.execute(self._insert, rows)}
        inserted = set(offsets)
        missing = [identity for identity in first if identity not in inserted]
        if missing:
            query = sa.select(events.c.offset, events.c.source, events.c.event_id).where(
                sa.tuple_(events.c.source, events.c.event_id).in_(missing)
            )
            offsets.update({(r.source, r.event_id): r.offset for r in conn.execute(query)})
        return {
            id(append): Published(
                offset=offsets[append.identity],
                duplicate=append.identity not in inserted or first[append.identity] is not append,
            )
            for append in appends
        }

    # ---------------------------------------------------------------------------- retention

    def _trim_due(self) -> bool:
        retention = self._retention
        if self._trim_more:
            return True
        if not retention.enabled or not self._appended_since_trim:
            return False
        return (
            self._appended_since_trim >= retention.check_every_records
            or time.monotonic() - self._last_trim >= retention.check_interval_seconds
        )

    async def _trim(self) -> None:
        """Delete up to TRIM_CHUNK of the records retention no longer keeps, oldest first."""
        self._appended_since_trim = 0
        self._last_trim = time.monotonic()
        self._trim_more = False
        try:
            deleted = await self._transactions.run(self._delete_expired)
        except Exception:
            log.exception("bus retention failed; it is tried again after the next appends")
            return
        self._trim_more = deleted == TRIM_CHUNK

    def _delete_expired(self, conn: Connection) -> int:
        keep_from = self._keep_from(conn)
        if keep_from is None:
            return 0
        doomed = (
            sa.select(events.c.offset)
            .where(events.c.offset < keep_from)
            .order_by(events.c.offset)
            .limit(TRIM_CHUNK)
        )
        return int(conn.execute(events.delete().where(events.c.offset.in_(doomed))).rowcount)

    def _keep_from(self, conn: Connection) -> int | None:
        """The oldest offset retention keeps: never above the newest record's.

        ``max_records`` counts offsets back from the newest (an index lookup, where counting rows
        would read them all); on PostgreSQL, whose sequences skip values, slightly fewer are kept.
        """
        retention = self._retention
        newest = conn.scalar(_NEWEST)
        if newest is None:
            return None
        bounds = [0]
        if retention.max_records is not None:
            bounds.append(newest - retention.max_records + 1)
        if retention.max_age_seconds is not None:
            cutoff = datetime.now(UTC) - timedelta(seconds=retention.max_age_seconds)
            young = sa.select(sa.func.min(events.c.offset)).where(events.c.appended_at >= cutoff)
            bounds.append(conn.scalar(young) or newest)
        return max(bounds)


class SqlSubscription:
    """Records of one consumer group, in offset order; see the module docstring for the rules."""

    def __init__(self, bus: SqlBus, group: str, start: StartPosition, since: datetime) -> None:
        self.group = group
        self.lost = 0
        """Offsets skipped because retention deleted them before this subscription read them."""
        self.closed = False
        self._bus = bus
        self._start = start
        self._since = since
        self._position: int | None = None
        self._committed = -1
        self._buffer: deque[Record] = deque()

    def __aiter__(self) -> SqlSubscription:
        return self

    async def __anext__(self) -> Record:
        while not self._buffer:
            if self.closed or self._bus._closed:
                raise StopAsyncIteration
            generation = self._bus._generation  # read before querying, so no append goes unnoticed
            if self._position is None:
                self._position = await self._bus._start_position(self.group, self._start, self._since)
            records = self._bus._read_tail(self._position) or await self._bus._read(self._position)
            if records:
                await self._check_lost(records[0].offset)
                self._buffer.extend(records)
            else:
                await self._bus._wait_for_append(generation, self)
        record = self._buffer.popleft()
        self._position = record.offset
        return record

    async def commit(self, record: Record) -> None:
        """Durable when this returns; committing an offset at or below the last commit is a no-op."""
        if record.offset <= self._committed:
            return
        await self._bus._commit(self.group, record.offset)
        self._committed = record.offset

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._bus._release(self.group)
        await self._bus._wake()

    async def _check_lost(self, next_offset: int) -> None:
        """A jump to the oldest record in the log means retention deleted what lay in between."""
        assert self._position is not None
        if next_offset == self._position + 1 or next_offset != await self._bus._oldest():
            return
        skipped = next_offset - self._position - 1
        self.lost += skipped
        log.warning(
            "consumer group %r: offsets %d..%d were deleted by retention before it read them",
            self.group,
            self._position + 1,
            next_offset - 1,
        )
