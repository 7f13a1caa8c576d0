"""A real crash: a publisher process is SIGKILLed mid-stream; nothing it acknowledged may be lost.

The publisher (tests/support/bus_publisher.py) prints ``<offset> <event id>`` after each publish
returned. With several publishers in flight, the kill lands between and inside transactions.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import pytest
import sqlalchemy as sa

from triggerfish.bus.base import Published
from triggerfish.bus.sqlite import Retention, SqlBus
from triggerfish.store.db import open_database, sqlite_url

ROOT = Path(__file__).resolve().parents[2]


def _forward(stream: IO[bytes], lines: queue.Queue[bytes]) -> None:
    for line in stream:
        lines.put(line)


def _ack(line: bytes) -> tuple[int, str]:
    offset, event_id = line.split()
    return int(offset), event_id.decode()


def publish_until_killed(data_dir: Path, run: str, acknowledged: int) -> dict[int, str]:
    """Start the publisher, SIGKILL it once it acknowledged ``acknowledged`` events; its acks."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.bus_publisher", str(data_dir), run],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None and process.stderr is not None
    lines: queue.Queue[bytes] = queue.Queue()
    reader = threading.Thread(target=_forward, args=(process.stdout, lines))
    reader.start()
    acks: dict[int, str] = {}
    try:
        while len(acks) < acknowledged:
            try:
                line = lines.get(timeout=30)
            except queue.Empty:
                pytest.fail(f"the publisher stalled after {len(acks)} acks")
            offset, event_id = _ack(line)
            acks[offset] = event_id
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        reader.join(timeout=10)
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()
    while not lines.empty():  # printed before the kill: acknowledged too
        line = lines.get()
        if line.endswith(b"\n"):
            offset, event_id = _ack(line)
            acks[offset] = event_id
    return acks


async def test_acknowledged_events_survive_sigkill(tmp_path: Path) -> None:
    acks: dict[int, str] = {}
    for run, kill_after in (("first", 200), ("second", 1500), ("third", 40)):
        acks |= publish_until_killed(tmp_path, run, kill_after)

    engine = await open_database(sqlite_url(tmp_path))
    bus = SqlBus(engine, retention=Retention())
    try:
        missing = []
        for offset, event_id in acks.items():
            record = await bus.get(offset)
            if record is None or record.event.get_id() != event_id:
                missing.append((offset, event_id))
        assert not missing, f"{len(missing)} of {len(acks)} acknowledged events lost: {missing[:5]}"
        async with engine.connect() as conn:
            assert await conn.scalar(sa.text("PRAGMA integrity_check")) == "ok"
        newest = await bus.get(max(acks))
        assert newest is not None  # and its (source, id) still deduplicates:
        assert await bus.publish(newest.event) == Published(offset=max(acks), duplicate=True)
    finally:
        await bus.close()
        await engine.dispose()
