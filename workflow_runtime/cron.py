"""CronWorkflows: start a run at every tick of their schedules, as Argo's cron controller does.

* Run names are ``<cron name>-<unix seconds of the scheduled time>``, so a tick can only ever
  create one run (a restart or a second look at the same tick finds the name taken).
* ``concurrencyPolicy``: Allow starts regardless; Forbid skips a tick while a run is active;
  Replace terminates the active runs first.
* ``startingDeadlineSeconds``: a tick is only started that late (after downtime, the most recent
  missed tick is started if it is within the deadline, like Argo; older ones are skipped).
* ``suspend`` skips ticks; history limits keep the newest ``successfulJobsHistoryLimit`` (3) and
  ``failedJobsHistoryLimit`` (1) finished runs.
* The last handled tick is kept in ``schedule_ticks`` under ``cron/<namespace>/<name>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from triggerfish.schedule import Clock, Schedule, ScheduleError, SystemClock, rfc3339
from triggerfish.store.schedules import ScheduleTickStore
from triggerfish.store.workflows import AlreadyExists, WorkflowRecord
from workflow_runtime.controller.controller import Controller, SubmitOptions
from workflow_runtime.spec.common import ObjectMeta
from workflow_runtime.spec.cron import CronWorkflow
from workflow_runtime.spec.errors import Issue, ManifestError, issues_from_validation
from workflow_runtime.spec.workflow import Workflow
from workflow_runtime.validation import validate_workflow

log = logging.getLogger(__name__)

CRON_LABEL = "workflows.argoproj.io/cron-workflow"
SCHEDULED_ANNOTATION = "workflows.argoproj.io/scheduled-time"
ACTIVE = ("Pending", "Running")
SUCCESS_HISTORY, FAILURE_HISTORY = 3, 1


def load_cron_workflow(doc: dict[str, Any]) -> CronWorkflow:
    """Validate a CronWorkflow manifest, its schedules and its workflowSpec (with Argo's lint)."""
    try:
        cron = CronWorkflow.model_validate(doc)
    except ValidationError as exc:
        raise ManifestError(issues_from_validation(exc)) from exc
    schedules_of(cron)
    probe = Workflow(metadata=cron.metadata, spec=cron.spec.workflow_spec)
    issues = validate_workflow(probe)
    if issues:
        raise ManifestError(
            [Issue(i.path.replace("spec.", "spec.workflowSpec.", 1), i.reason) for i in issues]
        )
    return cron


def schedules_of(cron: CronWorkflow) -> list[Schedule]:
    """The cron's schedules; ManifestError naming the field if one cannot be parsed."""
    out = []
    field = "spec.schedules" if cron.spec.schedules else "spec.schedule"
    for index, expression in enumerate(cron.spec.all_schedules):
        try:
            out.append(Schedule.cron(expression, cron.spec.timezone))
        except ScheduleError as exc:
            path = f"{field}[{index}]" if cron.spec.schedules else field
            raise ManifestError([Issue(path, str(exc))]) from exc
    return out


class CronScheduler:
    def __init__(self, controller: Controller, ticks: ScheduleTickStore, clock: Clock | None = None) -> None:
        self._controller = controller
        self._ticks = ticks
        self._clock = clock or SystemClock()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @staticmethod
    def key(namespace: str, name: str) -> str:
        return f"cron/{namespace}/{name}"

    async def apply(self, cron: CronWorkflow, namespace: str) -> None:
        """(Re)start the schedule of a CronWorkflow; validation errors raise before anything stops."""
        schedules = schedules_of(cron)
        key = self.key(namespace, cron.metadata.name or "")
        await self._cancel(key)
        self._tasks[key] = asyncio.create_task(self._run(cron, namespace, schedules), name=key)

    async def delete(self, namespace: str, name: str) -> None:
        await self._cancel(self.key(namespace, name))

    async def close(self) -> None:
        for key in list(self._tasks):
            await self._cancel(key)

    async def _cancel(self, key: str) -> None:
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, cron: CronWorkflow, namespace: str, schedules: list[Schedule]) -> None:
        key = self.key(namespace, cron.metadata.name or "")
        last = await self._ticks.last_tick(key)
        now = self._clock.now()
        if last is not None:
            missed = [t for s in schedules if (t := s.previous_before(now + timedelta(microseconds=1)))]
            latest = max((t for t in missed if t > last), default=None)
            if latest is not None:
                await self._tick(cron, namespace, latest)
        while True:
            now = self._clock.now()
            due = min(s.next_after(now) for s in schedules)
            while self._clock.now() < due:  # sleeps may end early (capped); only the time decides
                await self._clock.sleep_until(due)
            await self._tick(cron, namespace, due)

    async def _tick(self, cron: CronWorkflow, namespace: str, tick: datetime) -> None:
        name = cron.metadata.name or ""
        key = self.key(namespace, name)
        try:
            await self._start(cron, namespace, tick)
        except Exception:  # one bad tick must not end the schedule
            log.exception("CronWorkflow %s/%s: tick %s failed", namespace, name, rfc3339(tick))
        await self._ticks.record_tick(key, tick)

    async def _start(self, cron: CronWorkflow, namespace: str, tick: datetime) -> None:
        spec, name = cron.spec, cron.metadata.name or ""
        late = (self._clock.now() - tick).total_seconds()
        if spec.starting_deadline_seconds is not None and late > spec.starting_deadline_seconds:
            log.info(
                "CronWorkflow %s/%s: tick %s missed its starting deadline", namespace, name, rfc3339(tick)
            )
            return
        if spec.suspend:
            return
        runs = await self._controller.workflows.find(namespace, labels={CRON_LABEL: name})
        active = [r for r in runs if r.phase in ACTIVE]
        if active and spec.concurrency_policy == "Forbid":
            log.info("CronWorkflow %s/%s: tick skipped, a run is active (Forbid)", namespace, name)
            return
        if active and spec.concurrency_policy == "Replace":
            for record in active:
                if record.uid in self._controller.runs:
                    self._controller.stop(record.uid, "Terminate")
                    await self._controller.wait(record.uid)
        await self._trim_history(cron, namespace, runs)
        metadata = spec.workflow_metadata
        workflow = Workflow(
            metadata=ObjectMeta(
                name=f"{name}-{int(tick.timestamp())}",
                namespace=namespace,
                labels={**(metadata.labels if metadata and metadata.labels else {}), CRON_LABEL: name},
                annotations={
                    **(metadata.annotations if metadata and metadata.annotations else {}),
                    SCHEDULED_ANNOTATION: rfc3339(tick),
                },
            ),
            spec=spec.workflow_spec,
        )
        with contextlib.suppress(AlreadyExists):  # this tick was started before a restart
            await self._controller.submit(workflow, SubmitOptions(namespace=namespace))

    async def _trim_history(self, cron: CronWorkflow, namespace: str, runs: list[WorkflowRecord]) -> None:
        limits = {
            "Succeeded": cron.spec.successful_jobs_history_limit,
            "Failed": cron.spec.failed_jobs_history_limit,
        }
        defaults = {"Succeeded": SUCCESS_HISTORY, "Failed": FAILURE_HISTORY}
        for phase in ("Succeeded", "Failed"):
            limit = limits[phase] if limits[phase] is not None else defaults[phase]
            finished = sorted(
                (r for r in runs if r.phase == phase or (phase == "Failed" and r.phase == "Error")),
                key=lambda r: r.finished_at or r.created_at,
                reverse=True,
            )
            for record in finished[limit:]:
                await self._controller.workflows.delete(namespace, record.name)
