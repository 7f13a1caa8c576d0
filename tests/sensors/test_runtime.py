"""SensorRunner: matching, durable partial matches, idempotent firing, retries, DLQ, rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from sensors.runtime import RateLimiter, SensorRunner, consumer_group
from sensors.spec import Sensor, load_sensor
from sensors.state import deliveries_of, partial_matches
from triggerfish.bus.base import Bus
from triggerfish.store.db import open_database, sqlite_url
from triggers.firings import FiringStore
from triggers.workflow import K8sWorkflowDriver
from workflow_runtime.controller.ownership import OwnershipSettings

from .helpers import T0, FakeClock, FakeSubmitter, MemoryBus, MemorySubscription, RecordingDriver, event


def make_sensor(
    triggers: list[dict[str, Any]],
    dependencies: list[dict[str, Any]] | None = None,
    name: str = "s",
) -> Sensor:
    return load_sensor(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Sensor",
            "metadata": {"name": name},
            "spec": {
                "dependencies": dependencies
                or [
                    {"name": "dep-a", "eventSourceName": "webhook", "eventName": "a"},
                    {"name": "dep-b", "eventSourceName": "webhook", "eventName": "b"},
                    {"name": "dep-c", "eventSourceName": "webhook", "eventName": "c"},
                ],
                "triggers": triggers,
            },
        }
    )


def log_trigger(name: str, conditions: str = "", **extra: Any) -> dict[str, Any]:
    template: dict[str, Any] = {"name": name, "log": {}}
    if conditions:
        template["conditions"] = conditions
    return {"template": template, **extra}


class Harness:
    def __init__(self, engine: AsyncEngine, bus: Bus | None = None) -> None:
        self.engine = engine
        self.bus: Any = bus or MemoryBus()
        self.clock = FakeClock()
        self.runners: list[SensorRunner] = []

    async def runner(self, sensor: Sensor, drivers: Mapping[str, Any], **kwargs: Any) -> SensorRunner:
        runner = SensorRunner(sensor, self.bus, self.engine, drivers, self.clock, **kwargs)
        await runner.start()
        self.runners.append(runner)
        return runner

    async def publish(self, name: str, data: Any = None, **kwargs: Any) -> int:
        published = await self.bus.publish(event(name, data, **kwargs))
        return int(published.offset)

    async def close(self) -> None:
        for runner in self.runners:
            await runner.stop()


@pytest.fixture
async def harness(engine: AsyncEngine) -> AsyncIterator[Harness]:
    h = Harness(engine)
    yield h
    await h.close()


def fired(driver: RecordingDriver) -> list[tuple[str, dict[str, Any]]]:
    return [(f.trigger, {dep: ev.get_data() for dep, ev in f.events.items()}) for _, f in driver.fired]


# ---------------------------------------------------------------- matching and conditions


async def test_and_or_conditions_and_state_cleared_after_firing(harness: Harness) -> None:
    driver = RecordingDriver()
    sensor = make_sensor([log_trigger("both", "dep-a && dep-b"), log_trigger("either", "dep-a || dep-b")])
    runner = await harness.runner(sensor, {"log": driver})
    await harness.publish("a", {"n": 1})
    await harness.publish("b", {"n": 2})
    last = await harness.publish("a", {"n": 3})
    await runner.wait_idle(last)
    assert sorted(fired(driver), key=str) == sorted(
        [
            ("either", {"dep-a": {"n": 1}}),
            ("both", {"dep-a": {"n": 1}, "dep-b": {"n": 2}}),
            ("either", {"dep-b": {"n": 2}}),
            ("either", {"dep-a": {"n": 3}}),
        ],
        key=str,
    )
    # after "both" fired its state was cleared; the third event starts a new partial match
    assert await partial_matches(harness.engine, "default", "s") == {"both": {"dep-a": last}}


async def test_latest_event_per_dependency_wins(harness: Harness) -> None:
    driver = RecordingDriver()
    runner = await harness.runner(make_sensor([log_trigger("t", "dep-a && dep-b")]), {"log": driver})
    await harness.publish("a", {"n": 1})
    await harness.publish("a", {"n": 2})
    last = await harness.publish("b", {"n": 3})
    await runner.wait_idle(last)
    assert fired(driver) == [("t", {"dep-a": {"n": 2}, "dep-b": {"n": 3}})]


async def test_or_trigger_with_saved_and_branch_fires_with_everything_saved(harness: Harness) -> None:
    driver = RecordingDriver()
    runner = await harness.runner(
        make_sensor([log_trigger("t", "(dep-a && dep-b) || dep-c")]), {"log": driver}
    )
    await harness.publish("a", {"n": 1})
    last = await harness.publish("c", {"n": 2})
    await runner.wait_idle(last)
    # JetStream's driver passes every saved dependency along with the satisfying one
    assert fired(driver) == [("t", {"dep-a": {"n": 1}, "dep-c": {"n": 2}})]
    assert await partial_matches(harness.engine, "default", "s") == {}


async def test_default_condition_needs_every_dependency(harness: Harness) -> None:
    driver = RecordingDriver()
    runner = await harness.runner(make_sensor([log_trigger("t")]), {"log": driver})
    await harness.publish("a")
    last = await harness.publish("b")
    await runner.wait_idle(last)
    assert driver.fired == []
    last = await harness.publish("c")
    await runner.wait_idle(last)
    assert len(driver.fired) == 1


async def test_filters_namespace_and_source_decide_what_matches(harness: Harness) -> None:
    driver = RecordingDriver()
    deps = [
        {
            "name": "push",
            "eventSourceName": "github",
            "eventName": "example",
            "filters": {"data": [{"path": "body.ref", "type": "string", "value": ["^refs/heads/main$"]}]},
        }
    ]
    runner = await harness.runner(make_sensor([log_trigger("t")], deps), {"log": driver})
    await harness.publish("example", {"body": {"ref": "refs/heads/dev"}}, source="github")
    await harness.publish("example", {"body": {"ref": "refs/heads/main"}}, source="other")
    await harness.publish("example", {"body": {"ref": "refs/heads/main"}}, source="github", namespace="prod")
    last = await harness.publish("example", {"body": {"ref": "refs/heads/main"}}, source="github")
    await runner.wait_idle(last)
    assert len(driver.fired) == 1
    assert driver.fired[0][1].event_offsets == [last]
    assert await deliveries_of(harness.engine, last) == {("default", "s"): ["push"]}
    assert await deliveries_of(harness.engine, 1) == {}


async def test_one_event_matching_two_dependencies(harness: Harness) -> None:
    deps: list[dict[str, Any]] = [
        {"name": "all", "eventSourceName": "webhook", "eventName": "a"},
        {
            "name": "big",
            "eventSourceName": "webhook",
            "eventName": "a",
            "filters": {"data": [{"path": "n", "type": "number", "value": ["10"], "comparator": ">"}]},
        },
    ]
    driver = RecordingDriver()
    runner = await harness.runner(make_sensor([log_trigger("t", "all || big")], deps), {"log": driver})
    last = await harness.publish("a", {"n": 50})
    await runner.wait_idle(last)
    # JetStream's driver handles each matched dependency in turn: an OR trigger fires for each
    assert sorted(list(deps_) for _, deps_ in fired(driver)) == [["all"], ["big"]]


# ---------------------------------------------------------------- durability and idempotency


async def test_partial_matches_survive_a_new_runner(harness: Harness) -> None:
    driver = RecordingDriver()
    sensor = make_sensor([log_trigger("t", "dep-a && dep-b")])
    first = await harness.runner(sensor, {"log": driver})
    offset = await harness.publish("a", {"n": 1})
    await first.wait_idle(offset)
    await first.stop()
    assert await partial_matches(harness.engine, "default", "s") == {"t": {"dep-a": offset}}

    second = await harness.runner(sensor, {"log": driver})
    last = await harness.publish("b", {"n": 2})
    await second.wait_idle(last)
    assert fired(driver) == [("t", {"dep-a": {"n": 1}, "dep-b": {"n": 2}})]


async def test_redelivered_events_fire_once(harness: Harness) -> None:
    submitter = FakeSubmitter()
    sensor = make_sensor(
        [
            {
                "template": {
                    "name": "wf",
                    "conditions": "dep-a && dep-b",
                    "k8s": {
                        "operation": "create",
                        "source": {
                            "resource": {
                                "apiVersion": "argoproj.io/v1alpha1",
                                "kind": "Workflow",
                                "metadata": {"generateName": "run-"},
                                "spec": {"entrypoint": "main"},
                            }
                        },
                    },
                }
            }
        ]
    )
    drivers = {"k8s": K8sWorkflowDriver(submitter)}
    runner = await harness.runner(sensor, drivers)
    await harness.publish("a")
    last = await harness.publish("b")
    await runner.wait_idle(last)
    await runner.stop()
    assert len(submitter.submitted) == 1

    # the hub crashed before committing: the bus delivers both events again
    harness.bus.committed[consumer_group("default", "s")] = 0
    again = await harness.runner(sensor, drivers)
    await again.wait_idle(last)
    assert len(submitter.submitted) == 1
    assert await partial_matches(harness.engine, "default", "s") == {}
    records = await FiringStore(harness.engine).list("default", "s")
    assert [(r.status, r.event_offsets) for r in records] == [("succeeded", {"dep-a": 1, "dep-b": 2})]


async def test_a_firing_interrupted_by_a_crash_is_resumed(harness: Harness) -> None:
    blocked = RecordingDriver()
    blocked.block = asyncio.Event()
    sensor = make_sensor([log_trigger("t", "dep-a")])
    runner = await harness.runner(sensor, {"log": blocked})
    offset = await harness.publish("a", {"n": 1})
    while blocked.attempts == 0:
        await asyncio.sleep(0.01)
    await runner.stop()  # the process dies while the action runs
    pending = await FiringStore(harness.engine).pending("default", "s")
    assert [p.event_offsets for p in pending] == [{"dep-a": offset}]

    working = RecordingDriver()
    resumed = await harness.runner(sensor, {"log": working})
    await resumed.wait_idle()  # nothing new to consume: the committed offset is past the event
    assert fired(working) == [("t", {"dep-a": {"n": 1}})]
    assert await FiringStore(harness.engine).pending("default", "s") == []


async def test_new_firings_are_handed_to_the_worker_without_reading_them_back(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store is read for pending firings once, at start; what the runner creates afterwards
    reaches the worker in memory, in order."""
    reads: list[str | None] = []
    read_pending = FiringStore.pending

    async def counted(self: FiringStore, *args: Any, **kwargs: Any) -> Any:
        reads.append(args[2] if len(args) > 2 else None)
        return await read_pending(self, *args, **kwargs)

    monkeypatch.setattr(FiringStore, "pending", counted)
    driver = RecordingDriver()
    runner = await harness.runner(make_sensor([log_trigger("t", "dep-a")]), {"log": driver})
    last = 0
    for n in range(20):
        last = await harness.publish("a", {"n": n})
    await runner.wait_idle(last)
    assert fired(driver) == [("t", {"dep-a": {"n": n}}) for n in range(20)]
    assert reads.count("t") == 1
    assert await FiringStore(harness.engine).pending("default", "s") == []


async def test_a_round_that_fails_leaves_its_firings_to_a_read_of_the_store(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When recording a round's outcomes fails, its firings stay pending in the store only; the
    worker reads them from there and fires them again (at least once)."""
    finish = FiringStore.finish_many
    failures = [RuntimeError("database went away")]

    async def failing_once(self: FiringStore, *args: Any, **kwargs: Any) -> None:
        if failures:
            raise failures.pop()
        await finish(self, *args, **kwargs)

    monkeypatch.setattr(FiringStore, "finish_many", failing_once)
    driver = RecordingDriver()
    runner = await harness.runner(make_sensor([log_trigger("t", "dep-a")]), {"log": driver})
    offset = await harness.publish("a", {"n": 1})
    await runner.wait_idle(offset)
    assert fired(driver) == [("t", {"dep-a": {"n": 1}})] * 2
    records = await FiringStore(harness.engine).list("default", "s")
    assert [(r.status, r.event_offsets) for r in records] == [("succeeded", {"dep-a": offset})]
    assert any("database went away" in error for error in runner.errors)


async def test_handed_firings_carry_their_events_past_the_event_cache(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sensor runs far ahead of a blocked trigger: the events of its firings are handed over
    with them, so none is read back from the bus once the trigger moves again."""
    monkeypatch.setattr("sensors.runtime.EVENT_CACHE", 2)
    gets: list[int] = []
    bus_get = harness.bus.get

    async def counted_get(offset: int) -> Any:
        gets.append(offset)
        return await bus_get(offset)

    monkeypatch.setattr(harness.bus, "get", counted_get)
    driver = RecordingDriver()
    driver.block = asyncio.Event()
    runner = await harness.runner(make_sensor([log_trigger("t", "dep-a")]), {"log": driver})
    last = 0
    for n in range(20):
        last = await harness.publish("a", {"n": n})
    while runner.processed_offset < last:
        await asyncio.sleep(0.01)
    driver.block.set()
    await runner.wait_idle(last)
    assert fired(driver) == [("t", {"dep-a": {"n": n}}) for n in range(20)]
    assert gets == []


async def test_past_the_hand_over_limit_firings_wait_in_the_store(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trigger that falls far behind keeps at most MAX_HANDED firings in memory; the rest are
    read back from the store, and every firing still fires once, in order."""
    monkeypatch.setattr("sensors.runtime.MAX_HANDED", 3)
    reads: list[str] = []
    read_pending = FiringStore.pending

    async def counted(self: FiringStore, *args: Any, **kwargs: Any) -> Any:
        reads.append("read")
        return await read_pending(self, *args, **kwargs)

    monkeypatch.setattr(FiringStore, "pending", counted)
    driver = RecordingDriver()
    driver.block = asyncio.Event()
    runner = await harness.runner(make_sensor([log_trigger("t", "dep-a")]), {"log": driver})
    first = await harness.publish("a", {"n": 0})
    while driver.attempts == 0:  # the worker holds the first firing
        await asyncio.sleep(0.01)
    last = first
    for n in range(1, 10):
        last = await harness.publish("a", {"n": n})
    while runner.processed_offset < last:
        await asyncio.sleep(0.01)
    reads_before = len(reads)
    driver.block.set()
    await runner.wait_idle(last)
    assert fired(driver) == [("t", {"dep-a": {"n": n}}) for n in range(10)]
    assert len(reads) > reads_before  # the ones past the limit came from the store
    assert await FiringStore(harness.engine).pending("default", "s") == []


async def test_replacing_a_sensor_keeps_the_group_offset(harness: Harness) -> None:
    driver = RecordingDriver()
    old = await harness.runner(make_sensor([log_trigger("t", "dep-a")]), {"log": driver})
    offset = await harness.publish("a", {"n": 1})
    await old.wait_idle(offset)
    await old.stop()

    replacement = make_sensor([log_trigger("t2", "dep-a || dep-b")])
    new = await harness.runner(replacement, {"log": driver})
    last = await harness.publish("b", {"n": 2})
    await new.wait_idle(last)
    assert fired(driver) == [("t", {"dep-a": {"n": 1}}), ("t2", {"dep-b": {"n": 2}})]


# ---------------------------------------------------------------- retries, DLQ, rate limit


async def test_retry_strategy_backs_off_exponentially(harness: Harness) -> None:
    driver = RecordingDriver(fail=2)
    trigger = log_trigger(
        "t", "dep-a", retryStrategy={"steps": 4, "duration": "1s", "factor": 2, "jitter": 0}
    )
    runner = await harness.runner(make_sensor([trigger]), {"log": driver})
    last = await harness.publish("a")
    await runner.wait_idle(last)
    assert harness.clock.sleeps == [1.0, 2.0]
    (record,) = await FiringStore(harness.engine).list("default", "s")
    assert (record.status, record.attempts) == ("succeeded", 3)


async def test_jitter_and_defaults(harness: Harness) -> None:
    driver = RecordingDriver(fail=10)
    trigger = log_trigger("t", "dep-a", retryStrategy={"steps": 3, "duration": "2s"})
    runner = await harness.runner(make_sensor([trigger]), {"log": driver}, random_fraction=lambda: 0.5)
    last = await harness.publish("a")
    await runner.wait_idle(last)
    assert harness.clock.sleeps == [3.0, 3.0]  # factor 1, jitter 1: d + 0.5 * d
    (record,) = await FiringStore(harness.engine).list("default", "s")
    assert (record.status, record.attempts, record.error) == ("failed", 3, "attempt 3 failed")


async def test_no_retry_strategy_means_one_attempt_and_non_retryable_errors_stop(harness: Harness) -> None:
    once = RecordingDriver(fail=1)
    fatal = RecordingDriver("http", fail=5, retryable=False)
    runner = await harness.runner(
        make_sensor(
            [
                log_trigger("once", "dep-a"),
                {
                    "template": {"name": "fatal", "conditions": "dep-a", "http": {"url": "http://x"}},
                    "retryStrategy": {"steps": 5},
                },
            ]
        ),
        {"log": once, "http": fatal},
    )
    last = await harness.publish("a")
    await runner.wait_idle(last)
    assert (once.attempts, fatal.attempts) == (1, 1)
    statuses = {
        r.trigger: (r.status, r.attempts) for r in await FiringStore(harness.engine).list("default", "s")
    }
    assert statuses == {"once": ("failed", 1), "fatal": ("failed", 1)}


async def test_dead_letter_trigger_after_retries(harness: Harness) -> None:
    main = RecordingDriver(fail=-1)  # always fails
    dlq = RecordingDriver("http")
    trigger = log_trigger(
        "t",
        "dep-a",
        atLeastOnce=True,
        retryStrategy={"steps": 2, "duration": "1s", "jitter": 0},
        dlqTrigger={"template": {"name": "to-dlq", "http": {"url": "http://dlq"}}, "atLeastOnce": True},
    )
    runner = await harness.runner(make_sensor([trigger]), {"log": main, "http": dlq})
    last = await harness.publish("a", {"n": 1})
    await runner.wait_idle(last)
    assert main.attempts == 2
    assert fired(dlq) == [("to-dlq", {"dep-a": {"n": 1}})]
    (record,) = await FiringStore(harness.engine).list("default", "s")
    assert record.status == "dead-lettered"
    assert record.result == {"dlqTrigger": "to-dlq", "n": 1}
    assert record.error == "attempt 2 failed"
    assert dlq.fired[0][1].firing_key != record.key


async def test_failing_dead_letter_trigger_marks_the_firing_failed(harness: Harness) -> None:
    trigger = log_trigger(
        "t",
        "dep-a",
        atLeastOnce=True,
        dlqTrigger={"template": {"name": "to-dlq", "http": {"url": "http://dlq"}}, "atLeastOnce": True},
    )
    runner = await harness.runner(
        make_sensor([trigger]), {"log": RecordingDriver(fail=-1), "http": RecordingDriver("http", fail=-1)}
    )
    last = await harness.publish("a")
    await runner.wait_idle(last)
    (record,) = await FiringStore(harness.engine).list("default", "s")
    assert record.status == "failed"
    assert record.error == "attempt 1 failed; dlqTrigger to-dlq: attempt 1 failed"


async def test_rate_limit_spaces_firings(harness: Harness) -> None:
    driver = RecordingDriver()
    trigger = log_trigger("t", "dep-a", rateLimit={"unit": "Minute", "requestsPerUnit": 4})
    runner = await harness.runner(make_sensor([trigger]), {"log": driver})
    last = 0
    for n in range(5):
        last = await harness.publish("a", {"n": n})
    await runner.wait_idle(last)
    assert len(driver.fired) == 5
    assert harness.clock.sleeps == [15.0] * 4


async def test_rate_limiter_allows_slack_after_idle_time() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, 1.0, clock)
    await limiter.take()
    clock.advance(100)  # idle: at most 10 requests of slack accumulate
    for _ in range(11):
        await limiter.take()
    assert clock.sleeps == []
    await limiter.take()
    assert clock.sleeps == [1.0]


async def test_status_policy_turns_responses_into_failures(harness: Harness) -> None:
    class Status:
        kind = "http"

        async def fire(self, spec: Any, firing: Any) -> Any:
            from triggers.base import FireResult

            return FireResult({"status": 503})

    trigger = {
        "template": {"name": "h", "conditions": "dep-a", "http": {"url": "http://x"}},
        "policy": {"status": {"allow": [200, 201]}},
    }
    runner = await harness.runner(make_sensor([trigger]), {"http": Status()})
    last = await harness.publish("a")
    await runner.wait_idle(last)
    (record,) = await FiringStore(harness.engine).list("default", "s")
    assert record.status == "failed"
    assert record.error == "policy application resulted in failure. http response status 503 is not allowed"


# ---------------------------------------------------------------- replicas (firing claims)


def replica(name: str, lease_seconds: float = 30.0) -> OwnershipSettings:
    return OwnershipSettings(name, lease_seconds=lease_seconds, scan_interval_seconds=0.05)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_two_replicas_fire_each_firing_once(harness: Harness) -> None:
    """Both replicas read every event and see every pending firing; claims let one of them fire it."""
    driver = RecordingDriver()
    sensor = make_sensor([log_trigger("t", "dep-a")])
    replicas = [await harness.runner(sensor, {"log": driver}, cluster=replica(name)) for name in "ab"]
    offsets = [await harness.publish("a", {"n": n}) for n in range(100)]
    for runner in replicas:
        await runner.wait_idle(offsets[-1])
    assert sorted(data["dep-a"]["n"] for _, data in fired(driver)) == list(range(100))
    assert await FiringStore(harness.engine).pending("default", "s") == []


async def test_a_replica_fires_what_it_creates_without_claiming_it_first(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Firings are created claimed by the replica that creates them: it fires them with no claim
    round trip, and another replica leaves them alone."""
    asked: list[int] = []
    claim = FiringStore.claim

    async def counted(self: FiringStore, firing_ids: Any, *args: Any) -> set[int]:
        asked.extend(firing_ids)
        return await claim(self, firing_ids, *args)

    monkeypatch.setattr(FiringStore, "claim", counted)
    driver = RecordingDriver()
    sensor = make_sensor([log_trigger("t", "dep-a")])
    runner = await harness.runner(sensor, {"log": driver}, cluster=replica("a", lease_seconds=60))
    offsets = [await harness.publish("a", {"n": n}) for n in range(40)]
    await runner.wait_idle(offsets[-1])
    assert [data["dep-a"]["n"] for _, data in fired(driver)] == list(range(40))
    assert asked == []
    assert await FiringStore(harness.engine).pending("default", "s") == []


async def test_a_creation_claim_half_a_lease_old_is_renewed_before_firing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Firings that waited half a lease behind a slow one are claimed again before they fire (their
    creation claim may be about to lapse, and another replica to take them)."""
    asked: list[int] = []
    claim = FiringStore.claim

    async def counted(self: FiringStore, firing_ids: Any, *args: Any) -> set[int]:
        asked.extend(firing_ids)
        return await claim(self, firing_ids, *args)

    monkeypatch.setattr(FiringStore, "claim", counted)
    driver = RecordingDriver()
    driver.block = asyncio.Event()
    sensor = make_sensor([log_trigger("t", "dep-a")])
    runner = await harness.runner(sensor, {"log": driver}, cluster=replica("a", lease_seconds=60))
    await harness.publish("a", {"n": 0})
    await until(lambda: driver.attempts == 1)
    offsets = [await harness.publish("a", {"n": n}) for n in range(1, 4)]
    while runner.processed_offset < offsets[-1]:
        await asyncio.sleep(0.01)
    harness.clock.advance(31)
    driver.block.set()
    await runner.wait_idle(offsets[-1])
    assert [data["dep-a"]["n"] for _, data in fired(driver)] == [0, 1, 2, 3]
    waited = [
        r.id
        for r in await FiringStore(harness.engine).list("default", "s")
        if r.event_offsets["dep-a"] in offsets
    ]
    assert sorted(asked) == sorted(waited)


async def test_a_dead_replicas_claimed_firings_fire_elsewhere_after_expiry(harness: Harness) -> None:
    """A replica that stops mid-firing leaves its firings pending and claimed; another replica fires
    them once the claims expire (it looks for them every scan interval, with nothing to wake it)."""
    stuck = RecordingDriver()
    stuck.block = asyncio.Event()
    sensor = make_sensor([log_trigger("t", "dep-a")])
    dead = await harness.runner(sensor, {"log": stuck}, cluster=replica("dead", lease_seconds=0.3))
    for n in range(3):
        await harness.publish("a", {"n": n})
    await until(lambda: stuck.attempts == 3)
    await dead.stop()
    survivor_driver = RecordingDriver()
    survivor = await harness.runner(sensor, {"log": survivor_driver}, cluster=replica("survivor"))
    await until(lambda: len(survivor_driver.fired) == 3)
    await survivor.wait_idle()
    assert sorted(data["dep-a"]["n"] for _, data in fired(survivor_driver)) == [0, 1, 2]
    assert stuck.fired == []


async def test_a_slow_firing_keeps_its_claim(harness: Harness) -> None:
    """A firing that takes longer than the lease is renewed, so the other replica never takes it."""
    slow = RecordingDriver()
    slow.block = asyncio.Event()
    other = RecordingDriver()
    sensor = make_sensor([log_trigger("t", "dep-a")])
    holder = await harness.runner(sensor, {"log": slow}, cluster=replica("holder", lease_seconds=0.2))
    await harness.publish("a", {"n": 1})
    await until(lambda: slow.attempts == 1)
    await harness.runner(sensor, {"log": other}, cluster=replica("other"))
    await asyncio.sleep(0.6)  # three leases: the other replica scans a dozen times meanwhile
    slow.block.set()
    await holder.wait_idle()
    assert (len(slow.fired), other.fired) == (1, [])


# ---------------------------------------------------------------- isolation


async def test_a_stuck_trigger_does_not_block_others_or_other_sensors(harness: Harness) -> None:
    stuck = RecordingDriver("http")
    stuck.block = asyncio.Event()
    logs = RecordingDriver()
    sensor = make_sensor(
        [
            {"template": {"name": "slow", "conditions": "dep-a", "http": {"url": "http://x"}}},
            log_trigger("fast", "dep-a"),
        ]
    )
    other = make_sensor([log_trigger("other", "dep-a")], name="other-sensor")
    first = await harness.runner(sensor, {"http": stuck, "log": logs})
    second = await harness.runner(other, {"log": logs})
    offsets = [await harness.publish("a", {"n": n}) for n in range(3)]
    await second.wait_idle(offsets[-1])
    for _ in range(200):
        if len(logs.fired) == 6:
            break
        await asyncio.sleep(0.01)
    assert sorted(trigger for trigger, _ in fired(logs)) == ["fast"] * 3 + ["other"] * 3
    assert first.processed_offset == offsets[-1]  # consumption went on while "slow" waits
    stuck.block.set()
    await first.wait_idle(offsets[-1])
    assert len(stuck.fired) == 3


# ---------------------------------------------------------------- conditionsReset


async def test_conditions_reset_drops_partial_matches_from_before_the_tick(harness: Harness) -> None:
    driver = RecordingDriver()
    trigger = {
        "template": {
            "name": "t",
            "conditions": "dep-a && dep-b",
            "conditionsReset": [{"byTime": {"cron": "0 0 * * *", "timezone": "UTC"}}],
            "log": {},
        }
    }
    runner = await harness.runner(make_sensor([trigger]), {"log": driver})
    await harness.publish("a", {"n": 1})  # appended at T0 = 12:00
    harness.clock.advance(13 * 3600)  # past midnight
    harness.bus.clock_now = T0 + timedelta(hours=13)
    last = await harness.publish("b", {"n": 2})
    await runner.wait_idle(last)
    assert driver.fired == []
    assert await partial_matches(harness.engine, "default", "s") == {"t": {"dep-b": last}}
    last = await harness.publish("a", {"n": 3})
    await runner.wait_idle(last)
    assert fired(driver) == [("t", {"dep-a": {"n": 3}, "dep-b": {"n": 2}})]


async def test_a_restart_after_a_tick_starts_clean(harness: Harness) -> None:
    trigger = {
        "template": {
            "name": "t",
            "conditions": "dep-a && dep-b",
            "conditionsReset": [{"byTime": {"cron": "0 * * * *"}}],
            "log": {},
        }
    }
    sensor = make_sensor([trigger])
    first = await harness.runner(sensor, {"log": RecordingDriver()})
    offset = await harness.publish("a")
    await first.wait_idle(offset)
    await first.stop()
    harness.clock.advance(3600)
    await harness.runner(sensor, {"log": RecordingDriver()})
    assert await partial_matches(harness.engine, "default", "s") == {}


# ---------------------------------------------------------------- weights and misc


async def test_weighted_triggers_share_events(harness: Harness) -> None:
    driver = RecordingDriver()
    sensor = make_sensor([log_trigger("heavy", "dep-a", weight=3), log_trigger("light", "dep-a", weight=1)])
    runner = await harness.runner(sensor, {"log": driver})
    last = 0
    for n in range(40):
        last = await harness.publish("a", {"n": n})
    await runner.wait_idle(last)
    counts = {name: sum(1 for t, _ in fired(driver) if t == name) for name in ("heavy", "light")}
    assert counts["heavy"] + counts["light"] == 40
    assert counts["heavy"] > counts["light"] > 0


async def test_a_failing_bus_subscription_is_opened_again(harness: Harness) -> None:
    class BrokenSubscription(MemorySubscription):
        async def _iterate(self) -> AsyncIterator[Any]:
            raise ConnectionError("bus went away")
            yield

    class FlakyBus(MemoryBus):
        failures = 1

        def subscribe(self, group: str, *, start: Any = "earliest") -> MemorySubscription:
            subscription = super().subscribe(group, start=start)
            if self.failures:
                self.failures -= 1
                return BrokenSubscription(self, group)
            return subscription

    harness.bus = FlakyBus()
    driver = RecordingDriver()
    runner = await harness.runner(make_sensor([log_trigger("t", "dep-a")]), {"log": driver})
    last = await harness.publish("a", {"n": 1})
    await runner.wait_idle(last)
    assert fired(driver) == [("t", {"dep-a": {"n": 1}})]
    assert any("bus went away" in error for error in runner.errors)


async def test_missing_driver_is_refused_at_construction(harness: Harness) -> None:
    with pytest.raises(ValueError, match="no driver for trigger kind 'http'"):
        SensorRunner(
            make_sensor([{"template": {"name": "h", "http": {"url": "http://x"}}}]),
            harness.bus,
            harness.engine,
            {},
        )


async def test_runs_over_the_sqlite_bus(tmp_path: Path) -> None:
    sqlite_bus = pytest.importorskip("triggerfish.bus.sqlite")
    engine = await open_database(sqlite_url(tmp_path))
    bus = sqlite_bus.SqlBus(engine, retention=sqlite_bus.Retention(None, None, check_interval_seconds=0))
    h = Harness(engine, bus)
    try:
        driver = RecordingDriver()
        runner = await h.runner(make_sensor([log_trigger("t", "dep-a && dep-b")]), {"log": driver})
        await h.publish("a", {"n": 1})
        last = await h.publish("b", {"n": 2})
        await runner.wait_idle(last)
        assert fired(driver) == [("t", {"dep-a": {"n": 1}, "dep-b": {"n": 2}})]
    finally:
        await h.close()
        await bus.close()
        await engine.dispose()
