"""Publish to the SQLite bus of a data directory until killed, printing each acknowledged event.

    python -m tests.support.bus_publisher DATA_DIR RUN [--publishers 8]

Every line, ``<offset> <event id>``, is written only after ``publish`` returned: a promise that
the event is durable. tests/bus/test_durability.py SIGKILLs this process and checks the promises.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from triggerfish.bus.sqlite import Retention, SqlBus
from triggerfish.events import new_event
from triggerfish.store.db import open_database, sqlite_url

PADDING = "x" * 7000  # the size of a GitHub delivery, so transactions take realistic time


async def publish_forever(data_dir: Path, run: str, publishers: int) -> None:
    engine = await open_database(sqlite_url(data_dir))
    bus = SqlBus(engine, retention=Retention())

    async def publisher(p: int) -> None:
        n = 0
        while True:
            event_id = f"{run}-{p}-{n}"
            data = {"publisher": p, "n": n, "padding": PADDING}
            event = new_event(id=event_id, source="durability", type="webhook", subject="crash", data=data)
            published = await bus.publish(event)
            sys.stdout.write(f"{published.offset} {event_id}\n")
            sys.stdout.flush()
            n += 1

    await asyncio.gather(*(publisher(p) for p in range(publishers)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("run")
    parser.add_argument("--publishers", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(publish_forever(args.data_dir, args.run, args.publishers))


if __name__ == "__main__":
    main()
