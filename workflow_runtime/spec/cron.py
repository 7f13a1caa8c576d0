"""Argo's CronWorkflow: a WorkflowSpec started on a schedule."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from workflow_runtime.spec.base import AnyString, ArgoModel, NotSupported, Passive
from workflow_runtime.spec.common import ObjectMeta
from workflow_runtime.spec.workflow import API_VERSION, WorkflowSpec


class WorkflowMetadata(ArgoModel):
    labels: dict[str, AnyString] | None = None
    annotations: dict[str, AnyString] | None = None


class CronWorkflowSpec(ArgoModel):
    workflow_spec: WorkflowSpec
    schedule: str | None = None
    """Deprecated single schedule; ``schedules`` is the list form."""
    schedules: list[str] | None = None
    timezone: str | None = None
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] = "Allow"
    starting_deadline_seconds: int | None = None
    successful_jobs_history_limit: int | None = None
    failed_jobs_history_limit: int | None = None
    suspend: bool | None = None
    workflow_metadata: WorkflowMetadata | None = None
    stop_strategy: NotSupported = None
    when: NotSupported = None

    @model_validator(mode="after")
    def _one_schedule_form(self) -> CronWorkflowSpec:
        if not self.schedule and not self.schedules:
            raise ValueError("schedule or schedules is required")
        if self.schedule and self.schedules:
            raise ValueError("use either schedule or schedules, not both")
        return self

    @property
    def all_schedules(self) -> list[str]:
        return list(self.schedules or []) or [self.schedule or ""]


class CronWorkflow(ArgoModel):
    api_version: str = API_VERSION
    kind: Literal["CronWorkflow"] = "CronWorkflow"
    metadata: ObjectMeta
    spec: CronWorkflowSpec
    status: Passive = None
