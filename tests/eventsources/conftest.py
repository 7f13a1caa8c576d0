"""Test doubles for event sources: a context that records what a driver publishes, a controllable
clock, and an HTTP client wired to a driver's routes (real Starlette app, in process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from eventsources.base import SourceDriver, SourceRef
from triggerfish.bus.base import Published
from triggerfish.events import Event
from triggerfish.store.db import open_database, sqlite_url
from triggerfish.store.schedules import ScheduleTickStore

TIMEOUT = 5.0


@dataclass
class FakeContext:
    """Records published events and, like the bus, drops a repeated id (``duplicate=True``)."""

    ref: SourceRef
    secrets: dict[tuple[str, str], str] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)
    fail_next: int = 0
    """Make this many publish calls raise, as a bus that is down would."""
    publish_calls: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish(self, event: Event, *, key: str | None = None) -> Published:
        self.publish_calls += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            raise RuntimeError("bus unavailable")
        for offset, existing in enumerate(self.events):
            if existing.get_id() == event.get_id() and existing.get_source() == event.get_source():
                return Published(offset=offset, duplicate=True)
        self.events.append(event)
        self.keys.append(key)
        self._changed.set()
        return Published(offset=len(self.events) - 1, duplicate=False)

    def get_secret(self, name: str, key: str) -> str | None:
        return self.secrets.get((name, key))

    @property
    def ids(self) -> list[str]:
        return [e.get_id() for e in self.events]

    @property
    def data(self) -> list[Any]:
        return [e.get_data() for e in self.events]

    async def wait_for(self, count: int) -> list[Event]:
        async def enough() -> None:
            while len(self.events) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(enough(), TIMEOUT)
        return self.events


def make_ref(
    kind: str, event_name: str = "example", eventsource: str = "es", namespace: str = "default"
) -> SourceRef:
    return SourceRef(namespace=namespace, eventsource=eventsource, event_name=event_name, kind=kind)


def http_client(driver: SourceDriver) -> httpx.AsyncClient:
    """An httpx client talking to a Starlette app made from the driver's routes."""
    app = Starlette(routes=[Route(r.path, r.handler, methods=list(r.methods)) for r in driver.routes()])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub")


@pytest.fixture
async def tick_store(tmp_path: Path) -> AsyncIterator[ScheduleTickStore]:
    engine = await open_database(sqlite_url(tmp_path))
    yield ScheduleTickStore(engine)
    await engine.dispose()
