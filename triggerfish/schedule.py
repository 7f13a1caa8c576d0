"""When things happen: cron expressions and fixed intervals in a time zone, shared by the
``calendar`` event source and CronWorkflow.

Rules, written down because every cron implementation picks its own:

* **Expressions** are the 5-field cron of Argo (minute hour day-of-month month day-of-week,
  evaluated by croniter), the descriptors ``@yearly``/``@annually``/``@monthly``/``@weekly``/
  ``@daily``/``@midnight``/``@hourly``, and ``@every <Go duration>`` (an interval). Seconds and
  year columns are refused.
* **Wall clock.** A cron expression names wall-clock times in the schedule's time zone (UTC
  unless given). A wall-clock time skipped by a spring-forward transition (02:30 on the night
  clocks jump from 02:00 to 03:00) fires once, at the first valid instant after the gap (03:00);
  several skipped times collapse into that one tick. A wall-clock time that occurs twice in a
  fall-back transition fires once, at its first occurrence; so does every other time of the
  repeated hour.
* **Intervals** (``interval: 10s`` or ``@every 10s``) are absolute durations counted from the
  Unix epoch, so the ticks of ``10s`` fall on :00, :10, :20… and are the same on every replica
  and after every restart. Argo Events counts from the moment its pod started instead; anchoring
  at the epoch is what lets a tick's time be its stable identity. The time zone does not move
  interval ticks (it only decides which calendar day an exclusion date covers).
* **Exclusion dates** follow Argo Events (``pkg/shared/util/exclusion_dates.go`` and the calendar
  source's ``next``): an entry removes *every* tick that falls on that calendar day, in the
  schedule's time zone. Accepted spellings: Argo's RFC 5545 ``EXDATE:20241225T000000Z[,…]``, an
  RFC 3339 instant (its date in its own offset counts) or a plain ``2024-12-25``. Argo silently
  ignores entries without the ``EXDATE:`` prefix; here an unreadable entry is an error.

Every instant this module returns is a timezone-aware datetime **in UTC**; use
``t.astimezone(schedule.timezone)`` for the wall-clock reading. (Python compares two aware
datetimes that share a tzinfo by wall time, ignoring the fold, which is wrong inside a repeated
hour; UTC values never have that problem.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol

from croniter import croniter

from triggerfish.expressions.gotime import load_location, parse_duration

__all__ = [
    "Clock",
    "Schedule",
    "ScheduleError",
    "SystemClock",
    "parse_exclusion_dates",
    "parse_interval",
    "rfc3339",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_FOLD_SLACK = timedelta(hours=3)
"""More than any DST shift in the tz database: bounds the search around a repeated hour."""
_MAX_STEPS = 1_000_000
"""Guard against an expression that never matches a non-excluded day (croniter gives up earlier)."""


class ScheduleError(ValueError):
    """A cron expression, interval, time zone or exclusion date that cannot be used."""


def rfc3339(instant: datetime) -> str:
    """``2024-03-10T07:00:00Z`` (microseconds only when present): the form used in event ids."""
    utc = instant.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_interval(text: str) -> timedelta:
    """A Go duration (``10s``, ``1h30m``) usable as an interval: at least one second."""
    try:
        interval = parse_duration(text.strip())
    except ValueError as exc:
        raise ScheduleError(f"invalid interval {text!r}: {exc}") from None
    if interval < timedelta(seconds=1):
        raise ScheduleError(f"interval {text!r} must be at least 1s")
    return interval


def _parse_timezone(value: str | tzinfo | None) -> tzinfo:
    if value is None:
        return UTC
    if isinstance(value, tzinfo):
        return value
    try:
        return load_location(value)
    except ValueError as exc:
        raise ScheduleError(str(exc)) from None


def _exdate(text: str) -> list[date]:
    days: list[date] = []
    for part in text.split(","):
        try:
            days.append(datetime.strptime(part.strip(), "%Y%m%dT%H%M%SZ").date())
        except ValueError:
            raise ScheduleError(
                f"invalid exclusion date {part!r}: expected EXDATE:YYYYMMDDTHHMMSSZ[,…]"
            ) from None
    return days


def parse_exclusion_dates(values: Iterable[str]) -> frozenset[date]:
    """The calendar days excluded by Argo's ``exclusionDates`` entries (see the module docstring)."""
    days: set[date] = set()
    for raw in values:
        value = raw.strip()
        if value.upper().startswith("EXDATE:"):
            days.update(_exdate(value[len("EXDATE:") :]))
            continue
        try:
            if len(value) == 10:
                days.add(date.fromisoformat(value))
                continue
            parsed = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            raise ScheduleError(
                f"invalid exclusion date {value!r}: expected EXDATE:20241225T000000Z, an RFC 3339 "
                "date-time or YYYY-MM-DD"
            ) from None
        if parsed.tzinfo is None:
            raise ScheduleError(f"invalid exclusion date {value!r}: an RFC 3339 date-time needs an offset")
        days.add(parsed.date())
    return frozenset(days)


def _require_aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("schedule instants must be timezone-aware")
    return instant.astimezone(UTC)


@dataclass(frozen=True)
class Schedule:
    """A cron expression or an interval, in a time zone, minus excluded days.

    Build one with :meth:`cron`, :meth:`every` or :meth:`calendar`; the constructor does no parsing.
    """

    expression: str | None = None
    """A 5-field cron expression or descriptor (``None`` for an interval schedule)."""
    interval: timedelta | None = None
    timezone: tzinfo = UTC
    excluded_days: frozenset[date] = field(default_factory=frozenset)

    # ------------------------------------------------------------------ construction

    @classmethod
    def cron(
        cls,
        expression: str,
        timezone: str | tzinfo | None = None,
        exclusion_dates: Iterable[str] = (),
    ) -> Schedule:
        """``*/5 * * * *``, ``@daily`` or ``@every 10s``; the expression is checked to fire at all."""
        text = " ".join(expression.split())
        zone = _parse_timezone(timezone)
        excluded = parse_exclusion_dates(exclusion_dates)
        if text.startswith("@every"):
            return cls(None, parse_interval(text[len("@every") :]), zone, excluded)
        if text.startswith("@"):
            if text not in _DESCRIPTORS:
                raise ScheduleError(
                    f"unknown descriptor {text!r}; expected @every <duration> or one of "
                    + ", ".join(sorted(_DESCRIPTORS))
                )
        elif len(text.split(" ")) != 5:
            raise ScheduleError(
                f"invalid cron expression {expression!r}: expected 5 fields "
                "(minute hour day-of-month month day-of-week)"
            )
        try:
            croniter(text, datetime(2000, 1, 1)).get_next(datetime)
        except Exception as exc:  # croniter raises several unrelated types for bad input
            raise ScheduleError(f"invalid cron expression {expression!r}: {exc}") from None
        return cls(text, None, zone, excluded)

    @classmethod
    def every(
        cls,
        interval: str | timedelta,
        timezone: str | tzinfo | None = None,
        exclusion_dates: Iterable[str] = (),
    ) -> Schedule:
        """A fixed interval (a Go duration such as ``10s`` or a timedelta of at least a second)."""
        if isinstance(interval, str):
            delta = parse_interval(interval)
        elif interval < timedelta(seconds=1):
            raise ScheduleError("interval must be at least 1s")
        else:
            delta = interval
        return cls(None, delta, _parse_timezone(timezone), parse_exclusion_dates(exclusion_dates))

    @classmethod
    def calendar(
        cls,
        schedule: str | None,
        interval: str | None,
        timezone: str | None = None,
        exclusion_dates: Iterable[str] = (),
    ) -> Schedule:
        """Argo Events' calendar fields: ``schedule`` wins over ``interval`` when both are set."""
        if schedule:
            return cls.cron(schedule, timezone, exclusion_dates)
        if interval:
            return cls.every(interval, timezone, exclusion_dates)
        raise ScheduleError("must have either schedule or interval")

    def describe(self) -> str:
        what = self.expression if self.expression is not None else f"@every {self.interval}"
        return f"{what} ({self.timezone})"

    # ------------------------------------------------------------------ queries

    def next_after(self, instant: datetime) -> datetime:
        """The first tick strictly after ``instant`` (UTC)."""
        return next(self._forward(_require_aware(instant)))

    def previous_before(self, instant: datetime) -> datetime | None:
        """The last tick strictly before ``instant`` (UTC), or ``None`` when there is none."""
        return next(self._backward(_require_aware(instant)), None)

    def ticks_between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Every tick ``t`` with ``start < t <= end``, oldest first (lazily: may be many)."""
        end_utc = _require_aware(end)
        for tick in self._forward(_require_aware(start)):
            if tick > end_utc:
                return
            yield tick

    def missed_between(self, last: datetime, now: datetime, limit: int) -> list[datetime]:
        """Ticks ``t`` with ``last < t <= now``, oldest first, keeping only the ``limit`` most recent.

        This is the catch-up after downtime: the newest missed ticks matter most, and the bound keeps
        a long outage of a frequent schedule from flooding the bus. Cost is proportional to
        ``limit``, not to the length of the outage.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        last_utc, now_utc = _require_aware(last), _require_aware(now)
        found: list[datetime] = []
        for tick in self._backward(now_utc + _MICROSECOND):
            if tick <= last_utc or len(found) >= limit:
                break
            found.append(tick)
        found.reverse()
        return found

    def excludes(self, instant: datetime) -> bool:
        """Whether ``instant`` falls on an excluded calendar day of the schedule's time zone."""
        return bool(self.excluded_days) and instant.astimezone(self.timezone).date() in self.excluded_days

    # ------------------------------------------------------------------ iteration

    def _forward(self, after: datetime) -> Iterator[datetime]:
        raw = self._interval_forward(after) if self.interval is not None else self._cron_forward(after)
        for steps, tick in enumerate(raw):
            if steps > _MAX_STEPS:
                raise ScheduleError(f"{self.describe()} has no tick outside its exclusion dates")
            if not self.excludes(tick):
                yield tick

    def _backward(self, before: datetime) -> Iterator[datetime]:
        raw = self._interval_backward(before) if self.interval is not None else self._cron_backward(before)
        for steps, tick in enumerate(raw):
            if steps > _MAX_STEPS:
                return
            if not self.excludes(tick):
                yield tick

    def _interval_units(self) -> int:
        assert self.interval is not None
        return self.interval // _MICROSECOND

    def _interval_forward(self, after: datetime) -> Iterator[datetime]:
        step = self._interval_units()
        index = ((after - _EPOCH) // _MICROSECOND) // step + 1
        while True:
            tick = _EPOCH + timedelta(microseconds=index * step)
            if self.excludes(tick):
                # Jump over the whole excluded day instead of walking it tick by tick.
                index = max(index + 1, ((self._day_end(tick) - _EPOCH) // _MICROSECOND - 1) // step + 1)
                continue
            yield tick
            index += 1

    def _interval_backward(self, before: datetime) -> Iterator[datetime]:
        step = self._interval_units()
        index = -((-((before - _EPOCH) // _MICROSECOND)) // step) - 1  # largest index with tick < before
        while index >= 0:
            tick = _EPOCH + timedelta(microseconds=index * step)
            if self.excludes(tick):
                index = min(index - 1, -((-((self._day_start(tick) - _EPOCH) // _MICROSECOND)) // step) - 1)
                continue
            yield tick
            index -= 1

    def _day_start(self, instant: datetime) -> datetime:
        local_day = instant.astimezone(self.timezone).date()
        return self._resolve(datetime.combine(local_day, datetime.min.time()))

    def _day_end(self, instant: datetime) -> datetime:
        local_day = instant.astimezone(self.timezone).date() + timedelta(days=1)
        return self._resolve(datetime.combine(local_day, datetime.min.time()))

    def _wall(self, instant: datetime) -> datetime:
        return instant.astimezone(self.timezone).replace(tzinfo=None)

    def _resolve(self, wall: datetime) -> datetime:
        """The UTC instant a wall-clock time stands for: its first occurrence, or the end of a gap."""
        first = wall.replace(tzinfo=self.timezone, fold=0).astimezone(UTC)
        if self._wall(first) == wall:
            return first
        # ``wall`` lies in a spring-forward gap. fold=0 reads it with the offset from before the
        # transition, fold=1 with the one after, so the transition lies between the two readings;
        # the first instant whose wall-clock reading reaches ``wall`` is the transition itself.
        low = wall.replace(tzinfo=self.timezone, fold=1).astimezone(UTC)
        low, high = min(low, first), max(low, first)
        lo_s, hi_s = int(low.timestamp()), int(high.timestamp()) + 1
        while lo_s < hi_s:
            mid = (lo_s + hi_s) // 2
            if self._wall(datetime.fromtimestamp(mid, UTC)) >= wall:
                hi_s = mid
            else:
                lo_s = mid + 1
        return datetime.fromtimestamp(lo_s, UTC)

    def _cron_forward(self, after: datetime) -> Iterator[datetime]:
        assert self.expression is not None
        # Resolving wall-clock times is monotonic, so every wall time before ``after``'s own reading
        # resolves to an instant at or before ``after``: start there and skip what is not later.
        walls = croniter(self.expression, self._wall(after))
        previous = after
        while True:
            tick = self._resolve(walls.get_next(datetime))
            if tick > previous:
                previous = tick
                yield tick

    def _cron_backward(self, before: datetime) -> Iterator[datetime]:
        assert self.expression is not None
        # Inside a repeated hour an instant's wall-clock reading lags its place in the sequence of
        # first occurrences, so start a little later and discard what is not earlier.
        walls = croniter(self.expression, self._wall(before) + _FOLD_SLACK)
        previous = before
        while True:
            try:
                wall = walls.get_prev(datetime)
            except Exception:  # croniter gives up far in the past
                return
            if wall.year < 1971:
                return
            tick = self._resolve(wall)
            if tick < previous:
                previous = tick
                yield tick


class Clock(Protocol):
    """Time as the scheduler sees it; tests substitute a controllable one."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""

    async def sleep_until(self, instant: datetime) -> None:
        """Return at ``instant`` or later (or earlier: callers re-read :meth:`now` and decide)."""


class SystemClock:
    """The real clock. Sleeps are capped so a wall-clock jump (NTP, suspend) is noticed within
    :attr:`max_sleep`; a capped sleep that wakes early just sleeps again."""

    max_sleep: float = 300.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, instant: datetime) -> None:
        delay = (instant - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(min(delay, self.max_sleep))
