"""The bus contract as tests, run against every driver.

A driver's test module subclasses :class:`BusContract` and provides a ``bus_factory`` fixture: each
call returns a new bus object on the same storage (database, Kafka topic), as a restarted hub
would open it, and the fixture closes whatever it made at teardown.

Retention by record count is a separate contract (:class:`RecordCountRetentionContract`): the SQL
drivers keep it, Kafka cannot (see that class), so the Kafka driver's suite does not include it.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Iterable
from typing import Protocol

from triggerfish.bus.base import Bus, Published, Record, Subscription
from triggerfish.events import Event, new_event

TIMEOUT = 10.0


class BusFactory(Protocol):
    async def __call__(
        self, *, max_records: int | None = None, max_age_seconds: float | None = None
    ) -> Bus: ...


def event(n: int, source: str = "contract", data: object = None) -> Event:
    return new_event(id=f"event-{n}", source=source, type="webhook", subject="push", data=data or {"n": n})


async def publish_all(bus: Bus, events: Iterable[Event]) -> list[Published]:
    return [await bus.publish(e) for e in events]


async def take(subscription: Subscription, count: int) -> list[Record]:
    """The next ``count`` records (fewer if the iteration ends); fails after TIMEOUT."""

    async def collect() -> list[Record]:
        records: list[Record] = []
        async for record in subscription:
            records.append(record)
            if len(records) == count:
                break
        return records

    return await asyncio.wait_for(collect(), TIMEOUT)


async def nothing_more(subscription: Subscription, within: float = 0.2) -> bool:
    try:
        await asyncio.wait_for(anext(aiter(subscription)), within)
    except TimeoutError:
        return True
    return False


def ids(records: Iterable[Record]) -> list[str]:
    return [r.event.get_id() for r in records]


async def eventually_gone(bus: Bus, offsets: Iterable[int]) -> None:
    """Retention runs after appends, asynchronously: wait (bounded) until it deleted ``offsets``."""
    deadline = time.monotonic() + TIMEOUT
    for offset in offsets:
        while await bus.get(offset) is not None:
            assert time.monotonic() < deadline, f"offset {offset} was not deleted by retention"
            await asyncio.sleep(0.01)


class BusContract:
    async def test_records_arrive_in_publish_order(self, bus_factory: BusFactory) -> None:
        bus = await bus_factory()
        published = await publish_all(bus, (event(n) for n in range(20)))
        offsets = [p.offset for p in published]
        assert offsets == sorted(offsets) and len(set(offsets)) == 20
        assert not any(p.duplicate for p in published)

        records = await take(bus.subscribe("g"), 20)
        assert [r.offset for r in records] == offsets
        assert ids(records) == [f"event-{n}" for n in range(20)]
        assert records[3].event.get_data() == {"n": 3}
        assert records[3].event.get_source() == "contract"

    async def test_key_and_get(self, bus_factory: BusFactory) -> None:
        bus = await bus_factory()
        published = await bus.publish(event(1), key="repo/main")
        record = await bus.get(published.offset)
        assert record is not None
        assert record.key == "repo/main" and record.offset == published.offset
        assert record.event.get_id() == "event-1"
        assert record.appended_at.tzinfo is not None
        assert await bus.get(published.offset + 1000) is None

    async def test_published_events_survive_a_new_bus(self, bus_factory: BusFactory) -> None:
        first = await bus_factory()
        published = await publish_all(first, (event(n) for n in range(5)))
        await first.close()

        second = await bus_factory()
        for p, n in zip(published, range(5), strict=True):
            record = await second.get(p.offset)
            assert record is not None and record.event.get_id() == f"event-{n}"
        assert ids(await take(second.subscribe("g"), 5)) == [f"event-{n}" for n in range(5)]

    async def test_duplicates_are_not_appended(self, bus_factory: BusFactory) -> None:
        bus = await bus_factory()
        original = await bus.publish(event(1))
        again = await bus.publish(event(1, data={"changed": True}))
        assert again == Published(offset=original.offset, duplicate=True)
        other_source = await bus.publish(event(1, source="elsewhere"))
        assert not other_source.duplicate and other_source.offset != original.offset

        subscription = bus.subscribe("g")
        records = await take(subscription, 2)
        assert [r.event.get_source() for r in records] == ["contract", "elsewhere"]
        assert records[0].event.get_data() == {"n": 1}
        assert await nothing_more(subscription)

    async def test_concurrent_duplicates_append_once(self, bus_factory: BusFactory) -> None:
        bus = await bus_factory()
        results = await asyncio.gather(*(bus.publish(event(7)) for _ in range(10)))
        assert len({r.offset for r in results}) == 1
        assert sum(not r.duplicate for r in results) == 1

    async def test_consumer_groups_are_independent(self, bus_factory: BusFactory) -> None:
        bus = await bus_factory()
        await publish_all(bus, (event(n) for n in range(6)))
        fast, slow = bus.subscribe("fast"), bus.subscribe("slow")
        fast_records = await take(fast, 6)
        await fast.commit(fast_records[-1])
        slow_records = await take(slow, 2)
        await slow.commit(slow_records[-1])
        await fast.close()
        await slow.close()

        await bus.publish(event(6))
        assert ids(await take(bus.subscribe("fast"), 1)) == ["event-6"]
        assert ids(await take(bus.subscribe("slow"), 5)) == [f"event-{n}" for n in range(2, 7)]
        assert len(await take(bus.subscribe("newcomer"), 7)) == 7

    async def test_uncommitted_records_are_delivered_again(self, bus_factory: BusFactory) -> None:
        bus = await bus_factory()
        await publish_all(bus, (event(n) for n in range(5)))
        subscription = bus.subscribe("g")
        records = await take(subscription, 5)
        await subscription.commit(records[1])
        await subscription.close()
        await bus.close()  # as a crash would, after delivering 2..4 without committing them

        restarted = await bus_factory()
        again = restarted.subscribe("g")
        assert ids(await take(again, 3)) == ["event-2", "event-3", "event-4"]
        assert await nothing_more(again)

    async def test_commit_is_cumulative_and_monotonic(self, bus_factory: BusFactory) -> None:
        bus = await bus_factory()
        await publish_all(bus, (event(n) for n in range(6)))
        subscription = bus.subscribe("g")
        records = await take(subscription, 6)
        await subscription.commit(records[4])
        await subscription.commit(records[1])  # late, out of order: must not move the group back
        await subscription.close()
        assert ids(await take(bus.subscribe("g"), 1)) == ["event-5"]

    async def test_latest_starts_after_the_existing_records(self, bus_factory: BusFactory) -> None:
        bus = await bus_factory()
        await publish_all(bus, (event(n) for n in range(3)))
        subscription = bus.subscribe("g", start="latest")
        await bus.publish(event(3))
        assert ids(await take(subscription, 1)) == ["event-3"]

        committed = bus.subscribe("committed")
        await committed.commit((await take(committed, 1))[0])
        await committed.close()
        # ``start`` only applies to a group without a committed offset
        assert ids(await take(bus.subscribe("committed", start="latest"), 1)) == ["event-1"]

    async def test_subscriber_wakes_within_milliseconds(self, bus_factory: BusFactory) -> None:
        bus = await bus_factory()
        received: asyncio.Queue[float] = asyncio.Queue()

        async def consume() -> None:
            async for _ in bus.subscribe("g"):
                received.put_nowait(time.perf_counter())

        consumer = asyncio.create_task(consume())
        try:
            await bus.publish(event(-1))  # the consumer is idle, waiting, from here on
            await asyncio.wait_for(received.get(), TIMEOUT)
            delays = []
            for n in range(40):
                await asyncio.sleep(0.005)
                await bus.publish(event(n))
                published_at = time.perf_counter()
                delays.append(await asyncio.wait_for(received.get(), TIMEOUT) - published_at)
        finally:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
        # A sleep-polling consumer (>= 50 ms between polls) would wait ~25 ms on the median; a woken one
        # takes about a millisecond, with room left for a loaded CI machine.
        median = statistics.median(delays)
        assert median < 0.02, f"median wake-up {median * 1000:.2f} ms"
        assert max(delays) < 0.5, f"slowest wake-up {max(delays) * 1000:.2f} ms"

    async def test_many_concurrent_publishers(self, bus_factory: BusFactory) -> None:
        bus = await bus_factory()
        publishers, each = 25, 40

        async def publisher(p: int) -> list[Published]:
            return await publish_all(bus, (event(n, source=f"p{p}") for n in range(each)))

        results = await asyncio.gather(*(publisher(p) for p in range(publishers)))
        for published in results:  # one publisher's events keep their order
            assert [r.offset for r in published] == sorted(r.offset for r in published)
        offsets = [r.offset for published in results for r in published]
        assert len(set(offsets)) == publishers * each

        records = await take(bus.subscribe("g"), publishers * each)
        assert [r.offset for r in records] == sorted(offsets)

    async def test_retention_by_age(self, bus_factory: BusFactory) -> None:
        # Ages long enough that the fresh record outlives the drivers' deletion rounds (Kafka checks
        # every 250 ms in the test broker and deletes a partition's last segment too once it is old).
        bus = await bus_factory(max_age_seconds=1.5)
        old = await publish_all(bus, (event(n) for n in range(5)))
        await asyncio.sleep(1.7)
        fresh = await bus.publish(event(5))
        await eventually_gone(bus, (p.offset for p in old))
        assert await bus.get(fresh.offset) is not None
        assert ids(await take(bus.subscribe("g"), 1)) == ["event-5"]


class RecordCountRetentionContract:
    """``max_records``: only the newest records are kept.

    Not part of the Kafka driver's contract: Kafka retains a partition by age (``retention.ms``) and
    by size in bytes (``retention.bytes``), deleting whole segments, and has no record-count limit;
    the hub's ``bus.retention_max_records`` setting is documented as embedded-bus only.
    """

    async def test_retention_by_count(self, bus_factory: BusFactory) -> None:
        bus = await bus_factory(max_records=10)
        published = await publish_all(bus, (event(n) for n in range(40)))
        await eventually_gone(bus, (p.offset for p in published[:30]))
        for p in published[30:]:
            assert await bus.get(p.offset) is not None
        assert ids(await take(bus.subscribe("g"), 10)) == [f"event-{n}" for n in range(30, 40)]
