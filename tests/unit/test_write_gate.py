"""The write gate's queue for writers outside the async engine (the bus writer's thread)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from triggerfish.store.write_gate import WriteGate


async def test_first_writer_passes_ahead_of_the_queue_but_not_the_holder() -> None:
    gate = WriteGate(timeout=5.0)
    order: list[str] = []
    release_holder = asyncio.Event()

    async def writer(name: str, *, first: bool = False, wait: asyncio.Event | None = None) -> None:
        async with gate.held(first=first):
            order.append(name)
            if wait is not None:
                await wait.wait()

    holder = asyncio.create_task(writer("holder", wait=release_holder))
    await asyncio.sleep(0)
    queued = [asyncio.create_task(writer(f"queued-{n}")) for n in range(2)]
    await asyncio.sleep(0)
    bus = asyncio.create_task(writer("bus", first=True))
    await asyncio.sleep(0)
    assert order == ["holder"]
    release_holder.set()
    await asyncio.gather(holder, bus, *queued)
    assert order == ["holder", "bus", "queued-0", "queued-1"]


async def test_a_writer_waiting_longer_than_the_timeout_gets_sqlites_locked_error() -> None:
    gate = WriteGate(timeout=0.05)
    never = asyncio.Event()

    async def hold_forever() -> None:
        async with gate.held():
            await never.wait()

    holder = asyncio.create_task(hold_forever())
    await asyncio.sleep(0)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        async with gate.held(first=True):
            pass
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    async with gate.held():  # the timed-out waiter left the queue, the cancelled holder released
        pass
