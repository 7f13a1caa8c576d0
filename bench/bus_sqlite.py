"""The SQLite bus: durable publish throughput, and publish→consume latency at a steady rate.

    python bench/bus_sqlite.py [--events 20000] [--publishers 1,16,64,256] [--seconds 10]
                               [--commit-every 1,10]

Every event carries a 7 KB JSON payload, the size of a typical GitHub push delivery, and retention
keeps the newest ``--events`` records, so deletion runs as it would in production. Throughput:
N tasks publish as fast as each publish is acknowledged (durable). Latency: events are published
on a fixed schedule (100/s, then 1,000/s) while one consumer group reads them and awaits a durable
commit every ``--commit-every`` records; the figure is from the publish() call to the consumer
receiving the record, so it includes the durable append. Target on 2 cores: >= 2,000 durable
events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine

from triggerfish.bus.sqlite import Retention, SqlBus
from triggerfish.events import Event, new_event
from triggerfish.store.db import open_database, sqlite_url

PAYLOAD_BYTES = 7 * 1024


def delivery(n: int, run: str) -> Event:
    """A GitHub-like delivery padded to about PAYLOAD_BYTES of JSON."""
    data: dict[str, Any] = {
        "ref": "refs/heads/main",
        "repository": {"full_name": "acme/widgets", "id": 4242},
        "commits": [{"id": f"{n:040x}", "message": "x" * (PAYLOAD_BYTES - 300)}],
    }
    return new_event(id=f"{run}-{n}", source="github", type="github", subject="push", data=data)


def count_commits(engine: AsyncEngine) -> list[None]:
    commits: list[None] = []
    sa_event.listen(engine.sync_engine, "commit", lambda _conn: commits.append(None))
    return commits


async def throughput(bus: SqlBus, commits: list[None], publishers: int, total: int) -> None:
    run = f"t{publishers}"
    per_publisher = total // publishers
    before_commits, cpu, wall = len(commits), time.process_time(), time.perf_counter()

    async def publisher(p: int) -> None:
        for n in range(per_publisher):
            await bus.publish(delivery(p * per_publisher + n, run))

    await asyncio.gather(*(publisher(p) for p in range(publishers)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    events = per_publisher * publishers
    transactions = len(commits) - before_commits
    print(
        f"  {publishers:4d} publishers: {events / wall:8,.0f} events/s, "
        f"{events / transactions:6.1f} events/transaction, {cpu / events * 1e6:5.0f} µs CPU/event"
    )


def summary(seconds: list[float]) -> str:
    p50, p99 = (statistics.quantiles(seconds, n=100)[q - 1] * 1e3 for q in (50, 99))
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(seconds) * 1e3:.2f} ms"


async def latency(bus: SqlBus, rate: int, seconds: float, commit_every: int) -> None:
    run, total = f"l{rate}-{commit_every}", int(rate * seconds)
    sent: dict[str, float] = {}
    delays: list[float] = []
    acks: list[float] = []
    subscription = bus.subscribe(run, start="latest")

    async def consume() -> None:
        async for record in subscription:
            delays.append(time.perf_counter() - sent[record.event.get_id()])
            if len(delays) % commit_every == 0:
                await subscription.commit(record)
            if len(delays) == total:
                return

    async def publish(n: int) -> None:
        event = delivery(n, run)
        sent[event.get_id()] = started = time.perf_counter()
        await bus.publish(event)
        acks.append(time.perf_counter() - started)

    consumer = asyncio.create_task(consume())
    start = time.perf_counter()
    publishes = []
    for n in range(total):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        publishes.append(asyncio.create_task(publish(n)))
    await asyncio.gather(*publishes)
    await consumer
    await subscription.close()
    print(f"  {rate:5d} events/s for {seconds:.0f} s: publish→consume {summary(delays)}; ack {summary(acks)}")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bus-bench-") as directory:
        engine = await open_database(sqlite_url(Path(directory)))
        bus = SqlBus(engine, retention=Retention(max_records=args.events))
        commits = count_commits(engine)
        print(f"durable publish throughput ({args.events:,} events of {PAYLOAD_BYTES // 1024} KB):")
        for publishers in args.publishers:
            await throughput(bus, commits, publishers, args.events)
        for commit_every in args.commit_every:
            print(f"latency, the consumer commits every {commit_every} record(s):")
            for rate in (100, 1000):
                await latency(bus, rate, args.seconds, commit_every)
        await bus.close()
        await engine.dispose()


def integers(text: str) -> list[int]:
    return [int(n) for n in text.split(",")]


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--publishers", type=integers, default=[1, 16, 64, 256])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--commit-every", type=integers, default=[1, 10])
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
