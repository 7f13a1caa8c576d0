"""A controllable clock for schedule-driven code (calendar sources, CronWorkflows)."""

from __future__ import annotations

import asyncio
from datetime import datetime

TIMEOUT = 5.0


class FakeClock:
    """Time stands still until the test moves it; :meth:`idle` waits for the driver to sleep."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._moved = asyncio.Condition()
        self._idle = asyncio.Event()
        self.sleeping_until: datetime | None = None

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, instant: datetime) -> None:
        async with self._moved:
            self.sleeping_until = instant
            self._idle.set()
            await self._moved.wait_for(lambda: self._now >= instant)
            self.sleeping_until = None

    async def advance_to(self, instant: datetime) -> None:
        self._idle.clear()
        async with self._moved:
            self._now = instant
            self._moved.notify_all()

    async def idle(self) -> datetime:
        """Wait until the driver is asleep; return the instant it sleeps until."""
        await asyncio.wait_for(self._idle.wait(), TIMEOUT)
        assert self.sleeping_until is not None
        return self.sleeping_until
