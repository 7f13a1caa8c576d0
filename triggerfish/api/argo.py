"""Every router of the Argo-compatible API, in the order the app includes them."""

from __future__ import annotations

from fastapi import APIRouter

from triggerfish.api import (
    cluster_workflow_templates,
    cron_workflows,
    event_sources,
    info,
    receive_events,
    sensors,
    watch,
    workflow_lifecycle,
    workflow_logs,
    workflow_submit,
    workflow_templates,
    workflows,
)

ROUTERS: list[APIRouter] = [
    workflow_submit.router,
    workflows.router,
    workflow_lifecycle.router,
    workflow_logs.router,
    watch.router,
    workflow_templates.router,
    cluster_workflow_templates.router,
    cron_workflows.router,
    event_sources.router,
    sensors.router,
    receive_events.router,
    info.router,
]
