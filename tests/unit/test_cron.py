"""CronWorkflow scheduling with a controllable clock and the real controller over a fake executor."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.clock import FakeClock
from triggerfish.store.resources import ResourceStore
from triggerfish.store.schedules import ScheduleTickStore
from triggerfish.store.workflows import WorkflowStore
from workflow_runtime.controller.controller import Controller
from workflow_runtime.cron import CRON_LABEL, CronScheduler
from workflow_runtime.spec.cron import CronWorkflow
from workflow_runtime.spec.errors import ManifestError

T0 = datetime(2024, 3, 9, 12, 0, 30, tzinfo=UTC)


def cron(name: str = "nightly", **spec: Any) -> CronWorkflow:
    return CronWorkflow.model_validate(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "CronWorkflow",
            "metadata": {"name": name},
            "spec": {
                "schedule": "* * * * *",
                **spec,
                "workflowSpec": {
                    "entrypoint": "main",
                    "templates": [
                        {
                            "name": "main",
                            "container": {
                                "image": "busybox",
                                "command": ["echo", "{{workflow.scheduledTime}}"],
                            },
                        }
                    ],
                },
            },
        }
    )


@pytest.fixture
async def scheduler(
    controller: Controller, stores: tuple[WorkflowStore, ResourceStore]
) -> AsyncIterator[tuple[CronScheduler, FakeClock, ScheduleTickStore]]:
    clock = FakeClock(T0)
    ticks = ScheduleTickStore(controller.workflows._engine)
    scheduler = CronScheduler(controller, ticks, clock)
    yield scheduler, clock, ticks
    await scheduler.close()


async def runs(controller: Controller, name: str = "nightly") -> list[str]:
    return sorted(r.name for r in await controller.workflows.find("default", labels={CRON_LABEL: name}))


async def eventually(condition: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    async def wait() -> None:
        while not await condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), timeout)


async def test_each_tick_starts_one_run_named_after_the_scheduled_time(
    controller: Controller, scheduler: tuple[CronScheduler, FakeClock, ScheduleTickStore]
) -> None:
    cron_scheduler, clock, _ = scheduler
    await cron_scheduler.apply(cron(), "default")
    due = await clock.idle()
    assert due == datetime(2024, 3, 9, 12, 1, tzinfo=UTC)
    await clock.advance_to(due)
    await eventually(lambda: _count(controller, 1))
    record = (await controller.workflows.find("default", labels={CRON_LABEL: "nightly"}))[0]
    assert record.name == f"nightly-{int(due.timestamp())}"
    phase = await controller.wait(record.uid)
    assert phase == "Succeeded"
    run = controller.runs[record.uid]
    assert run.globals["workflow.scheduledTime"] == "2024-03-09T12:01:00Z"


async def _count(controller: Controller, n: int) -> bool:
    return len(await runs(controller)) >= n


async def test_forbid_skips_a_tick_while_a_run_is_active(
    controller: Controller, scheduler: tuple[CronScheduler, FakeClock, ScheduleTickStore], fake_executor: Any
) -> None:
    from tests.support.fake_executor import Outcome

    fake_executor.behaviour = lambda spec: Outcome(seconds=60)  # the first run stays active
    cron_scheduler, clock, _ = scheduler
    await cron_scheduler.apply(cron(concurrencyPolicy="Forbid"), "default")
    await clock.advance_to(await clock.idle())
    await eventually(lambda: _count(controller, 1))
    await clock.advance_to(await clock.idle())
    await clock.idle()  # the second tick has been handled: the scheduler sleeps again
    assert len(await runs(controller)) == 1


async def test_replace_terminates_the_active_run(
    controller: Controller, scheduler: tuple[CronScheduler, FakeClock, ScheduleTickStore], fake_executor: Any
) -> None:
    from tests.support.fake_executor import Outcome

    fake_executor.behaviour = lambda spec: Outcome(seconds=60)
    cron_scheduler, clock, _ = scheduler
    await cron_scheduler.apply(cron(concurrencyPolicy="Replace"), "default")
    await clock.advance_to(await clock.idle())
    await eventually(lambda: _count(controller, 1))
    first = (await controller.workflows.find("default", labels={CRON_LABEL: "nightly"}))[0]
    await clock.advance_to(await clock.idle())
    await eventually(lambda: _count(controller, 2))
    assert await controller.wait(first.uid) == "Failed"
    assert controller.runs[first.uid].message == "Stopped with strategy 'Terminate'"


async def test_suspended_cron_starts_nothing(
    controller: Controller, scheduler: tuple[CronScheduler, FakeClock, ScheduleTickStore]
) -> None:
    cron_scheduler, clock, ticks = scheduler
    await cron_scheduler.apply(cron(suspend=True), "default")
    due = await clock.idle()
    await clock.advance_to(due)
    await clock.idle()
    assert await runs(controller) == []
    assert await ticks.last_tick(CronScheduler.key("default", "nightly")) == due


async def test_after_downtime_only_the_latest_missed_tick_within_the_deadline_runs(
    controller: Controller, scheduler: tuple[CronScheduler, FakeClock, ScheduleTickStore]
) -> None:
    cron_scheduler, clock, ticks = scheduler
    key = CronScheduler.key("default", "nightly")
    await ticks.record_tick(key, T0 - timedelta(minutes=30))  # the hub was down for half an hour
    await cron_scheduler.apply(cron(startingDeadlineSeconds=60), "default")
    await clock.idle()
    assert await runs(controller) == [f"nightly-{int(datetime(2024, 3, 9, 12, 0, tzinfo=UTC).timestamp())}"]


async def test_a_missed_tick_beyond_the_deadline_is_skipped(
    controller: Controller, scheduler: tuple[CronScheduler, FakeClock, ScheduleTickStore]
) -> None:
    cron_scheduler, clock, ticks = scheduler
    await ticks.record_tick(CronScheduler.key("default", "nightly"), T0 - timedelta(minutes=30))
    await cron_scheduler.apply(cron(startingDeadlineSeconds=10), "default")  # 12:00:00 is 30 s late
    await clock.idle()
    assert await runs(controller) == []


async def test_history_limits_delete_the_oldest_finished_runs(
    controller: Controller, scheduler: tuple[CronScheduler, FakeClock, ScheduleTickStore]
) -> None:
    cron_scheduler, clock, _ = scheduler
    await cron_scheduler.apply(cron(successfulJobsHistoryLimit=2), "default")
    for _ in range(5):  # each tick keeps the 2 newest finished runs, then starts one
        due = await clock.idle()
        await clock.advance_to(due)
        await eventually(functools.partial(_finished, controller, f"nightly-{int(due.timestamp())}"))
    minutes = [int(datetime(2024, 3, 9, 12, m, tzinfo=UTC).timestamp()) for m in (3, 4, 5)]
    assert await runs(controller) == [f"nightly-{t}" for t in minutes]


async def _finished(controller: Controller, name: str) -> bool:
    record = await controller.workflows.get("default", name)
    return record is not None and record.phase == "Succeeded"


def test_an_invalid_schedule_names_the_field() -> None:
    with pytest.raises(ManifestError) as caught:
        from workflow_runtime.cron import schedules_of

        schedules_of(cron(schedules=["* * * *"], schedule=None))
    assert caught.value.issues[0].path == "spec.schedules[0]"
