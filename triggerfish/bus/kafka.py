"""The scale-out bus: one Kafka topic, one consumer group per bus group (per sensor).

Built on aiokafka directly, not on FastStream's ``KafkaBroker`` (checked against FastStream 0.7.8
on the test broker). FastStream is a push framework: a decorated handler per message or batch,
run by the framework's consume loop, acked by policy. The bus contract is pull: ``subscribe()``
hands the sensor an async iterator and the sensor decides when ``commit(record)`` happens. On that
side FastStream would contribute nothing but the construction of the aiokafka objects every
operation still has to reach into (``subscriber.consumer``):

* **Commit after success, cumulative up to a record.** FastStream's ``message.ack()`` is
  ``consumer.commit()`` without offsets, i.e. the consumer's position on every assigned partition
  (everything fetched so far); acking record 1 of 5 delivered commits all 5, losing 2..4 on a
  crash. ``commit(record)`` must commit explicit per-partition offsets: the raw consumer's
  ``commit({tp: OffsetAndMetadata})``.
* **"latest" = appended after ``subscribe()``** needs ``committed``, ``offsets_for_times`` and
  ``seek`` inside the rebalance listener; FastStream passes a listener through but offers none of
  these. **``get(offset)``** (lineage, replay) is assign + seek on a group-less consumer.
* **Deduplication in batches.** FastStream's pull API for a handler-less subscriber
  (``async for msg in subscriber`` / ``get_one``) yields one message at a time (29,000 msg/s
  measured, against 250,000 for ``getmany``), so the index lookups of a fetched batch could no
  longer be made in one query; the batch subscriber exists only with a handler.
* **Topics.** FastStream's ``Topic`` declares partitions and replication only; the bus needs
  ``message.timestamp.type=LogAppendTime`` (for "latest") and ``retention.ms``/``segment.ms``.
* Its publisher adds a ``correlation_id`` header to every record (harmless, not CloudEvents).

What the binding needs (``ce_*`` headers, a key per dependency) FastStream could carry, but so
does aiokafka in a few lines; one client library for the bus, the ``kafka`` source and the
``kafka`` trigger keeps the TLS/SASL settings in one place (:mod:`triggerfish.bus.kafka_client`).

* **Envelope.** CloudEvents in Kafka's *binary content mode* (``ce_*`` headers, ``content-type``,
  the data as the value), written and read with the SDK's binding
  (``cloudevents.core.bindings.kafka``). Records in structured mode
  (``content-type: application/cloudevents+json``) are read too.
* **Offsets.** A record's bus offset is ``partition << 40 | offset in the partition``: unique and
  stable for the topic, increasing within a partition. Ordering holds per partition; the message
  key (the caller's ``key``, else ``<namespace>/<source>/<subject>``, i.e. one dependency) picks
  the partition, so one dependency's events stay in order. Across partitions there is no order.
* **Durability.** The producer uses ``acks=all`` and idempotence; ``publish`` returns once the
  broker acknowledged the record. Concurrent publishes are appended in the order they were
  issued (one FIFO hands records to the producer), so a source may publish without waiting.
* **Consumer groups.** Each bus group is the Kafka group ``<group prefix><group>``, so hub
  replicas running the same sensor split the topic's partitions, and a replica that dies hands its
  partitions to the others after the group's session timeout. Offsets are committed only through
  :meth:`KafkaSubscription.commit`, i.e. after the handler succeeded: ``commit(record)`` commits,
  for every partition, everything delivered up to and including ``record`` (in delivery order).
  When partitions are revoked, commits already asked for are written first and records buffered
  for those partitions are dropped; whatever was delivered but not committed is delivered again to
  the partitions' next owner (the sensor's delivery records make that harmless).
* **Deduplication.** Kafka cannot refuse an append whose (source, id) it already holds. With an
  ``index`` engine (the hub's store: table ``bus_event_ids``) the bus keeps the contract anyway:
  ``publish`` looks the (source, id) up first and returns the recorded offset with
  ``duplicate=True``; otherwise it appends and records (source, id) → offset, first record wins.
  Two publishers racing on the same event may both append, so subscriptions consult the same
  index: a record whose (source, id) belongs to another offset is skipped (and committed past),
  and a record nobody has indexed yet is claimed for its own offset. Every consumer group
  therefore sees each (source, id) once, at the same offset. Rows older than the retention age are
  pruned. Without an index (:attr:`KafkaBus.supports_dedupe` is False) every publish appends, and
  idempotence rests on the event sources' stable ids and the sensors' firing keys.
* **Retention** is the topic's: ``retention.ms`` from ``max_age_seconds`` when the bus creates the
  topic, with ``segment.ms`` a tenth of it, since Kafka deletes only whole closed segments (on the
  broker's ``log.retention.check.interval.ms`` schedule); a deleted record is gone from ``get`` and
  from every group. The SQLite bus's record-count limit has no Kafka equivalent (Kafka limits
  bytes, not records), so it is not part of this driver's contract.
* **"latest"** seeks a group without committed offsets to the first record appended after
  ``subscribe()`` was called (``offsets_for_times``; topics are created with
  ``message.timestamp.type=LogAppendTime``) and commits that position, as the SQLite bus does.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import ConsumerStoppedError, KafkaError, TopicAlreadyExistsError
from aiokafka.structs import OffsetAndMetadata
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from triggerfish.bus.base import Published, Record, StartPosition
from triggerfish.bus.kafka_client import KafkaConnection
from triggerfish.events import Event, decode, namespace_of
from triggerfish.store.schema import bus_event_ids

log = logging.getLogger(__name__)

OFFSET_BITS = 40
"""Bits of a bus offset that hold the offset within the partition (the rest: the partition)."""
_OFFSET_MASK = (1 << OFFSET_BITS) - 1
FETCH_RECORDS = 500
GET_BATCH = 200
GET_CACHE = 4096
READER_FETCH_WAIT_MS = 10
"""How long the broker holds ``get``'s fetches at the end of a partition. A ``get`` seeks, and the
next fetch waits for the one in flight: with Kafka's default (500 ms) each ``get`` took half a second."""
KNOWN_CACHE = 65536
START_OFFSET_TTL_SECONDS = 0.25
PRUNE_INTERVAL_SECONDS = 60.0
_FORMAT = JSONFormat()

T = TypeVar("T")
R = TypeVar("R")


def bus_offset(partition: int, offset: int) -> int:
    return (partition << OFFSET_BITS) | offset


def split_offset(value: int) -> tuple[int, int]:
    """(partition, offset in the partition) of a bus offset."""
    return value >> OFFSET_BITS, value & _OFFSET_MASK


def dependency_key(event: Event) -> str:
    """The default message key: one dependency (namespace, event source, event name)."""
    return f"{namespace_of(event)}/{event.get_source()}/{event.get_subject() or ''}"


def to_message(event: Event, key: str) -> ce_kafka.KafkaMessage:
    return ce_kafka.to_binary(event, _FORMAT, key_mapper=lambda _: key)


def from_message(message: ConsumerRecord[Any, Any]) -> Event:
    headers = {name: bytes(value) for name, value in message.headers or ()}
    content_type = headers.get("content-type", b"").decode(errors="replace")
    if "ce_specversion" not in headers and content_type.startswith("application/cloudevents"):
        return decode(message.value or b"")
    # The key is the record's, not an attribute of the event: keep the event as it was published.
    binary = ce_kafka.KafkaMessage(headers=headers, key=None, value=message.value or b"")
    event = ce_kafka.from_binary(binary, _FORMAT)
    assert isinstance(event, Event)
    return event


def to_record(message: ConsumerRecord[Any, Any]) -> Record:
    key = message.key.decode(errors="replace") if isinstance(message.key, bytes) else message.key
    return Record(
        offset=bus_offset(message.partition, message.offset),
        event=from_message(message),
        key=key,
        appended_at=datetime.fromtimestamp(message.timestamp / 1000, UTC),
    )


class _Batcher(Generic[T, R]):
    """Concurrent calls queued while a batch runs are handled together by the next one."""

    def __init__(self, run: Callable[[list[T]], Awaitable[list[R]]], name: str) -> None:
        self._run = run
        self._name = name
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def call(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name=self._name)
        return await future

    async def call_many(self, items: Sequence[T]) -> list[R]:
        if not items:
            return []
        return list(await asyncio.gather(*(self.call(item) for item in items)))

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:1000], self._queue[1000:]
            try:
                results = await self._run([item for item, _ in batch])
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


def _select_ids(dialect: str) -> sa.Select[Any]:
    """``event_id`` and ``offset`` of the rows for bind parameters ``topic``, ``source`` and ``ids``.

    On PostgreSQL one primary-key lookup per id, joined laterally to the id array (the ``LIMIT``
    keeps the planner from flattening the join): a plain ``IN`` or ``= ANY`` was planned, on a table
    without statistics yet (a new database's first minute), as a scan of the source's every row,
    and a lookup of 250 ids took 140 ms with 30,000 rows in the table. SQLite plans ``IN`` on the key.
    """
    table = bus_event_ids
    if dialect != "postgresql":
        return sa.select(table.c.event_id, table.c.offset).where(
            table.c.topic == sa.bindparam("topic"),
            table.c.source == sa.bindparam("source"),
            table.c.event_id.in_(sa.bindparam("ids", expanding=True)),
        )
    ids = sa.bindparam("ids", type_=postgresql.ARRAY(sa.String))
    wanted = sa.func.unnest(ids).table_valued("id").render_derived(name="wanted")
    found = (
        sa.select(table.c.offset)
        .where(
            table.c.topic == sa.bindparam("topic"),
            table.c.source == sa.bindparam("source"),
            table.c.event_id == wanted.c.id,
        )
        .limit(1)
        .lateral("found")
    )
    return sa.select(wanted.c.id.label("event_id"), found.c.offset).select_from(wanted).join(found, sa.true())


class DedupeIndex:
    """(topic, source, id) → the canonical bus offset, in the hub's database (``bus_event_ids``).

    A mapping never changes once written (first claim wins), so the process keeps the recent ones
    in memory: a hub's sensors then check the events its own sources published without a query.
    """

    def __init__(self, engine: AsyncEngine, topic: str, max_age_seconds: float | None) -> None:
        self.engine = engine
        self._engine = engine
        self._topic = topic
        self._max_age = max_age_seconds
        module = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = (
            module.insert(bus_event_ids)
            .on_conflict_do_nothing(index_elements=["topic", "source", "event_id"])
            .returning(bus_event_ids.c.source, bus_event_ids.c.event_id, bus_event_ids.c.offset)
        )
        self._select_ids = _select_ids(engine.dialect.name)
        self.lookup = _Batcher(self._lookup, "bus index lookups")
        self.claim = _Batcher(self._claim, "bus index claims")
        self._last_prune = time.monotonic()
        self._known: OrderedDict[tuple[str, str], int] = OrderedDict()

    def known(self, identity: tuple[str, str]) -> int | None:
        return self._known.get(identity)

    def _learn(self, found: dict[tuple[str, str], int]) -> None:
        self._known.update(found)
        while len(self._known) > KNOWN_CACHE:
            self._known.popitem(last=False)

    async def _select(self, conn: Any, identities: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The recorded offsets of these identities, a query per source (a batch has few sources)."""
        by_source: dict[str, list[str]] = {}
        for source, event_id in set(identities):
            by_source.setdefault(source, []).append(event_id)
        found: dict[tuple[str, str], int] = {}
        for source, event_ids in by_source.items():
            for start in range(0, len(event_ids), 500):
                values = {"topic": self._topic, "source": source, "ids": event_ids[start : start + 500]}
                rows = await conn.execute(self._select_ids, values)
                found.update({(source, r.event_id): int(r.offset) for r in rows})
        return found

    async def _lookup(self, identities: list[tuple[str, str]]) -> list[int | None]:
        async with self._engine.connect() as conn:
            found = await self._select(conn, identities)
        self._learn(found)
        return [found.get(identity) for identity in identities]

    async def _claim(self, claims: list[tuple[tuple[str, str], int]]) -> list[int]:
        """Record each (identity, offset) unless the identity has one; the canonical offsets."""
        now = datetime.now(UTC)
        first: dict[tuple[str, str], int] = {}
        for identity, offset in claims:
            first.setdefault(identity, offset)
        # In key order: replicas claiming overlapping sets then lock the keys in the same order
        # (in arrival order two of them deadlocked, and PostgreSQL failed one's subscription).
        rows = [
            {"topic": self._topic, "source": s, "event_id": i, "offset": o, "recorded_at": now}
            for (s, i), o in sorted(first.items())
        ]
        async with self._engine.begin() as conn:
            inserted = await conn.execute(self._insert, rows)
            canonical = {(r.source, r.event_id): int(r.offset) for r in inserted}
            if len(canonical) < len(first):  # some were claimed before: read their offsets
                canonical.update(await self._select(conn, (i for i in first if i not in canonical)))
        self._learn(canonical)
        await self._maybe_prune()
        return [canonical[identity] for identity, _ in claims]

    async def _maybe_prune(self) -> None:
        if self._max_age is None or time.monotonic() - self._last_prune < PRUNE_INTERVAL_SECONDS:
            return
        self._last_prune = time.monotonic()
        self._known.clear()  # a pruned identity may be published anew
        cutoff = datetime.now(UTC) - timedelta(seconds=self._max_age)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    bus_event_ids.delete().where(
                        bus_event_ids.c.topic == self._topic, bus_event_ids.c.recorded_at < cutoff
                    )
                )
        except Exception:
            log.exception("pruning the bus's dedupe index failed; tried again later")

    async def canonical(self, records: Sequence[Record]) -> list[bool]:
        """For each record, whether it is the (source, id)'s canonical copy (claiming unindexed ones)."""
        identities = [(r.event.get_source(), r.event.get_id()) for r in records]
        known: list[int | None] = [self._known.get(identity) for identity in identities]
        asked = [i for i, o in zip(identities, known, strict=True) if o is None]
        answers = iter(await self.lookup.call_many(asked))
        known = [o if o is not None else next(answers) for o in known]
        unknown = [
            (identity, r.offset)
            for identity, r, o in zip(identities, records, known, strict=True)
            if o is None
        ]
        claimed = dict(zip([u[0] for u in unknown], await self.claim.call_many(unknown), strict=True))
        return [
            (o if o is not None else claimed[identity]) == r.offset
            for identity, r, o in zip(identities, records, known, strict=True)
        ]


@dataclass(frozen=True, slots=True)
class TopicSettings:
    partitions: int = 12
    replication_factor: int = 1
    max_age_seconds: float | None = None
    """``retention.ms`` of a topic the bus creates (Kafka's default when None)."""


class KafkaBus:
    """The :class:`~triggerfish.bus.base.Bus` on a Kafka topic (see the module docstring)."""

    def __init__(
        self,
        connection: KafkaConnection,
        topic: str,
        *,
        index: AsyncEngine | None = None,
        topic_settings: TopicSettings | None = None,
        group_prefix: str | None = None,
        session_timeout_ms: int = 10_000,
        linger_ms: int = 0,
    ) -> None:
        self.connection = connection
        self.topic = topic
        self.topic_settings = topic_settings or TopicSettings()
        self.group_prefix = f"{topic}." if group_prefix is None else group_prefix
        self.session_timeout_ms = session_timeout_ms
        self._linger_ms = linger_ms
        self._index = DedupeIndex(index, topic, self.topic_settings.max_age_seconds) if index else None
        self._producer: AIOKafkaProducer | None = None
        self._reader: AIOKafkaConsumer | None = None
        self._reader_lock = asyncio.Lock()
        self._send_order = asyncio.Lock()
        self._start_lock = asyncio.Lock()
        self._cache: OrderedDict[int, Record] = OrderedDict()
        self._starts: dict[int, tuple[float, int]] = {}
        self._subscriptions: set[KafkaSubscription] = set()
        self._closed = False

    @property
    def supports_dedupe(self) -> bool:
        """Whether ``publish`` reports (and subscriptions skip) repeated (source, id)s."""
        return self._index is not None

    # ------------------------------------------------------------------------------ lifecycle

    async def ensure_topic(self) -> None:
        """Create the topic (LogAppendTime, retention from the settings) unless it exists."""
        admin = AIOKafkaAdminClient(**self.connection.client_kwargs())
        await admin.start()
        try:
            configs = {"message.timestamp.type": "LogAppendTime"}
            if self.topic_settings.max_age_seconds is not None:
                age_ms = max(1, int(self.topic_settings.max_age_seconds * 1000))
                configs["retention.ms"] = str(age_ms)
                # Kafka deletes whole closed segments: rolling at a tenth of the age keeps records
                # at most ~1.1x the age (plus the broker's log.retention.check.interval.ms).
                configs["segment.ms"] = str(max(1, age_ms // 10))
            topic = NewTopic(
                self.topic,
                self.topic_settings.partitions,
                self.topic_settings.replication_factor,
                topic_configs=configs,
            )
            with contextlib.suppress(TopicAlreadyExistsError):
                response = await admin.create_topics([topic])
                for _, code, *_ in getattr(response, "topic_errors", ()):
                    if code not in (0, TopicAlreadyExistsError.errno):
                        raise KafkaError(f"creating topic {self.topic!r} failed with error code {code}")
        finally:
            await admin.close()

    async def _started_producer(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._start_lock:
            if self._closed:
                raise RuntimeError("the bus is closed")
            if self._producer is None:
                await self.ensure_topic()
                producer = AIOKafkaProducer(
                    **self.connection.client_kwargs(),
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=self._linger_ms,
                )
                await producer.start()
                self._producer = producer
        return self._producer

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for subscription in list(self._subscriptions):
            await subscription.close()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        if self._reader is not None:
            await self._reader.stop()
            self._reader = None

    # ------------------------------------------------------------------------------ the contract

    async def publish(self, event: Event, *, key: str | None = None) -> Published:
        identity = (event.get_source(), event.get_id())
        if self._index is not None:
            known = self._index.known(identity)
            if known is None:
                known = await self._index.lookup.call(identity)
            if known is not None:
                return Published(offset=known, duplicate=True)
        producer = await self._started_producer()
        message = to_message(event, key if key is not None else dependency_key(event))
        assert isinstance(message.key, str)
        async with self._send_order:  # FIFO: publishes issued in order are appended in order
            sent = await producer.send(
                self.topic,
                value=message.value,
                key=message.key.encode(),
                headers=list(message.headers.items()),
            )
        metadata = await sent
        offset = bus_offset(metadata.partition, metadata.offset)
        if self._index is None:
            return Published(offset=offset, duplicate=False)
        canonical = await self._index.claim.call((identity, offset))
        return Published(offset=canonical, duplicate=canonical != offset)

    def subscribe(self, group: str, *, start: StartPosition = "earliest") -> KafkaSubscription:
        if self._closed:
            raise RuntimeError("the bus is closed")
        subscription = KafkaSubscription(self, group, start, time.time())
        self._subscriptions.add(subscription)
        return subscription

    async def get(self, offset: int) -> Record | None:
        """One record, read with a group-less consumer (a batch around it is cached; a cached record
        is returned only while retention has not moved the partition's start past it)."""
        partition, position = split_offset(offset)
        async with self._reader_lock:
            reader = await self._started_reader()
            partitions = reader.partitions_for_topic(self.topic) or set()
            if partition not in partitions:
                await self._started_producer()  # creates the topic if needed
                return None
            tp = TopicPartition(self.topic, partition)
            if position < await self._start_of(reader, tp):
                return None
            cached = self._cache.get(offset)
            if cached is not None:
                return cached
            if reader.assignment() != {tp}:
                reader.assign([tp])
            high = (await reader.end_offsets([tp]))[tp]
            if position >= high:
                return None
            reader.seek(tp, position)
            fetched = await reader.getmany(tp, timeout_ms=5000, max_records=GET_BATCH)
            for message in fetched.get(tp, []):
                self._remember(to_record(message))
        return self._cache.get(offset)

    async def _start_of(self, reader: AIOKafkaConsumer, tp: TopicPartition) -> int:
        """The partition's first retained offset, asked of the broker at most every 250 ms."""
        now = time.monotonic()
        known = self._starts.get(tp.partition)
        if known is None or now - known[0] > START_OFFSET_TTL_SECONDS:
            known = (now, (await reader.beginning_offsets([tp]))[tp])
            self._starts[tp.partition] = known
        return known[1]

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
        """Newest first (by append time), for lineage: read through the dedupe index, so only a
        bus with an index can list. ``before``/``after`` compare bus offsets (per partition)."""
        if self._index is None:
            return []
        query = (
            sa.select(bus_event_ids.c.offset)
            .where(bus_event_ids.c.topic == self.topic)
            .order_by(bus_event_ids.c.recorded_at.desc(), bus_event_ids.c.offset.desc())
        )
        if source is not None:
            query = query.where(bus_event_ids.c.source == source)
        if event_id is not None:
            query = query.where(bus_event_ids.c.event_id == event_id)
        if before is not None:
            query = query.where(bus_event_ids.c.offset < before)
        if after is not None:
            query = query.where(bus_event_ids.c.offset > after)
        wanted = {"type": type, "subject": subject, "namespace": namespace}
        found: builtins.list[Record] = []
        page = 0
        async with self._index.engine.connect() as conn:
            while len(found) < limit:
                rows = (await conn.execute(query.limit(limit * 4).offset(page))).all()
                if not rows:
                    break
                page += len(rows)
                for row in rows:
                    record = await self.get(int(row.offset))
                    if record is None:
                        continue
                    actual = {
                        "type": record.event.get_type(),
                        "subject": record.event.get_subject() or "",
                        "namespace": namespace_of(record.event),
                    }
                    if all(v is None or actual[k] == v for k, v in wanted.items()):
                        found.append(record)
                        if len(found) == limit:
                            break
        return found

    async def _started_reader(self) -> AIOKafkaConsumer:
        if self._reader is None:
            reader = AIOKafkaConsumer(
                **self.connection.client_kwargs(),
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=READER_FETCH_WAIT_MS,
            )
            await reader.start()
            await reader._client.force_metadata_update()
            self._reader = reader
        return self._reader

    def _remember(self, record: Record) -> None:
        self._cache[record.offset] = record
        self._cache.move_to_end(record.offset)
        while len(self._cache) > GET_CACHE:
            self._cache.popitem(last=False)

    def _forget(self, subscription: KafkaSubscription) -> None:
        self._subscriptions.discard(subscription)


@dataclass(slots=True)
class _Delivered:
    sequence: int
    partition: int
    offset: int


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, subscription: KafkaSubscription) -> None:
        self._subscription = subscription

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._subscription._revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._subscription._assigned(assigned)


class KafkaSubscription:
    """One consumer group's records, through its own Kafka consumer (see the module docstring)."""

    def __init__(self, bus: KafkaBus, group: str, start: StartPosition, since: float) -> None:
        self.group = group
        self.closed = False
        self._bus = bus
        self._start = start
        self._since_ms = math.floor(since * 1000) + 1
        self._consumer: AIOKafkaConsumer | None = None
        self._buffer: deque[Record] = deque()
        self._delivered: deque[_Delivered] = deque()
        self._sequence_of: dict[int, int] = {}
        self._sequence = 0
        self._handling = asyncio.Event()
        """Set while a yielded record is with the caller (between two ``__anext__`` calls)."""
        self._start_lock = asyncio.Lock()

    def __aiter__(self) -> KafkaSubscription:
        return self

    async def _started(self) -> AIOKafkaConsumer:
        async with self._start_lock:
            if self._consumer is None:
                await self._bus._started_producer()  # the topic exists before the group subscribes
                consumer = AIOKafkaConsumer(
                    **self._bus.connection.client_kwargs(),
                    group_id=f"{self._bus.group_prefix}{self.group}",
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    session_timeout_ms=self._bus.session_timeout_ms,
                    heartbeat_interval_ms=max(100, self._bus.session_timeout_ms // 5),
                    max_poll_interval_ms=300_000,
                )
                await consumer.start()
                consumer.subscribe([self._bus.topic], listener=_Listener(self))
                self._consumer = consumer
            return self._consumer

    async def __anext__(self) -> Record:
        self._handling.clear()
        while not self._buffer:
            if self.closed or self._bus._closed:
                raise StopAsyncIteration
            consumer = await self._started()
            try:
                fetched = await consumer.getmany(timeout_ms=1000, max_records=FETCH_RECORDS)
            except ConsumerStoppedError:
                raise StopAsyncIteration from None
            messages = sorted(
                (m for batch in fetched.values() for m in batch), key=lambda m: (m.timestamp, m.partition)
            )
            if not messages:
                continue
            records = [to_record(message) for message in messages]
            keep = (
                await self._bus._index.canonical(records)
                if self._bus._index is not None
                else [True] * len(records)
            )
            assigned = {tp.partition for tp in consumer.assignment()}
            for record, canonical in zip(records, keep, strict=True):
                partition, _ = split_offset(record.offset)
                if partition not in assigned:
                    continue  # revoked while we were reading the index
                if canonical:
                    self._buffer.append(record)
                else:  # a repeated (source, id): never delivered, committed with what follows
                    self._note_delivered(record)
        record = self._buffer.popleft()
        self._note_delivered(record)
        self._handling.set()
        return record

    def _note_delivered(self, record: Record) -> None:
        partition, offset = split_offset(record.offset)
        self._sequence += 1
        self._delivered.append(_Delivered(self._sequence, partition, offset))
        self._sequence_of[record.offset] = self._sequence

    async def commit(self, record: Record) -> None:
        """Commit ``record`` and everything delivered before it; never raises for a rebalance."""
        sequence = self._sequence_of.get(record.offset)
        if sequence is None:
            return  # committed already (commits are cumulative), or its partition was revoked
        targets: dict[int, int] = {}
        while self._delivered and self._delivered[0].sequence <= sequence:
            entry = self._delivered.popleft()
            self._sequence_of.pop(bus_offset(entry.partition, entry.offset), None)
            targets[entry.partition] = max(targets.get(entry.partition, -1), entry.offset)
        await self._commit_offsets(targets)

    async def _commit_offsets(self, targets: dict[int, int]) -> None:
        consumer = self._consumer
        if not targets or consumer is None:
            return
        offsets = {
            TopicPartition(self._bus.topic, p): OffsetAndMetadata(o + 1, "") for p, o in targets.items()
        }
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            # The partitions moved to another replica: it re-delivers from the last commit.
            log.info("group %s: commit of %s not written (%s)", self.group, targets, exc)

    async def _revoked(self, revoked: list[TopicPartition]) -> None:
        with contextlib.suppress(TimeoutError):  # let the record being handled finish, briefly
            await asyncio.wait_for(self._wait_not_handling(), 5.0)
        partitions = {tp.partition for tp in revoked}
        self._buffer = deque(r for r in self._buffer if split_offset(r.offset)[0] not in partitions)
        kept: deque[_Delivered] = deque()
        for entry in self._delivered:
            if entry.partition in partitions:
                self._sequence_of.pop(bus_offset(entry.partition, entry.offset), None)
            else:
                kept.append(entry)
        self._delivered = kept

    async def _wait_not_handling(self) -> None:
        while self._handling.is_set() and not self.closed:
            await asyncio.sleep(0.01)

    async def _assigned(self, assigned: list[TopicPartition]) -> None:
        consumer = self._consumer
        if consumer is None or self._start != "latest" or not assigned:
            return
        fresh = [tp for tp in assigned if await consumer.committed(tp) is None]
        if not fresh:
            return
        found = await consumer.offsets_for_times({tp: self._since_ms for tp in fresh})
        ends = await consumer.end_offsets(fresh)
        positions = {tp: (found[tp].offset if found.get(tp) is not None else ends[tp]) for tp in fresh}
        for tp, position in positions.items():
            consumer.seek(tp, position)
        try:  # a crash before the first commit keeps this start
            await consumer.commit({tp: OffsetAndMetadata(p, "") for tp, p in positions.items()})
        except KafkaError as exc:
            log.info("group %s: start position not committed (%s)", self.group, exc)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._bus._forget(self)
        async with self._start_lock:
            consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(KafkaError):
                await consumer.stop()
