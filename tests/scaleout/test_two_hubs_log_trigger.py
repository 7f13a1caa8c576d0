"""Two hub processes run one Sensor whose trigger is not a workflow: each firing must fire once.

Both replicas see every pending firing in PostgreSQL (whichever replica's bus partition produced
it), and a ``kafka`` trigger has no idempotency key downstream, so only the firing claims keep a
record from being written twice. A ``kafka`` EventSource reads a twelve-partition topic as one
consumer group; the Sensor's ``kafka`` trigger copies each record's number to an output topic.
Every record must come out exactly once (without the claims, 103 of the 1,000 came out twice).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path

import orjson
import sqlalchemy as sa
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.support.kafka import KafkaBroker, kafka_event_source
from tests.support.postgres import PostgresServer
from tests.support.processes import hub_servers
from triggerfish.store.db import create_engine
from triggerfish.store.schema import trigger_firings

from .test_two_hubs import create_topic, hub_config

RECORDS = 1000
FINISH_LIMIT = 120.0
"""Generous: a loaded machine slows the stream down, and the wait ends as soon as all fired."""


def manifests(bootstrap: str, source_topic: str, output_topic: str) -> str:
    source = kafka_event_source("records", "numbers", bootstrap, source_topic)
    sensor = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": "copy"},
        "spec": {
            "dependencies": [{"name": "record", "eventSourceName": "records", "eventName": "numbers"}],
            "triggers": [
                {
                    "template": {
                        "name": "out",
                        "kafka": {
                            "url": bootstrap,
                            "topic": output_topic,
                            "requiredAcks": 1,
                            "payload": [
                                {"src": {"dependencyName": "record", "dataKey": "body.n"}, "dest": "n"}
                            ],
                        },
                    }
                }
            ],
        },
    }
    return yaml.safe_dump_all([source, sensor])


async def firings_by_status(database: str) -> Counter[str]:
    engine = create_engine(database)
    try:
        async with engine.connect() as conn:
            query = sa.select(trigger_firings.c.status, sa.func.count().label("n")).group_by(
                trigger_firings.c.status
            )
            return Counter({row.status: row.n for row in await conn.execute(query)})
    finally:
        await engine.dispose()


async def read_all(kafka: KafkaBroker, topic: str) -> Counter[int]:
    """Every record of the (one-partition) topic, by the number it carries."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        end = (await consumer.end_offsets([partition]))[partition]
        numbers: Counter[int] = Counter()
        while await consumer.position(partition) < end:
            for records in (await consumer.getmany(partition, timeout_ms=1000)).values():
                numbers.update(int(orjson.loads(record.value)["n"]) for record in records)
        return numbers
    finally:
        await consumer.stop()


async def test_two_hubs_fire_each_record_once(
    kafka: KafkaBroker, postgres: PostgresServer, tmp_path: Path
) -> None:
    started = time.monotonic()
    suffix = uuid.uuid4().hex[:8]
    source_topic, bus_topic, output_topic = f"copy-in-{suffix}", f"bus-{suffix}", f"copy-out-{suffix}"
    await create_topic(kafka, source_topic, 12)
    await create_topic(kafka, output_topic, 1)
    database = postgres.create_database("twohubslog")
    manifest_dir = tmp_path / "manifests"
    manifest_dir.mkdir()
    (manifest_dir / "copy.yaml").write_text(manifests(kafka.bootstrap, source_topic, output_topic))
    with hub_servers(tmp_path) as make:
        hubs = []
        for name in ("hub-a", "hub-b"):
            config = hub_config(tmp_path, name, kafka, database, bus_topic)
            hubs.append(make(extra_args=["--config", str(config), "--manifests", str(manifest_dir)]))
            await asyncio.to_thread(hubs[-1].start, 60.0)
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
        await producer.start()
        try:
            for n in range(RECORDS):
                await producer.send(source_topic, orjson.dumps({"n": n}))
            await producer.flush()
        finally:
            await producer.stop()
        deadline = time.monotonic() + FINISH_LIMIT
        while (statuses := await firings_by_status(database)) != Counter({"succeeded": RECORDS}):
            logs = "\n".join(hub.log_text()[-3000:] for hub in hubs)
            assert time.monotonic() < deadline, f"{statuses}\n{logs}"
            await asyncio.sleep(0.25)
        fired = time.monotonic() - started
    # every firing has finished, and a firing is fired only by the replica holding its claim
    numbers = await read_all(kafka, output_topic)
    assert sorted(numbers) == list(range(RECORDS))
    twice = sorted(n for n, count in numbers.items() if count > 1)
    assert not twice, f"{len(twice)} records fired more than once: {twice[:10]}"
    print(f"records={RECORDS} all fired after {fired:.1f}s")
