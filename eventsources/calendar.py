"""The ``calendar`` event source: an event at every tick of a cron schedule or interval.

Checked against Argo Events (``pkg/eventsources/sources/calendar/start.go``); tick rules (time
zones, DST, exclusion dates, epoch-anchored intervals) are those of :mod:`triggerfish.schedule`.

* Event data is Argo's ``CalendarEventData``: ``{"eventTime": "2024-03-10 03:00:00 -0400 EDT",
  "metadata": {…}}``. ``eventTime`` is Go's ``time.Time.String()`` of the *scheduled* tick in the
  schedule's time zone (UTC by default), which is what Argo prints (Argo uses the timer's wake-up
  time, a few microseconds late, plus Go's monotonic-clock suffix; the scheduled time is stable).
  The CloudEvent ``time`` is the same instant.
* Event id: ``<namespace>/<eventsource>/<eventName>:<tick in RFC 3339 UTC>``, e.g.
  ``default/calendar/example:2024-03-10T07:00:00Z``. The same tick always has the same id, so a
  catch-up, a restart or a second hub replica can never make the bus store a tick twice.
* The last fired tick is kept in the ``schedule_ticks`` table under ``<namespace>/<eventsource>/
  <eventName>`` (:class:`triggerfish.store.schedules.ScheduleTickStore`); it is recorded after the
  event is durable on the bus.
* Restart: without ``persistence.catchup.enabled`` the source starts from now, as Argo does
  (ticks missed while the hub was down are not fired). With it, the ticks missed since the last
  recorded one are fired at start, oldest first, but only those within
  ``persistence.catchup.maxDuration`` (when given) and at most :attr:`CalendarSettings.max_catchup`
  (default **100**, the most recent ones). Argo bounds catch-up by ``maxDuration`` only, and only
  when a ConfigMap is configured; Triggerfish needs no ConfigMap.
* While running, ticks are awaited with ``asyncio`` sleeps until the next tick (capped at five
  minutes so a wall-clock jump is noticed). If the process could not run for a while (suspended
  laptop, overloaded loop), the ticks missed meanwhile are fired when it wakes, bounded by the
  same ``max_catchup``, like Argo's in-process catch-up.
* A tick the bus refuses is retried with exponential backoff (0.1 s doubling to 30 s) until it is
  stored; later ticks wait for it, so ticks are published in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Protocol

from eventsources.base import HttpRoute, SourceContext, SourceRef
from eventsources.spec import CalendarEventSource
from eventsources.webhook import make_event, scoped_id, with_metadata
from triggerfish.events import Event
from triggerfish.expressions.gotime import parse_duration, time_string
from triggerfish.schedule import Clock, Schedule, SystemClock, rfc3339

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CalendarSettings:
    max_catchup: int = 100
    """At most this many missed ticks are fired after downtime (the most recent ones)."""
    retry_initial: float = 0.1
    retry_max: float = 30.0


class TickStore(Protocol):
    """Where the last fired tick of each schedule is kept (see ``triggerfish.store.schedules``)."""

    async def last_tick(self, key: str) -> datetime | None: ...

    async def record_tick(self, key: str, tick: datetime) -> None: ...


def schedule_key(ref: SourceRef) -> str:
    return f"{ref.namespace}/{ref.eventsource}/{ref.event_name}"


class CalendarDriver:
    """``spec.calendar.<name>``: a task that sleeps until each tick and publishes it."""

    kind: ClassVar[str] = "calendar"

    def __init__(
        self,
        context: SourceContext,
        spec: CalendarEventSource,
        *,
        ticks: TickStore | None = None,
        clock: Clock | None = None,
        settings: CalendarSettings | None = None,
    ) -> None:
        self.context = context
        self.spec = spec
        self.schedule: Schedule = spec.to_schedule()
        self.ticks = ticks
        self.clock: Clock = clock or SystemClock()
        self.settings = settings or CalendarSettings()
        self.key = schedule_key(context.ref)
        max_duration = spec.catchup_max_duration
        self.catchup_window: timedelta | None = parse_duration(max_duration) if max_duration else None
        self._task: asyncio.Task[None] | None = None

    def routes(self) -> Sequence[HttpRoute]:
        return []

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"calendar {self.key}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ------------------------------------------------------------------ events

    def event_id(self, tick: datetime) -> str:
        return scoped_id(self.context.ref, rfc3339(tick))

    def event(self, tick: datetime) -> Event:
        local = tick.astimezone(self.schedule.timezone)
        data = with_metadata({"eventTime": time_string(local)}, self.spec.metadata)
        return make_event(self.context.ref, self.event_id(tick), data, time=tick)

    # ------------------------------------------------------------------ the loop

    async def _retrying(self, what: str, attempt: int) -> None:
        delay = min(self.settings.retry_max, self.settings.retry_initial * 2**attempt)
        log.warning("calendar %s: %s failed, retrying in %.1fs", self.key, what, delay, exc_info=True)
        await asyncio.sleep(delay)

    async def _start_cursor(self) -> datetime:
        """The instant after which ticks are due when the source starts."""
        now = self.clock.now()
        last: datetime | None = None
        attempt = 0
        while self.ticks is not None:
            try:
                last = await self.ticks.last_tick(self.key)
                break
            except Exception:
                await self._retrying("reading the last tick", attempt)
                attempt += 1
        if last is None:
            return now
        if not self.spec.catchup_enabled:
            return max(last, now)
        if self.catchup_window is not None:
            return max(last, now - self.catchup_window)
        return last

    async def _fire(self, tick: datetime) -> None:
        event = self.event(tick)
        attempt = 0
        while True:
            try:
                await self.context.publish(event)
                break
            except Exception:
                await self._retrying(f"publishing tick {rfc3339(tick)}", attempt)
                attempt += 1
        if self.ticks is not None:
            try:
                await self.ticks.record_tick(self.key, tick)
            except Exception:
                # The event is stored and its id is the tick: a repeat after a restart is a duplicate.
                log.warning("calendar %s: could not record tick %s", self.key, rfc3339(tick), exc_info=True)

    async def _run(self) -> None:
        cursor = await self._start_cursor()
        log.info(
            "calendar %s: %s, next tick %s",
            self.key,
            self.schedule.describe(),
            self.schedule.next_after(cursor),
        )
        while True:
            now = self.clock.now()
            due = self.schedule.next_after(cursor)
            if due > now:
                await self.clock.sleep_until(due)
                continue
            missed = self.schedule.missed_between(cursor, now, self.settings.max_catchup)
            if len(missed) > 1:
                log.info("calendar %s: catching up %d missed ticks", self.key, len(missed))
            for tick in missed:
                await self._fire(tick)
                cursor = tick
