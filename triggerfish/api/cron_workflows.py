"""``/api/v1/cron-workflows/{namespace}``: Argo's CronWorkflowService.

Suspend and resume set ``spec.suspend`` and re-apply the manifest through the registry, which
reschedules it. ``status`` is computed: ``active`` (its running workflows) and ``lastScheduledTime``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel

from triggerfish.api import manifest_crud as crud
from triggerfish.api.auth import AUTHENTICATED
from triggerfish.api.common import ListQuery, hub_of, list_query
from triggerfish.hub import Hub
from triggerfish.schedule import rfc3339
from triggerfish.store.schedules import ScheduleTickStore
from workflow_runtime.cron import ACTIVE, CRON_LABEL, CronScheduler

router = APIRouter(prefix="/api/v1/cron-workflows", tags=["cron workflows"], dependencies=AUTHENTICATED)
KIND = crud.CRON_WORKFLOW


class CronWorkflowRequest(BaseModel):
    """``CreateCronWorkflowRequest``, ``UpdateCronWorkflowRequest`` and ``LintCronWorkflowRequest``."""

    cronWorkflow: dict[str, Any]
    namespace: str | None = None
    name: str | None = None
    createOptions: dict[str, Any] | None = None


async def _with_status(hub: Hub, document: dict[str, Any]) -> dict[str, Any]:
    namespace, name = document["metadata"]["namespace"], document["metadata"]["name"]
    runs = await hub.workflows.find(namespace, labels={CRON_LABEL: name}, phases=ACTIVE)
    status: dict[str, Any] = {
        "active": [
            {
                "kind": "Workflow",
                "apiVersion": "argoproj.io/v1alpha1",
                "namespace": namespace,
                "name": r.name,
                "uid": r.uid,
            }
            for r in runs
        ]
    }
    last = await ScheduleTickStore(hub.engine).last_tick(CronScheduler.key(namespace, name))
    if last is not None:
        status["lastScheduledTime"] = rfc3339(last)
    return {**document, "status": status}


async def _set_suspend(request: Request, namespace: str, name: str, suspend: bool) -> dict[str, Any]:
    hub = hub_of(request)
    current = await crud.get(hub, KIND, namespace, name)
    spec = {**current.get("spec", {}), "suspend": suspend}
    updated = await crud.update(hub, KIND, namespace, name, {**current, "spec": spec})
    return await _with_status(hub, updated)


@router.post("/{namespace}")
async def create_cron_workflow(
    namespace: str, request: Request, body: Annotated[CronWorkflowRequest, Body()]
) -> dict[str, Any]:
    hub = hub_of(request)
    return await _with_status(hub, await crud.create(hub, KIND, namespace, body.cronWorkflow))


@router.post("/{namespace}/lint")
async def lint_cron_workflow(
    namespace: str, request: Request, body: Annotated[CronWorkflowRequest, Body()]
) -> dict[str, Any]:
    return crud.lint(hub_of(request), KIND, namespace, body.cronWorkflow)


@router.get("/{namespace}")
async def list_cron_workflows(
    namespace: str, request: Request, query: Annotated[ListQuery, Depends(list_query)]
) -> dict[str, Any]:
    hub = hub_of(request)
    listed = await crud.page(hub, KIND, namespace, query)
    listed["items"] = [await _with_status(hub, item) for item in listed["items"]]
    return listed


@router.get("/{namespace}/{name}")
async def get_cron_workflow(namespace: str, name: str, request: Request) -> dict[str, Any]:
    hub = hub_of(request)
    return await _with_status(hub, await crud.get(hub, KIND, namespace, name))


@router.put("/{namespace}/{name}")
async def update_cron_workflow(
    namespace: str, name: str, request: Request, body: Annotated[CronWorkflowRequest, Body()]
) -> dict[str, Any]:
    hub = hub_of(request)
    return await _with_status(hub, await crud.update(hub, KIND, namespace, name, body.cronWorkflow))


@router.delete("/{namespace}/{name}")
async def delete_cron_workflow(namespace: str, name: str, request: Request) -> dict[str, Any]:
    return await crud.delete(hub_of(request), KIND, namespace, name)


@router.put("/{namespace}/{name}/suspend")
async def suspend_cron_workflow(namespace: str, name: str, request: Request) -> dict[str, Any]:
    """No more runs start until it is resumed."""
    return await _set_suspend(request, namespace, name, True)


@router.put("/{namespace}/{name}/resume")
async def resume_cron_workflow(namespace: str, name: str, request: Request) -> dict[str, Any]:
    return await _set_suspend(request, namespace, name, False)
