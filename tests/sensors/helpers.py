"""Test doubles for the sensor runtime: an in-memory bus, a fake clock, a recording submitter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from triggerfish.bus.base import Published, Record, StartPosition
from triggerfish.events import Event, new_event
from triggers.base import Firing

T0 = datetime(2024, 5, 6, 12, 0, 0, tzinfo=UTC)


def event(
    name: str,
    data: Any = None,
    *,
    source: str = "webhook",
    id: str | None = None,
    namespace: str = "default",
    time: datetime | None = None,
    type: str = "webhook",
) -> Event:
    """An event from EventSource ``source`` for its event ``name`` (the CloudEvent subject)."""
    event.counter += 1  # type: ignore[attr-defined]
    return new_event(
        id=id or f"{name}-{event.counter}",  # type: ignore[attr-defined]
        source=source,
        type=type,
        subject=name,
        data=data,
        namespace=namespace,
        time=time or T0,
    )


event.counter = 0  # type: ignore[attr-defined]


class MemoryBus:
    """The Bus contract in memory: ordered log, dedupe on (source, id), groups with commits."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.committed: dict[str, int] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._appended = asyncio.Condition()
        self.clock_now = T0

    async def publish(self, event: Event, *, key: str | None = None) -> Published:
        identity = (event.get_source(), event.get_id())
        if identity in self._ids:
            return Published(self._ids[identity], True)
        offset = len(self.records) + 1
        self.records.append(Record(offset, event, key, self.clock_now))
        self._ids[identity] = offset
        async with self._appended:
            self._appended.notify_all()
        return Published(offset, False)

    def subscribe(self, group: str, *, start: StartPosition = "earliest") -> MemorySubscription:
        if group not in self.committed:
            self.committed[group] = len(self.records) if start == "latest" else 0
        return MemorySubscription(self, group)

    async def get(self, offset: int) -> Record | None:
        return self.records[offset - 1] if 0 < offset <= len(self.records) else None

    async def close(self) -> None:
        pass


class MemorySubscription:
    def __init__(self, bus: MemoryBus, group: str) -> None:
        self._bus = bus
        self._group = group
        self._next = bus.committed[group] + 1
        self.closed = False

    def __aiter__(self) -> AsyncIterator[Record]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Record]:
        while not self.closed:
            if self._next <= len(self._bus.records):
                record = self._bus.records[self._next - 1]
                self._next += 1
                yield record
                continue
            async with self._bus._appended:
                await self._bus._appended.wait_for(
                    lambda: self._next <= len(self._bus.records) or self.closed
                )

    async def commit(self, record: Record) -> None:
        self._bus.committed[self._group] = max(self._bus.committed[self._group], record.offset)

    async def close(self) -> None:
        self.closed = True
        async with self._bus._appended:
            self._bus._appended.notify_all()


class FakeClock:
    """Time that only moves when something sleeps (sleeps are recorded, not waited)."""

    def __init__(self, now: datetime = T0) -> None:
        self.current = now
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.current += timedelta(seconds=seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class FakeSubmitter:
    """The workflow runtime as triggers see it: records submissions, one run per firing key."""

    def __init__(self, templates: Mapping[tuple[str, str, str], Mapping[str, Any]] | None = None) -> None:
        self.submitted: list[tuple[dict[str, Any], str, Firing, dict[str, str]]] = []
        self.by_key: dict[str, str] = {}
        self.templates = dict(templates or {})
        self.fail_times = 0

    async def submit(
        self, manifest: Mapping[str, Any], *, namespace: str, firing: Firing, labels: Mapping[str, str]
    ) -> str:
        if self.fail_times > 0:
            self.fail_times -= 1
            raise ConnectionError("workflow store unavailable")
        if firing.firing_key in self.by_key:
            return self.by_key[firing.firing_key]
        metadata = manifest.get("metadata", {})
        name = metadata.get("name") or f"{metadata.get('generateName', 'wf-')}{len(self.submitted):05d}"
        self.submitted.append((dict(manifest), namespace, firing, dict(labels)))
        self.by_key[firing.firing_key] = name
        return str(name)

    async def template(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.templates.get((kind, namespace, name))


class RecordingDriver:
    """A trigger driver that records what it is asked to fire and can fail on demand."""

    def __init__(self, kind: str = "log", *, fail: int = 0, retryable: bool = True) -> None:
        self.kind = kind
        self.fired: list[tuple[Any, Firing]] = []
        self.attempts = 0
        self.fail = fail
        self.retryable = retryable
        self.block: asyncio.Event | None = None

    async def fire(self, spec: Any, firing: Firing) -> Any:
        from triggers.base import FireResult, TriggerError

        self.attempts += 1
        if self.block is not None:
            await self.block.wait()
        if self.fail != 0:
            self.fail -= 1
            raise TriggerError(f"attempt {self.attempts} failed", retryable=self.retryable)
        self.fired.append((spec, firing))
        return FireResult({"n": len(self.fired)})
