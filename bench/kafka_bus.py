"""The scale-out pipeline on a real broker: Kafka source → Kafka bus → sensor → ``log`` trigger.

    python -m bench.kafka_bus [--hubs 1 2] [--events 20000] [--rate 1000] [--latency-seconds 10]

(run from the repository root: the broker and PostgreSQL come from ``tests/support``.)

For each hub count a fresh source topic (12 partitions), bus topic and PostgreSQL database are
made, and that many ``triggerfish server`` processes load the same manifests: a ``kafka``
EventSource reading the source topic as one consumer group (``jsonBody``), and a Sensor with a
``log`` trigger. The hubs split the source's partitions and the sensor's bus partitions.

* **throughput**: ``--events`` records are produced as fast as the producer goes; the sustained
  rate is taken over the middle 80 % of the trigger firings (``trigger_firings.updated_at`` of the
  succeeded rows), the overall rate from the first record sent to the last firing.
* **latency**: records at a steady ``--rate`` for ``--latency-seconds``; per firing, the time from
  the record's timestamp (set by the producer when sending; it is the event's ``time``, the
  ``ce_time`` header on the bus) to the firing's ``updated_at`` (the trigger succeeded), split at the
  bus append time (the topic's LogAppendTime) into source -> bus and bus -> trigger. The bus
  records are read back to pair each firing with its event.

Targets on a 2-core machine: >= 5,000 events/s sustained; p99 <= 200 ms at 1,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
import sqlalchemy as sa
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.kafka import KafkaBroker, kafka_event_source, running_broker
from tests.support.postgres import PostgresServer, running_postgres
from tests.support.processes import HubServer, hub_servers
from triggerfish.bus.kafka import bus_offset
from triggerfish.store.db import create_engine
from triggerfish.store.schema import trigger_firings

SOURCE_PARTITIONS = 12
TARGET_EVENTS_PER_SECOND = 5000
TARGET_P99_MS = 200.0


def manifests(bootstrap: str, topic: str) -> str:
    source = kafka_event_source("bench", "records", bootstrap, topic)
    sensor = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": "bench"},
        "spec": {
            "dependencies": [{"name": "record", "eventSourceName": "bench", "eventName": "records"}],
            "triggers": [{"template": {"name": "log", "log": {}}}],
        },
    }
    return yaml.safe_dump_all([source, sensor])


def hub_config(path: Path, name: str, bootstrap: str, database: str, bus_topic: str) -> Path:
    config = {
        "database_url": database,
        "bus": {"kind": "kafka", "kafka": {"bootstrap": bootstrap, "topic": bus_topic, "partitions": 12}},
        "cluster": {"replica_id": name},
    }
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass
class Setup:
    source_topic: str
    bus_topic: str
    engine: AsyncEngine
    hubs: list[HubServer]


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def succeeded(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).where(trigger_firings.c.status == "succeeded"))
    return int(count or 0)


async def wait_for_firings(engine: AsyncEngine, total: int, timeout: float, hubs: list[HubServer]) -> None:
    deadline = time.monotonic() + timeout
    while (done := await succeeded(engine)) < total:
        if time.monotonic() > deadline:
            logs = "\n".join(hub.log_text()[-2000:] for hub in hubs)
            raise SystemExit(f"only {done} of {total} firings after {timeout:.0f}s\n{logs}")
        await asyncio.sleep(0.1)


async def firing_times(engine: AsyncEngine) -> list[tuple[int, datetime]]:
    """(bus offset of the event, when the trigger succeeded) of every succeeded firing."""
    query = sa.select(trigger_firings.c.event_offsets, trigger_firings.c.updated_at).where(
        trigger_firings.c.status == "succeeded"
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [(int(row.event_offsets["record"]), row.updated_at) for row in rows]


@dataclass(frozen=True)
class BusRecord:
    offset: int
    event_time: datetime
    """The event's ``time`` (``ce_time``): when the producer sent the source record."""
    appended_at: float
    """When the hub appended the event to the bus (the topic's LogAppendTime), epoch seconds."""


async def read_bus(bootstrap: str, bus_topic: str, count: int) -> list[BusRecord]:
    """The first ``count`` records of the bus topic, in append order."""
    consumer = AIOKafkaConsumer(bus_topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: list[BusRecord] = []
    try:
        deadline = time.monotonic() + 60
        while len(found) < count and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for message in messages:
                    event_time = datetime.fromisoformat(dict(message.headers)["ce_time"].decode())
                    offset = bus_offset(message.partition, message.offset)
                    found.append(BusRecord(offset, event_time, message.timestamp / 1000))
    finally:
        await consumer.stop()
    return sorted(found, key=lambda r: r.appended_at)


def middle_rate(times: list[float]) -> float:
    """Events per second over the middle 80 % of ``times`` (sorted)."""
    low, high = times[int(len(times) * 0.1)], times[int(len(times) * 0.9)]
    return 0.8 * len(times) / (high - low)


async def produce(producer: AIOKafkaProducer, topic: str, count: int, rate: float | None) -> float:
    """Send ``count`` records (at ``rate`` per second when given); the seconds it took."""
    started = time.monotonic()
    pending = []
    for n in range(count):
        if rate is not None:
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        pending.append(await producer.send(topic, orjson.dumps({"n": n})))
        if len(pending) >= 5000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    return time.monotonic() - started


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its descendants (live ones, and the waited-for dead ones)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
    return own + sum(cpu_seconds(int(child)) for child in children)


class CpuMeter:
    """CPU seconds used per event by the hubs, the broker and PostgreSQL (load-independent)."""

    def __init__(self, setup: Setup, servers: Servers) -> None:
        assert servers.kafka.process is not None and servers.postgres.process is not None
        self._pids = {
            "hubs": [hub.pid for hub in setup.hubs],
            "kafka": [servers.kafka.process.pid],
            "postgres": [servers.postgres.process.pid],
        }
        self._start = self._read()

    def _read(self) -> dict[str, float]:
        return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self._pids.items()}

    def report(self, events: int) -> str:
        used = {name: value - self._start[name] for name, value in self._read().items()}
        parts = ", ".join(f"{name} {seconds / events * 1e6:,.0f}" for name, seconds in used.items())
        return f"CPU per event (µs): {parts}; total {sum(used.values()) / events * 1e6:,.0f}"


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


async def throughput(setup: Setup, servers: Servers, producer: AIOKafkaProducer, events: int) -> None:
    bootstrap = servers.kafka.bootstrap
    meter = CpuMeter(setup, servers)
    before = await succeeded(setup.engine)
    sent_at = time.time()
    took = await produce(producer, setup.source_topic, events, None)
    await wait_for_firings(setup.engine, before + events, 900, setup.hubs)
    cpu = meter.report(events)
    fired = sorted(t.timestamp() for _, t in await firing_times(setup.engine))[before:]
    appended = [r.appended_at for r in await read_bus(bootstrap, setup.bus_topic, before + events)][before:]
    sustained = middle_rate(fired)
    verdict = "meets" if sustained >= TARGET_EVENTS_PER_SECOND else "BELOW"
    print(f"  produced {events} records in {took:.2f}s ({events / took:,.0f}/s)")
    print(f"  source -> bus: {middle_rate(appended):,.0f} events/s appended (middle 80%)")
    overall = len(fired) / (fired[-1] - sent_at)
    print(
        f"  throughput to the trigger: {sustained:,.0f} events/s sustained (middle 80%), "
        f"{overall:,.0f}/s overall [{verdict} target {TARGET_EVENTS_PER_SECOND:,}/s]"
    )
    print(f"  {cpu}")


async def latency(
    setup: Setup, bootstrap: str, producer: AIOKafkaProducer, rate: float, seconds: float
) -> None:
    fired_before = {offset for offset, _ in await firing_times(setup.engine)}
    count = int(rate * seconds)
    total = len(fired_before) + count
    took = await produce(producer, setup.source_topic, count, rate)
    await wait_for_firings(setup.engine, total, 600, setup.hubs)
    fired = {o: t.timestamp() for o, t in await firing_times(setup.engine) if o not in fired_before}
    on_bus = {r.offset: r for r in await read_bus(bootstrap, setup.bus_topic, total) if r.offset in fired}
    sent = {o: r.event_time.timestamp() for o, r in on_bus.items()}
    stages = {
        "publish -> trigger": [fired[o] - sent[o] for o in on_bus],
        "publish -> on the bus": [r.appended_at - sent[o] for o, r in on_bus.items()],
        "on the bus -> trigger": [fired[o] - r.appended_at for o, r in on_bus.items()],
    }
    total_p99 = percentile(stages["publish -> trigger"], 0.99) * 1000
    verdict = "meets" if total_p99 <= TARGET_P99_MS else "ABOVE"
    print(f"  latency at {count / took:,.0f} events/s over {took:.0f}s ({len(on_bus)} events):")
    for name, delays in stages.items():
        ms = [d * 1000 for d in delays]
        p50, p99 = percentile(ms, 0.5), percentile(ms, 0.99)
        print(f"    {name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(ms):.1f} ms")
    print(f"    [{verdict} target p99 {TARGET_P99_MS:.0f} ms]")


@dataclass
class Servers:
    kafka: KafkaBroker
    postgres: PostgresServer
    workdir: Path


def start_servers(stack: ExitStack) -> Servers:
    kafka = stack.enter_context(running_broker())
    postgres = stack.enter_context(running_postgres())
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-kafka-")))
    return Servers(kafka, postgres, workdir)


def hub_names(count: int) -> Iterator[str]:
    return (f"hub-{chr(ord('a') + n)}" for n in range(count))


async def run(servers: Servers, hub_count: int, args: argparse.Namespace) -> None:
    suffix = uuid.uuid4().hex[:8]
    bootstrap = servers.kafka.bootstrap
    source_topic, bus_topic = f"bench-src-{suffix}", f"bench-bus-{suffix}"
    await create_topic(bootstrap, source_topic, SOURCE_PARTITIONS)
    database = servers.postgres.create_database(f"bench{hub_count}")
    directory = servers.workdir / f"{hub_count}-hubs"
    directory.mkdir()
    (directory / "manifests").mkdir()
    (directory / "manifests" / "bench.yaml").write_text(manifests(bootstrap, source_topic))
    engine = create_engine(database)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"{hub_count} hub process{'es' if hub_count > 1 else ''} (load average before: {load}):")
    try:
        with hub_servers(directory) as make:
            hubs = []
            for name in hub_names(hub_count):
                config = hub_config(directory / f"{name}.yaml", name, bootstrap, database, bus_topic)
                hub = make(extra_args=["--config", str(config), "--manifests", str(directory / "manifests")])
                await asyncio.to_thread(hub.start, 60.0)
                hubs.append(hub)
            setup = Setup(source_topic, bus_topic, engine, hubs)
            await produce(producer, source_topic, 200, None)  # warm-up: groups formed, code paths hot
            await wait_for_firings(engine, 200, 120, hubs)
            await throughput(setup, servers, producer, args.events)
            await latency(setup, bootstrap, producer, args.rate, args.latency_seconds)
    finally:
        await producer.stop()
        await engine.dispose()


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--hubs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up servers and hubs on kill
    with ExitStack() as stack:
        found = start_servers(stack)
        for count in args.hubs:
            asyncio.run(run(found, count, args))


if __name__ == "__main__":
    main()
