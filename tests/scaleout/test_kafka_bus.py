"""KafkaBus on a real broker: the shared bus contract, plus what only this driver promises."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.bus.contract import BusContract, BusFactory, event, ids, publish_all, take
from tests.support.kafka import KafkaBroker
from tests.support.postgres import PostgresServer
from triggerfish.bus.kafka import DedupeIndex, KafkaBus, TopicSettings, _select_ids, split_offset
from triggerfish.bus.kafka_client import KafkaConnection
from triggerfish.store.db import open_database


@pytest.fixture
async def index(postgres: PostgresServer) -> AsyncIterator[AsyncEngine]:
    engine = await open_database(postgres.create_database("kafkabus"))
    yield engine
    await engine.dispose()


def new_topic() -> str:
    return f"bus-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def bus_factory(kafka: KafkaBroker, index: AsyncEngine) -> AsyncIterator[BusFactory]:
    """Each call opens a new bus on the same topic and index, as a restarted hub would."""
    topic = new_topic()
    made: list[KafkaBus] = []

    async def make(*, max_records: int | None = None, max_age_seconds: float | None = None) -> KafkaBus:
        assert max_records is None, "record-count retention is not in the Kafka contract"
        settings = TopicSettings(partitions=1, max_age_seconds=max_age_seconds)
        bus = KafkaBus(KafkaConnection(kafka.bootstrap), topic, index=index, topic_settings=settings)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.close()


class TestKafkaBusContract(BusContract):
    pass


async def test_events_travel_in_binary_content_mode(kafka: KafkaBroker, index: AsyncEngine) -> None:
    topic = new_topic()
    bus = KafkaBus(KafkaConnection(kafka.bootstrap), topic, index=index)
    try:
        published = await bus.publish(event(1), key="repo/main")
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), 10)
        finally:
            await consumer.stop()
        headers = dict(message.headers)
        assert headers["ce_id"] == b"event-1" and headers["ce_source"] == b"contract"
        assert headers["ce_specversion"] == b"1.0" and headers["ce_namespace"] == b"default"
        assert headers["content-type"] == b"application/json"
        assert message.key == b"repo/main"
        assert message.value == b'{"n":1}' or message.value.replace(b" ", b"") == b'{"n":1}'
        assert split_offset(published.offset) == (message.partition, message.offset)
    finally:
        await bus.close()


async def test_replicas_split_partitions_and_keys_keep_order(kafka: KafkaBroker, index: AsyncEngine) -> None:
    topic = new_topic()
    settings = TopicSettings(partitions=4)
    first = KafkaBus(KafkaConnection(kafka.bootstrap), topic, index=index, topic_settings=settings)
    second = KafkaBus(KafkaConnection(kafka.bootstrap), topic, index=index, topic_settings=settings)
    try:
        keys = [f"dep-{k}" for k in range(8)]
        for n in range(80):
            await first.publish(event(n, data={"key": keys[n % 8], "n": n}), key=keys[n % 8])
        a, b = first.subscribe("sensor"), second.subscribe("sensor")
        seen: dict[str, list[int]] = {}

        async def drain(subscription: object, into: list[int]) -> None:
            async for record in subscription:  # type: ignore[attr-defined]
                seen.setdefault(str(record.key), []).append(record.event.get_data()["n"])
                into.append(split_offset(record.offset)[0])
                await subscription.commit(record)  # type: ignore[attr-defined]

        partitions_a: list[int] = []
        partitions_b: list[int] = []
        tasks = [asyncio.create_task(drain(a, partitions_a)), asyncio.create_task(drain(b, partitions_b))]
        try:
            async with asyncio.timeout(30):
                while sum(len(v) for v in seen.values()) < 80:
                    await asyncio.sleep(0.05)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        assert sum(len(v) for v in seen.values()) == 80  # each record once, to one of the replicas
        for key, numbers in seen.items():  # one key's events in publish order
            assert numbers == sorted(numbers), key
        assert set(partitions_a).isdisjoint(partitions_b)
    finally:
        await first.close()
        await second.close()


async def test_a_repeated_event_appended_twice_is_delivered_once(
    kafka: KafkaBroker, index: AsyncEngine
) -> None:
    """Two publishers racing on one event may both append; every group still sees it once."""
    topic = new_topic()
    bus = KafkaBus(KafkaConnection(kafka.bootstrap), topic, index=index, topic_settings=TopicSettings(1))
    raw = KafkaBus(KafkaConnection(kafka.bootstrap), topic, topic_settings=TopicSettings(1))  # no index
    try:
        assert not raw.supports_dedupe
        copies = [await raw.publish(event(1)) for _ in range(3)]  # three records, as a race would leave
        assert len({c.offset for c in copies}) == 3 and not any(c.duplicate for c in copies)
        await publish_all(bus, [event(2)])
        for group in ("g1", "g2"):
            subscription = bus.subscribe(group)
            records = await take(subscription, 2)
            assert ids(records) == ["event-1", "event-2"]
            assert records[0].offset == copies[0].offset
            await subscription.commit(records[-1])
            await subscription.close()
        assert (await bus.publish(event(1))).offset == copies[0].offset
    finally:
        await bus.close()
        await raw.close()


async def test_the_dedupe_index_finds_ids_by_key_before_the_table_has_statistics(index: AsyncEngine) -> None:
    """Lookups return each (source, id)'s offset, and PostgreSQL plans them as key lookups even on
    a new table (no statistics yet): planned as a scan of the source's rows, a lookup of 250 ids
    took 140 ms once the table held 30,000."""
    dedupe = DedupeIndex(index, new_topic(), None)
    claims = [((f"source-{n % 2}", f"id-{n}"), n) for n in range(3000)]
    for start in range(0, len(claims), 500):
        await dedupe._claim(claims[start : start + 500])
    wanted = [("source-0", "id-10"), ("source-1", "id-11"), ("source-1", "id-10"), ("source-9", "id-1")]
    assert await dedupe._lookup(wanted) == [10, 11, None, None]

    ids = [f"id-{n}" for n in range(0, 3000, 2)][:250]
    async with index.connect() as conn:
        statement = _select_ids("postgresql").compile(dialect=index.dialect)
        parameters = statement.construct_params({"topic": dedupe._topic, "source": "source-0", "ids": ids})
        assert statement.positiontup is not None
        plan = await conn.exec_driver_sql(
            f"EXPLAIN {statement.string}", tuple(parameters[name] for name in statement.positiontup)
        )
        lines = [row[0] for row in plan]
    text = "\n".join(lines)
    assert "Nested Loop" in text and "bus_event_ids_pkey" in text, text
    assert not any("Filter" in line and "event_id" in line for line in lines), text


async def test_replicas_claiming_overlapping_ids_at_once_do_not_deadlock(index: AsyncEngine) -> None:
    """Two replicas' subscriptions claim the same unindexed records in different orders (after a
    rebalance): PostgreSQL detected a deadlock and failed one subscription, and both replicas'
    consumers rebalanced for seconds. Claims lock keys in one order, so both go through."""
    topic = new_topic()
    first, second = DedupeIndex(index, topic, None), DedupeIndex(index, topic, None)
    for round_ in range(10):
        claims = [(("source", f"id-{round_}-{n}"), n) for n in range(300)]
        won_first, won_second = await asyncio.gather(
            first._claim(claims), second._claim([(identity, n + 1000) for identity, n in reversed(claims)])
        )
        assert list(reversed(won_second)) == won_first  # one canonical offset per id, either's
