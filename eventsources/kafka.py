"""The ``kafka`` event source: every record of a topic becomes an event.

Checked against Argo Events (``pkg/eventsources/sources/kafka/start.go``):

* Event data is Argo's ``KafkaEventData``: ``{"topic", "key", "partition", "timestamp", "headers",
  "body", "metadata"}``. ``timestamp`` is Go's ``time.Time.String()`` of the record's timestamp;
  ``headers`` maps each header to its value as text; ``body`` is the value parsed as JSON when
  ``jsonBody`` is true (a value that is not JSON is kept as text), otherwise the bytes, base64
  encoded (how Go marshals ``[]byte``).
* Event id: ``<namespace>/<eventsource>/<eventName>:<topic>/<partition>/<offset>``, so a record
  read twice (a replica died before committing, a rebalance) is the same event and the bus
  stores it once.
* ``consumerGroup``: the hub consumes as that group (replicas of the hub split the partitions,
  with the ``rebalanceStrategy`` given: ``range`` by default, ``roundrobin`` or ``sticky``); a
  group without committed offsets starts at the oldest record when ``oldest`` is set, else at new
  ones. Offsets are committed **after** the events of a fetched batch are durable on the bus, so
  a crash re-reads at most that batch (and the bus deduplicates it).
* ``partition`` without ``consumerGroup``: that one partition from the newest record on, nothing
  committed (as in Argo: records published while the hub is down are not read).
* Events are published with the bus key ``<namespace>/<eventsource>/<eventName>/<partition>``:
  the order of one source partition is kept on the bus, and different partitions spread over the
  bus's partitions (so hub replicas share the work of one sensor).
* ``limitEventsPerSecond`` paces publishing (a token every 1/limit seconds, as Argo's limiter).
* ``connectionBackoff`` spaces connection attempts; after its ``steps`` the source keeps retrying
  at the last interval (a hub does not give an EventSource up).
* ``tls`` and ``sasl`` (PLAIN, SCRAM-SHA-256/512) as :mod:`triggerfish.bus.kafka_client` builds
  them from the secrets named; ``version`` is accepted and unused (the client negotiates).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from aiokafka.errors import KafkaError

from eventsources.base import HttpRoute, SourceContext
from eventsources.spec import KafkaEventSource, SASLConfig, TLSConfig
from eventsources.webhook import make_event, scoped_id, with_metadata
from triggerfish.bus.kafka_client import KafkaConnection, SaslMechanism, ssl_context
from triggerfish.events import Event
from triggerfish.expressions.gotime import time_string
from workflow_runtime.spec.common import SecretKeySelector

log = logging.getLogger(__name__)

FETCH_RECORDS = 500
_ASSIGNORS = {
    "": RangePartitionAssignor,
    "range": RangePartitionAssignor,
    "roundrobin": RoundRobinPartitionAssignor,
    "sticky": StickyPartitionAssignor,
}


class SecretMissing(ValueError):
    pass


def _secret(context: SourceContext, ref: SecretKeySelector | None, what: str) -> str | None:
    if ref is None:
        return None
    value = context.get_secret(ref.name or "", ref.key)
    if value is None:
        raise SecretMissing(f"{what}: secret {ref.name}/{ref.key} not found")
    return value


def connection(
    context: SourceContext, url: str, tls: TLSConfig | None, sasl: SASLConfig | None
) -> KafkaConnection:
    """Client settings from an Argo ``url`` with its ``tls`` and ``sasl`` blocks."""
    context_tls = None
    if tls is not None:
        context_tls = ssl_context(
            ca_pem=_secret(context, tls.ca_cert_secret, "tls.caCertSecret"),
            cert_pem=_secret(context, tls.client_cert_secret, "tls.clientCertSecret"),
            key_pem=_secret(context, tls.client_key_secret, "tls.clientKeySecret"),
            insecure_skip_verify=tls.insecure_skip_verify,
        )
    mechanism: SaslMechanism | None = None
    user = password = None
    if sasl is not None:
        mechanism = sasl.mechanism  # type: ignore[assignment]  # validated: one of SASL_MECHANISMS
        user = _secret(context, sasl.user_secret, "sasl.userSecret")
        password = _secret(context, sasl.password_secret, "sasl.passwordSecret")
    return KafkaConnection(url, mechanism, user, password, context_tls, client_id="triggerfish-source")


def event_data(message: ConsumerRecord[Any, Any], spec: KafkaEventSource) -> dict[str, Any]:
    """Argo's ``KafkaEventData`` for one record."""
    value: bytes = message.value or b""
    body: Any
    if spec.json_body:
        try:
            body = orjson.loads(value) if value else None
        except orjson.JSONDecodeError:
            body = value.decode(errors="replace")
    else:
        body = base64.b64encode(value).decode()
    key = message.key.decode(errors="replace") if isinstance(message.key, bytes) else (message.key or "")
    timestamp = datetime.fromtimestamp(message.timestamp / 1000, UTC)
    data: dict[str, Any] = {
        "topic": message.topic,
        "key": key,
        "partition": message.partition,
        "timestamp": time_string(timestamp),
        "headers": {name: bytes(raw).decode(errors="replace") for name, raw in message.headers or ()},
        "body": body,
    }
    return with_metadata(data, spec.metadata)


class KafkaDriver:
    kind: ClassVar[str] = "kafka"

    def __init__(self, context: SourceContext, spec: KafkaEventSource) -> None:
        self.context = context
        self.spec = spec
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._interval = 1.0 / spec.limit_events_per_second if spec.limit_events_per_second else 0.0
        self._next_slot = 0.0
        self.published = 0

    def routes(self) -> Sequence[HttpRoute]:
        return []

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"kafka source {self._name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def _name(self) -> str:
        ref = self.context.ref
        return f"{ref.namespace}/{ref.eventsource}/{ref.event_name}"

    # ------------------------------------------------------------------ events

    def event(self, message: ConsumerRecord[Any, Any]) -> Event:
        local_id = f"{message.topic}/{message.partition}/{message.offset}"
        timestamp = datetime.fromtimestamp(message.timestamp / 1000, UTC)
        return make_event(
            self.context.ref,
            scoped_id(self.context.ref, local_id),
            event_data(message, self.spec),
            time=timestamp,
        )

    def key(self, message: ConsumerRecord[Any, Any]) -> str:
        return f"{self._name}/{message.partition}"

    # ------------------------------------------------------------------ the loop

    def _consumer_for(self) -> AIOKafkaConsumer:
        kwargs = connection(self.context, self.spec.url, self.spec.tls, self.spec.sasl).client_kwargs()
        group = self.spec.consumer_group
        if group is None:
            return AIOKafkaConsumer(**kwargs, enable_auto_commit=False, auto_offset_reset="latest")
        return AIOKafkaConsumer(
            self.spec.topic,
            **kwargs,
            group_id=group.group_name,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if group.oldest else "latest",
            partition_assignment_strategy=(_ASSIGNORS[group.rebalance_strategy],),
        )

    async def _connect(self) -> AIOKafkaConsumer:
        backoff = self.spec.connection_backoff
        delays = list(backoff.delays()) if backoff is not None else [1.0] * 4
        attempt = 0
        while True:
            consumer = self._consumer_for()
            try:
                await consumer.start()
                if self.spec.consumer_group is None:
                    tp = TopicPartition(self.spec.topic, int(self.spec.partition or 0))
                    consumer.assign([tp])
                    await consumer.seek_to_end(tp)
                return consumer
            except (KafkaError, OSError) as exc:
                with contextlib.suppress(Exception):
                    await consumer.stop()
                delay = delays[min(attempt, len(delays) - 1)]
                log.warning("kafka source %s: cannot connect (%s); retrying in %.1fs", self._name, exc, delay)
                attempt += 1
                await asyncio.sleep(delay)

    async def _run(self) -> None:
        while True:
            try:
                consumer = await self._connect()
            except SecretMissing as exc:
                log.error("kafka source %s: %s", self._name, exc)
                return
            self._consumer = consumer
            try:
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("kafka source %s: consuming failed; reconnecting", self._name)
                await asyncio.sleep(1.0)
            finally:
                self._consumer = None
                with contextlib.suppress(Exception):
                    await asyncio.shield(consumer.stop())

    async def _pace(self) -> None:
        if not self._interval:
            return
        now = time.monotonic()
        self._next_slot = max(self._next_slot + self._interval, now)
        if self._next_slot > now:
            await asyncio.sleep(self._next_slot - now)

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        grouped = self.spec.consumer_group is not None
        while True:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=FETCH_RECORDS)
            if not fetched:
                continue
            publishes = []
            for messages in fetched.values():
                for message in messages:
                    await self._pace()
                    # Publishes issued in order are appended in order: they may run concurrently.
                    publishes.append(
                        asyncio.ensure_future(
                            self.context.publish(self.event(message), key=self.key(message))
                        )
                    )
            try:
                await asyncio.gather(*publishes)
            except BaseException:
                for publish in publishes:
                    publish.cancel()
                raise
            self.published += len(publishes)
            if grouped:  # only now: every event of the batch is durable on the bus
                offsets = {tp: messages[-1].offset + 1 for tp, messages in fetched.items() if messages}
                try:
                    await consumer.commit(offsets)
                except KafkaError as exc:  # the partitions moved: their new owner re-reads (deduplicated)
                    log.info("kafka source %s: commit not written (%s)", self._name, exc)
