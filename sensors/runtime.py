"""Running one Sensor: consume the bus, match dependencies, keep partial matches, fire triggers.

:class:`SensorRunner` reads the bus as the consumer group ``sensor/<namespace>/<name>``, in order.
For each event it

1. finds the dependencies it is for (``eventSourceName`` = the event's source, ``eventName`` = its
   subject, same namespace) and applies their filters;
2. in one transaction: records the delivery (``event_deliveries``), updates each interested
   trigger's partial matches (``sensor_matches``) and, when a trigger's condition holds, inserts a
   ``pending`` firing (``trigger_firings``, idempotent on the events) and clears that trigger's
   partial matches, as Argo Events' JetStream driver does;
3. commits the bus offset.

A crash before step 2 commits re-processes the event from scratch; after it, the delivery row
marks the event as applied and the pending firing is picked up again. Firings are executed by
one worker per trigger, started in order (up to ``FIRE_CONCURRENCY`` at once), with the trigger's
``rateLimit`` and ``retryStrategy``; when they are exhausted the ``dlqTrigger`` (if any) fires
with the same events. So a slow or failing trigger never holds up the others, nor the sensor's
consumption, nor other sensors. The runner hands the firings it creates, with their events, to
the worker in memory (up to ``MAX_HANDED`` waiting); the worker reads pending firings from the
store only at start, after an error or a redelivery, past that limit, and (with replicas) at
every scan.

With several replicas (``cluster`` settings), each worker claims a group of firings before it
fires them and renews its claims while they are in flight (:meth:`FiringStore.claim`), so one
firing is fired by one replica; it also looks for pending firings every
``scan_interval_seconds``, which fires what a dead replica left once its claims expire.

Deliberate differences from Argo Events: execution is always at-least-once (``atLeastOnce: false``
in Argo acknowledges before acting and skips retries; here firings are durable and retried
whatever the flag), and the idempotency key keeps a redelivered event from firing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from sensors.conditions import Condition, CronReset, last_reset, trigger_condition
from sensors.filters import filter_event
from sensors.parameters import ParameterError, render_trigger
from sensors.spec import BackoffPolicy, EventDependency, Sensor, Trigger, backoff_policy
from sensors.state import SavedMatch, SensorState
from triggerfish import metrics
from triggerfish.bus.base import Bus, Record, StartPosition, Subscription
from triggerfish.events import Event, namespace_of
from triggers.base import FireResult, Firing, TriggerDriver, TriggerError
from triggers.firings import (
    DEAD_LETTERED,
    FAILED,
    SUCCEEDED,
    Finished,
    FiringRecord,
    FiringStatus,
    FiringStore,
    NewFiring,
)

if TYPE_CHECKING:
    from workflow_runtime.controller.ownership import OwnershipSettings

__all__ = ["Clock", "RateLimiter", "SensorRunner", "SystemClock", "consumer_group"]

log = logging.getLogger(__name__)

PROCESS_ATTEMPTS = 5
"""Times an event is processed again after an unexpected error (database down…) before it is skipped."""

FINISH_BATCH = 100
"""Fired firings whose outcomes are recorded in one transaction, when many are pending."""

FIRE_CONCURRENCY = 32
"""Pending firings of one trigger fired at once (a workflow submission waits on several database
transactions: one at a time, a trigger managed about 30 runs a second)."""

PROCESS_BATCH = 256
"""Events applied in one transaction when the sensor is behind: a transaction per event capped a
sensor at about a hundred events a second on SQLite."""

EVENT_CACHE = 1024

MAX_HANDED = 4096
"""Firings a trigger's worker may have waiting in memory; past that, new ones wait in the store
only (the worker reads them back when it catches up), so a slow trigger does not grow memory."""


class Clock(Protocol):
    """Time as the runner sees it (tests substitute a fake one)."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def consumer_group(namespace: str, sensor: str) -> str:
    return f"sensor/{namespace}/{sensor}"


class RateLimiter:
    """go.uber.org/ratelimit (what Argo Events uses): requests spaced ``per / rate`` apart,
    with up to 10 requests of slack accumulated while idle."""

    def __init__(self, rate: int, per_seconds: float, clock: Clock, slack: int = 10) -> None:
        self.interval = per_seconds / rate
        self._max_slack = -slack * self.interval
        self._clock = clock
        self._last: datetime | None = None
        self._sleep_for = 0.0
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        async with self._lock:
            now = self._clock.now()
            if self._last is None:
                self._last = now
                return
            self._sleep_for += self.interval - (now - self._last).total_seconds()
            self._sleep_for = max(self._sleep_for, self._max_slack)
            if self._sleep_for > 0:
                await self._clock.sleep(self._sleep_for)
                self._last = self._clock.now()
                self._sleep_for = 0.0
            else:
                self._last = now


_UNITS = {"Second": 1.0, "Minute": 60.0, "Hour": 3600.0}


def _limiter(trigger: Trigger, clock: Clock) -> RateLimiter | None:
    if trigger.rate_limit is None:
        return None
    per = _UNITS.get(trigger.rate_limit.unit, 1.0)
    return RateLimiter(trigger.rate_limit.requests_per_unit, per, clock)


@dataclass
class _Plan:
    """A trigger ready to run: its condition, schedules, limiter and worker state."""

    trigger: Trigger
    name: str
    condition: Condition
    resets: list[CronReset]
    policy: BackoffPolicy
    limiter: RateLimiter | None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    idle: bool = False
    handed: list[FiringRecord] = field(default_factory=list)
    """Firings created by this runner since the worker last looked: it fires them without reading
    them back from the store."""
    events: dict[int, dict[str, Event]] = field(default_factory=dict)
    """The events of handed-over firings (by firing id), so firing them needs no bus read even
    when the event cache has moved on."""
    preclaimed: set[int] = field(default_factory=set)
    """Handed-over firings created claimed by this replica (with replicas only)."""
    rescan: bool = True
    """The store may hold pending firings that were not handed over (at start, after an error, a
    redelivery, or with replicas): the worker reads them all from the store next time."""


def _event_hash(ids: Sequence[str]) -> int:
    """listener.go ``hashEventIDs``: FNV-1a style over the sorted event ids (by code point)."""
    value = 14695981039346656037
    for event_id in sorted(ids):
        for ch in event_id:
            value ^= ord(ch)
            value = (value * 1099511628211) % 2**64
    return value


def _selected_by_weight(trigger: Trigger, triggers: Sequence[Trigger], ids: Sequence[str]) -> bool:
    """listener.go ``shouldExecuteByWeight``: weighted triggers share events by hash ranges."""
    if trigger.weight <= 0:
        return True
    total = 0
    ranges: list[tuple[str, int, int]] = []
    for other in triggers:
        if other.weight > 0:
            ranges.append((other.name, total, total + other.weight))
            total += other.weight
    position = _event_hash(ids) % total
    return any(name == trigger.name and start <= position < end for name, start, end in ranges)


@dataclass(frozen=True, slots=True)
class _End:
    """The subscription ended: the bus was closed (``error`` None) or failed."""

    error: Exception | None = None


async def _read(subscription: Subscription, records: asyncio.Queue[Record | _End]) -> None:
    """Queue the subscription's records for the runner (up to the queue's size ahead), then the end."""
    try:
        async for record in subscription:
            await records.put(record)
    except Exception as exc:
        await records.put(_End(exc))
    else:
        await records.put(_End())


class _Committer:
    """Commits the consumer offset in the background, coalescing: while one commit is being
    written, later records only move the target. A crash re-delivers what was not committed yet,
    which the delivery records make harmless; awaiting a durable commit per event would cap a
    sensor at the bus writer's transaction rate."""

    def __init__(self, subscription: Subscription) -> None:
        self._subscription = subscription
        self._target: Record | None = None
        self._closing = False
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="sensor offset commits")

    def advance(self, record: Record) -> None:
        self._target = record
        self._wake.set()

    async def _run(self) -> None:
        while not (self._closing and self._target is None):
            await self._wake.wait()
            self._wake.clear()
            target, self._target = self._target, None
            if target is not None:
                await self._subscription.commit(target)

    async def close(self) -> None:
        """Write the last target, then stop (a failed commit only means a redelivery later)."""
        self._closing = True
        self._wake.set()
        with contextlib.suppress(Exception):
            await asyncio.shield(self._task)


class SensorRunner:
    """Runs one Sensor until stopped.

    The hub provides the validated :class:`~sensors.spec.Sensor`, the :class:`~triggerfish.bus.base.Bus`,
    the store's migrated ``AsyncEngine`` (schema revision 0002), the trigger drivers by kind
    (:func:`triggers.registry.default_drivers`) and optionally a clock. ``namespace`` is used when
    the manifest has none. Replacing a sensor is ``await old.stop()`` then ``await new.start()``:
    the consumer group's offset, partial matches and pending firings carry over.
    """

    def __init__(
        self,
        sensor: Sensor,
        bus: Bus,
        engine: AsyncEngine,
        drivers: Mapping[str, TriggerDriver],
        clock: Clock | None = None,
        *,
        namespace: str = "default",
        start_position: StartPosition = "earliest",
        random_fraction: Callable[[], float] = random.random,
        cluster: OwnershipSettings | None = None,
    ) -> None:
        self.sensor = sensor
        self.namespace = sensor.namespace_or(namespace)
        self.name = sensor.name
        self.group = consumer_group(self.namespace, self.name)
        self._bus = bus
        self._engine = engine
        self._drivers = drivers
        self._clock: Clock = clock or SystemClock()
        self._start_position = start_position
        self._random = random_fraction
        self._cluster = cluster
        self._owner = cluster.replica_id if cluster is not None else None
        self._state = SensorState(self.namespace, self.name)
        self._firings = FiringStore(engine)
        self._cache: OrderedDict[int, Event] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._subscription: Subscription | None = None
        self._progress = asyncio.Condition()
        self._processed = -1
        self.errors: list[str] = []
        """Recent processing and firing errors (for status reporting)."""

        dependency_names = [dep.name for dep in sensor.spec.dependencies]
        self._routes: dict[tuple[str, str], list[EventDependency]] = {}
        for dep in sensor.spec.dependencies:
            self._routes.setdefault((dep.event_source_name, dep.event_name), []).append(dep)
        self._plans: list[_Plan] = []
        for trigger in sensor.spec.triggers:
            assert trigger.template is not None
            kind = trigger.template.kind
            if kind not in drivers:
                raise ValueError(f"trigger {trigger.name!r}: no driver for trigger kind {kind!r}")
            if trigger.dlq_trigger is not None and trigger.dlq_trigger.template is not None:
                dlq_kind = trigger.dlq_trigger.template.kind
                if dlq_kind not in drivers:
                    raise ValueError(f"trigger {trigger.name!r}: no driver for dlqTrigger kind {dlq_kind!r}")
            resets = [
                CronReset(criterion.by_time.cron, criterion.by_time.timezone)
                for criterion in trigger.template.conditions_reset or ()
                if criterion.by_time is not None
            ]
            self._plans.append(
                _Plan(
                    trigger=trigger,
                    name=trigger.name,
                    condition=trigger_condition(trigger.template.conditions, dependency_names),
                    resets=resets,
                    policy=backoff_policy(trigger.retry_strategy),
                    limiter=_limiter(trigger, self._clock),
                )
            )
        self._plans_by_name = {plan.name: plan for plan in self._plans}

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Resume pending firings and start consuming (returns at once; work runs in tasks)."""
        await self._prepare_state()
        subscription = self._bus.subscribe(self.group, start=self._start_position)
        self._tasks.append(
            asyncio.create_task(self._consume_forever(subscription), name=f"{self.group}:consume")
        )
        for plan in self._plans:
            plan.idle = False
            plan.rescan = True
            self._tasks.append(asyncio.create_task(self._work(plan), name=f"{self.group}:{plan.name}"))
            if plan.resets and plan.condition.requires_and:
                self._tasks.append(
                    asyncio.create_task(self._reset_loop(plan), name=f"{self.group}:{plan.name}:reset")
                )

    async def stop(self) -> None:
        """Stop consuming and firing; unfinished firings stay pending for the next runner."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.close()
            self._subscription = None

    async def __aenter__(self) -> SensorRunner:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def processed_offset(self) -> int:
        """The last bus offset this runner has finished processing (-1 before the first)."""
        return self._processed

    async def wait_idle(self, offset: int | None = None, timeout: float = 10.0) -> None:
        """Wait until ``offset`` is processed and every trigger worker has nothing left to fire."""

        def settled() -> bool:
            done = offset is None or self._processed >= offset
            return done and all(plan.idle for plan in self._plans)

        async with self._progress:
            await asyncio.wait_for(self._progress.wait_for(settled), timeout)

    async def _notify(self) -> None:
        async with self._progress:
            self._progress.notify_all()

    async def _prepare_state(self) -> None:
        """Apply resets missed while stopped; fail pending firings of triggers that no longer exist."""
        now = self._clock.now()
        keep = {plan.name: plan.condition.dependencies for plan in self._plans if plan.condition.requires_and}
        async with self._engine.begin() as conn:
            await self._state.prune(conn, keep)
            for plan in self._plans:
                cutoff = last_reset(plan.resets, now)
                if cutoff is not None:
                    await self._state.clear_before(conn, plan.name, cutoff)
        names = {plan.name for plan in self._plans}
        for record in await self._firings.pending(self.namespace, self.name):
            if record.trigger not in names:
                await self._firings.finish(
                    record.id,
                    FAILED,
                    attempts=record.attempts,
                    now=now,
                    error="trigger removed from the sensor",
                )
                metrics.TRIGGER_RESULTS.labels(self.namespace, self.name, record.trigger, FAILED).inc()

    # ---------------------------------------------------------------- consuming

    async def _consume_forever(self, subscription: Subscription) -> None:
        """Consume; if the bus fails, subscribe again (uncommitted events are delivered again)."""
        while True:
            self._subscription = subscription
            try:
                await self._consume(subscription)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("sensor %s/%s: bus subscription failed", self.namespace, self.name)
                self._remember_error(f"bus: {type(exc).__name__}: {exc}")
            with contextlib.suppress(Exception):
                await subscription.close()
            self._subscription = None
            await self._clock.sleep(1.0)
            subscription = self._bus.subscribe(self.group, start=self._start_position)

    async def _consume(self, subscription: Subscription) -> None:
        committer = _Committer(subscription)
        records: asyncio.Queue[Record | _End] = asyncio.Queue(PROCESS_BATCH)
        reader = asyncio.create_task(_read(subscription, records), name=f"{self.group}:read")
        try:
            await self._consume_records(records, committer)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await committer.close()

    async def _consume_records(self, records: asyncio.Queue[Record | _End], committer: _Committer) -> None:
        """Apply what the reader queued, everything queued at once in one transaction."""
        while True:
            items = [await records.get()]
            while len(items) < PROCESS_BATCH and not records.empty():
                items.append(records.get_nowait())
            batch = [item for item in items if isinstance(item, Record)]
            if batch:
                await self._apply(batch)
                committer.advance(batch[-1])
                self._processed = batch[-1].offset
                await self._notify()
            for item in items:
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    return

    async def _apply(self, batch: list[Record]) -> None:
        """The batch in one transaction; if that fails, each record on its own, with retries."""
        if len(batch) > 1:
            try:
                await self._process(batch)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.debug("sensor %s/%s: batch failed; its events one by one", self.namespace, self.name)
        for record in batch:
            for attempt in range(1, PROCESS_ATTEMPTS + 1):
                try:
                    await self._process([record])
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    message = f"event at offset {record.offset}: {type(exc).__name__}: {exc}"
                    log.exception("sensor %s/%s: processing %s failed", self.namespace, self.name, message)
                    self._remember_error(message)
                    if attempt == PROCESS_ATTEMPTS:
                        log.error("sensor %s/%s: skipping %s", self.namespace, self.name, message)
                    else:
                        await self._clock.sleep(min(2.0**attempt, 30.0))

    def _remember_error(self, message: str) -> None:
        self.errors.append(message)
        del self.errors[:-20]

    def _cache_event(self, offset: int, event: Event) -> None:
        self._cache[offset] = event
        self._cache.move_to_end(offset)
        while len(self._cache) > EVENT_CACHE:
            self._cache.popitem(last=False)

    async def _event(self, offset: int) -> Event | None:
        cached = self._cache.get(offset)
        if cached is not None:
            return cached
        record = await self._bus.get(offset)
        if record is None:
            return None
        self._cache_event(offset, record.event)
        return record.event

    def _match(self, record: Record) -> list[str]:
        """Names of the dependencies this event satisfies (route, then filters)."""
        event = record.event
        if namespace_of(event) != self.namespace:
            return []
        candidates = self._routes.get((event.get_source(), event.get_subject() or ""), [])
        matched: list[str] = []
        for dep in candidates:
            outcome = filter_event(dep, event, when=record.appended_at)
            if outcome.passed:
                matched.append(dep.name)
            elif outcome.error is not None:
                log.warning(
                    "sensor %s/%s: event %s discarded for dependency %s: %s",
                    self.namespace,
                    self.name,
                    event.get_id(),
                    dep.name,
                    outcome.error,
                )
        return matched

    async def _process(self, records: Sequence[Record]) -> None:
        """Apply the records' effects, in order, in one transaction."""
        matches = [(record, matched) for record in records if (matched := self._match(record))]
        if not matches:
            return
        for record, _ in matches:
            self._cache_event(record.offset, record.event)
        now = self._clock.now()
        firings: list[NewFiring] = []
        async with self._engine.begin() as conn:
            recorded = await self._state.record_deliveries(conn, [(r.offset, m) for r, m in matches], now)
            redelivered = len(recorded) < len(matches)
            for record, matched in matches:
                if record.offset not in recorded:
                    continue
                for dep in matched:
                    metrics.SENSOR_MATCHES.labels(self.namespace, self.name, dep).inc()
                for plan in self._plans:
                    relevant = [dep for dep in matched if dep in plan.condition.dependencies]
                    if relevant:
                        firings += await self._advance(conn, plan, relevant, record, now)
            created = await self._create_firings(conn, firings, now)
        self._hand_over(created, {record.offset: record.event for record, _ in matches})
        if redelivered:  # it may have left firings pending before a crash: every worker looks
            self._wake({plan.name for plan in self._plans}, rescan=True)

    def _hand_over(self, created: Sequence[FiringRecord], events: Mapping[int, Event]) -> None:
        """Give the workers the firings just committed, with their events (from ``events`` by
        offset, else the cache), and wake them."""
        for record in created:
            plan = self._plans_by_name[record.trigger]
            if len(plan.handed) >= MAX_HANDED:
                plan.rescan = True
                continue
            plan.handed.append(record)
            at_hand = {
                dep: events.get(offset) or self._cache.get(offset)
                for dep, offset in record.event_offsets.items()
            }
            plan.events[record.id] = {dep: event for dep, event in at_hand.items() if event is not None}
            if self._cluster is not None:
                plan.preclaimed.add(record.id)
        self._wake({record.trigger for record in created})

    def _wake(self, triggers: set[str], *, rescan: bool = False) -> None:
        """Let the workers of these triggers look for firings (``rescan``: in the store too)."""
        for plan in self._plans:
            if plan.name in triggers:
                plan.rescan = plan.rescan or rescan
                plan.idle = False
                plan.wake.set()

    async def replay(self, record: Record, nonce: str) -> list[str]:
        """Run again what an event caused (``triggerfish events replay``): every firing it took part
        in fires anew with the same events, as a new firing. An event that caused no firing yet is
        delivered again instead, so it can complete a condition. Returns the dependencies matched."""
        matched = self._match(record)
        if not matched:
            return []
        self._cache_event(record.offset, record.event)
        now = self._clock.now()
        past = [
            f
            for f in await self._firings.list(self.namespace, self.name, limit=10_000)
            if record.offset in f.event_offsets.values()
        ]
        firings: list[NewFiring] = []
        async with self._engine.begin() as conn:
            for plan in self._plans:
                earlier = [f for f in past if f.trigger == plan.name]
                if earlier:
                    for firing in earlier:
                        new = await self._firing(plan, dict(firing.event_offsets), nonce)
                        firings += [new] if new is not None else []
                    continue
                relevant = [dep for dep in matched if dep in plan.condition.dependencies]
                if relevant:
                    firings += await self._advance(conn, plan, relevant, record, now, replay=nonce)
            created = await self._create_firings(conn, firings, now)
        self._hand_over(created, {})
        return matched

    async def _advance(
        self,
        conn: AsyncConnection,
        plan: _Plan,
        relevant: list[str],
        record: Record,
        now: datetime,
        replay: str = "",
    ) -> list[NewFiring]:
        """Update one trigger's partial matches for this event; the firings it completes (for the
        caller to insert, all of a transaction's at once)."""
        firings: list[NewFiring] = []
        if not plan.condition.requires_and:
            for dep in relevant:
                firing = await self._firing(plan, {dep: record.offset}, replay)
                firings += [firing] if firing is not None else []
            return firings
        saved: dict[str, SavedMatch] = {
            dep: match
            for dep, match in (await self._state.saved(conn, plan.name)).items()
            if dep in plan.condition.dependencies
        }
        cutoff = last_reset(plan.resets, now)
        if cutoff is not None and any(match.at < cutoff for match in saved.values()):
            await self._state.clear_before(conn, plan.name, cutoff)
            saved = {dep: match for dep, match in saved.items() if match.at >= cutoff}
        for dep in relevant:
            if plan.condition.holds({*saved, dep}):
                offsets = {name: match.offset for name, match in saved.items()}
                offsets[dep] = record.offset
                firing = await self._firing(plan, offsets, replay)
                firings += [firing] if firing is not None else []
                await self._state.clear(conn, plan.name)
                saved = {}
            else:
                await self._state.save(conn, plan.name, dep, record.offset, record.appended_at)
                saved[dep] = SavedMatch(record.offset, record.appended_at)
        return firings

    async def _firing(self, plan: _Plan, offsets: dict[str, int], replay: str = "") -> NewFiring | None:
        """The firing of ``plan`` with these events, unless trigger weights give them to another."""
        if plan.trigger.weight > 0:
            ids: list[str] = []
            for offset in offsets.values():
                event = await self._event(offset)
                if event is not None:
                    ids.append(event.get_id())
            if not _selected_by_weight(plan.trigger, self.sensor.spec.triggers, ids):
                return None
        return NewFiring(self.namespace, self.name, plan.name, offsets, replay)

    async def _reset_loop(self, plan: _Plan) -> None:
        """Clear the trigger's partial matches at every ``conditionsReset`` tick."""
        while True:
            now = self._clock.now()
            tick = min(reset.next(now) for reset in plan.resets)
            delay = (tick - now).total_seconds()
            await asyncio.sleep(min(max(delay, 0.0), 3600.0))
            if self._clock.now() >= tick:
                async with self._engine.begin() as conn:
                    await self._state.clear_before(conn, plan.name, tick)
                log.info("sensor %s/%s: conditions of trigger %s reset", self.namespace, self.name, plan.name)

    # ---------------------------------------------------------------- firing

    async def _work(self, plan: _Plan) -> None:
        while True:
            plan.wake.clear()
            try:
                pending = await self._next_firings(plan)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sensor %s/%s: cannot read pending firings", self.namespace, self.name)
                await asyncio.sleep(1.0)
                continue
            if not pending:
                if plan.wake.is_set():
                    continue  # a firing was created while we were looking
                plan.idle = True
                await self._notify()
                await self._wait_for_work(plan)
                continue
            plan.idle = False
            try:
                await self._fire_all(plan, pending)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("sensor %s/%s: firing failed unexpectedly", self.namespace, self.name)
                self._remember_error(f"trigger {plan.name}: {type(exc).__name__}: {exc}")
                plan.rescan = True  # what the round left pending is only in the store now
                await asyncio.sleep(1.0)

    async def _next_firings(self, plan: _Plan) -> Sequence[FiringRecord]:
        """The firings handed over since the last round or, when a rescan is due, every pending one
        in the store (a firing handed over during the read is in its result or comes next round)."""
        if not plan.rescan:
            handed, plan.handed = plan.handed, []
            return handed
        plan.handed, plan.events, plan.preclaimed = [], {}, set()
        pending = await self._firings.pending(self.namespace, self.name, plan.name, claimable_by=self._owner)
        plan.rescan = False
        read = {record.id for record in pending}
        plan.handed = [record for record in plan.handed if record.id not in read]
        return pending

    async def _wait_for_work(self, plan: _Plan) -> None:
        """Until a firing is created here, or (with replicas) the next look for firings left by others."""
        if self._cluster is None:
            await plan.wake.wait()
            return
        try:
            await asyncio.wait_for(plan.wake.wait(), self._cluster.scan_interval_seconds)
        except TimeoutError:
            plan.rescan = True

    async def _create_firings(
        self, conn: AsyncConnection, firings: Sequence[NewFiring], now: datetime
    ) -> list[FiringRecord]:
        """Insert the firings (claimed by this replica, with replicas)."""
        if self._cluster is None:
            return await FiringStore.create_many(conn, firings, now)
        return await FiringStore.create_many(
            conn, firings, now, claimed_by=self._cluster.replica_id, lease_seconds=self._cluster.lease_seconds
        )

    async def _claimed(
        self, plan: _Plan, group: Sequence[FiringRecord], held: set[int]
    ) -> Sequence[FiringRecord]:
        """The firings of ``group`` this replica now holds a claim on (all of them when alone).
        Those it created claimed less than half a lease ago are still its own without asking."""
        if self._cluster is None:
            return group
        fresh_until = self._clock.now() - timedelta(seconds=self._cluster.lease_seconds / 2)
        own = {r.id for r in group if r.id in plan.preclaimed and r.created_at > fresh_until}
        plan.preclaimed.difference_update(record.id for record in group)
        ask = [record.id for record in group if record.id not in own]
        won = own | await self._firings.claim(ask, self._cluster.replica_id, self._cluster.lease_seconds)
        held |= won
        return [record for record in group if record.id in won]

    async def _renew(self, held: set[int]) -> None:
        """Keep the claims on firings in flight alive until their outcomes are recorded."""
        assert self._cluster is not None
        while True:
            await asyncio.sleep(self._cluster.renew_interval_seconds)
            ids = set(held)
            try:
                lost = ids - await self._firings.claim(
                    ids, self._cluster.replica_id, self._cluster.lease_seconds
                )
            except Exception:
                log.exception("sensor %s/%s: cannot renew firing claims", self.namespace, self.name)
                continue
            if lost:
                log.warning(
                    "sensor %s/%s: %d firing claim(s) expired before renewal; another replica may fire them",
                    self.namespace,
                    self.name,
                    len(lost),
                )

    async def _fire_all(self, plan: _Plan, pending: Sequence[FiringRecord]) -> None:
        """Fire up to :data:`FIRE_CONCURRENCY` at a time, started in order, each group claimed first;
        record the outcomes in one transaction per :data:`FINISH_BATCH` (and before an error or a
        stop ends the round, so nothing that fired is fired again)."""
        done: list[tuple[FiringRecord, _Final]] = []
        held: set[int] = set()
        renewal = asyncio.create_task(self._renew(held)) if self._cluster is not None else None
        try:
            for start in range(0, len(pending), FIRE_CONCURRENCY):
                chunk = pending[start : start + FIRE_CONCURRENCY]
                events = {record.id: plan.events.pop(record.id, None) for record in chunk}
                group = await self._claimed(plan, chunk, held)
                outcomes = await asyncio.gather(
                    *(self._fire_firing(plan, record, events[record.id]) for record in group),
                    return_exceptions=True,
                )
                pairs = list(zip(group, outcomes, strict=True))
                done += [(record, outcome) for record, outcome in pairs if isinstance(outcome, _Final)]
                for outcome in outcomes:
                    if isinstance(outcome, BaseException):
                        raise outcome  # the rest of the group is recorded first (finally)
                if len(done) >= FINISH_BATCH:
                    await self._finish(plan, done)
                    held.difference_update(record.id for record, _ in done)
                    done = []
        finally:
            if renewal is not None:
                renewal.cancel()
            if done:
                await asyncio.shield(self._finish(plan, done))

    async def _finish(self, plan: _Plan, done: Sequence[tuple[FiringRecord, _Final]]) -> None:
        await self._firings.finish_many(
            [
                Finished(record.id, final.status, final.attempts, final.result, final.error)
                for record, final in done
            ],
            now=self._clock.now(),
        )
        for _, final in done:
            metrics.TRIGGER_RESULTS.labels(self.namespace, self.name, plan.name, final.status).inc()

    async def _fire_firing(
        self, plan: _Plan, record: FiringRecord, handed: Mapping[str, Event] | None
    ) -> _Final:
        """The trigger with its retries, then the ``dlqTrigger`` if it failed (at-least-once only).
        Its events are ``handed`` over with it, or read from the cache or the bus."""
        events: dict[str, Event] = dict(handed or {})
        for dep, offset in record.event_offsets.items():
            if dep in events:
                continue
            event = await self._event(offset)
            if event is None:
                return _Final(
                    FAILED, record.attempts, error=f"event at offset {offset} is no longer in the bus"
                )
            events[dep] = event
        firing = Firing(self.namespace, self.name, plan.name, record.key, events, record.offsets, record.id)
        if plan.limiter is not None:
            await plan.limiter.take()
        outcome = await self._fire_with_retry(plan.trigger, plan.policy, firing, record)
        if outcome.ok:
            return _Final(SUCCEEDED, outcome.attempts, result=outcome.result)
        log.warning(
            "sensor %s/%s: trigger %s failed after %d attempt(s): %s",
            self.namespace,
            self.name,
            plan.name,
            outcome.attempts,
            outcome.error,
        )
        self._remember_error(f"trigger {plan.name}: {outcome.error}")
        dlq = plan.trigger.dlq_trigger
        if dlq is None or not plan.trigger.at_least_once:
            return _Final(FAILED, outcome.attempts, error=outcome.error)
        dlq_key = hashlib.sha256(f"{record.key}/dlq/{dlq.name}".encode()).hexdigest()
        dlq_firing = Firing(self.namespace, self.name, dlq.name, dlq_key, events, record.offsets)
        dlq_outcome = await self._fire_with_retry(dlq, backoff_policy(dlq.retry_strategy), dlq_firing, None)
        if dlq_outcome.ok:
            result = {"dlqTrigger": dlq.name, **dlq_outcome.result}
            return _Final(DEAD_LETTERED, outcome.attempts, result=result, error=outcome.error)
        error = f"{outcome.error}; dlqTrigger {dlq.name}: {dlq_outcome.error}"
        return _Final(FAILED, outcome.attempts, error=error)

    async def _fire_with_retry(
        self, trigger: Trigger, policy: BackoffPolicy, firing: Firing, record: FiringRecord | None
    ) -> _Outcome:
        delays = policy.delays(self._random)
        error = ""
        attempts = 0
        for attempt in range(policy.steps):
            attempts = attempt + 1
            try:
                result = await self._fire_once(trigger, firing)
                return _Outcome(True, attempts, dict(result.details))
            except TriggerError as exc:
                error = str(exc)
                retryable = exc.retryable
            except ParameterError as exc:
                error = str(exc)
                retryable = False
            except Exception as exc:  # a driver bug must not kill the worker; treat as a failed attempt
                log.exception("trigger %s raised", trigger.name)
                error = f"{type(exc).__name__}: {exc}"
                retryable = True
            if not retryable or attempts == policy.steps:
                break
            metrics.TRIGGER_RETRIES.labels(self.namespace, self.name, trigger.name).inc()
            if record is not None:
                await self._firings.attempted(record.id, attempts, error, self._clock.now())
            await self._clock.sleep(next(delays))
        return _Outcome(False, attempts, {}, error)

    async def _fire_once(self, trigger: Trigger, firing: Firing) -> FireResult:
        rendered = render_trigger(trigger, firing.events)
        driver = self._drivers.get(rendered.kind)
        if driver is None:
            raise TriggerError(f"no driver for trigger kind {rendered.kind!r}", retryable=False)
        result = await driver.fire(rendered.spec, firing)
        status = result.details.get("status")
        policy = trigger.policy.status if trigger.policy is not None else None
        if (
            policy is not None
            and policy.allow is not None
            and isinstance(status, int)
            and status not in policy.allow
        ):
            raise TriggerError(
                f"policy application resulted in failure. http response status {status} is not allowed"
            )
        return result


@dataclass(frozen=True, slots=True)
class _Final:
    """How a firing ended, as the firing store records it."""

    status: FiringStatus
    attempts: int
    result: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    attempts: int
    result: dict[str, Any]
    error: str = ""
