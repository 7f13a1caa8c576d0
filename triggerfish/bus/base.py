"""The bus contract, shared by the SQLite and Kafka drivers and tested against both.

* ``publish`` returns only once the event is durable; the caller may then acknowledge its sender.
  An event whose (source, id) is already in the log is not appended again (``duplicate=True``).
* Each consumer group sees every record appended after its committed position, in order.
  ``commit`` is cumulative; records delivered but not committed are delivered again to the next
  subscription of the group (at-least-once).
* Subscribers are woken as soon as a record is appended: no sleep-polling.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from triggerfish.events import Event

StartPosition = Literal["earliest", "latest"]


@dataclass(frozen=True, slots=True)
class Record:
    offset: int
    event: Event
    key: str | None
    appended_at: datetime


@dataclass(frozen=True, slots=True)
class Published:
    offset: int
    duplicate: bool


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[Record]: ...

    async def commit(self, record: Record) -> None:
        """Mark this record and every earlier one of the group as processed."""

    async def close(self) -> None: ...


class Bus(Protocol):
    async def publish(self, event: Event, *, key: str | None = None) -> Published:
        """Append durably (idempotent on the event's source and id)."""

    def subscribe(self, group: str, *, start: StartPosition = "earliest") -> Subscription:
        """Records after the group's committed offset; ``start`` applies to a group with none yet."""

    async def get(self, offset: int) -> Record | None:
        """One record by offset (lineage and replay)."""

    async def close(self) -> None: ...
