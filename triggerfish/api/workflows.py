"""``/api/v1/workflows``: create, lint, list, get and delete, as Argo Server's WorkflowService
serves them. Submission from templates, lifecycle commands, logs and watch have their own modules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel

from triggerfish.api import watch
from triggerfish.api.auth import AUTHENTICATED, CurrentPrincipal
from triggerfish.api.common import ListQuery, hub_of, list_query, with_header, workflow_json, workflow_record
from triggerfish.hub import Hub
from workflow_runtime.controller.controller import SubmitOptions
from workflow_runtime.spec.loader import load_workflow
from workflow_runtime.views import workflow_document

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"], dependencies=AUTHENTICATED)


class CreateRequest(BaseModel):
    """``WorkflowCreateRequest``."""

    workflow: dict[str, Any]
    namespace: str | None = None
    serverDryRun: bool = False
    createOptions: dict[str, Any] | None = None


class LintRequest(BaseModel):
    """``WorkflowLintRequest``."""

    workflow: dict[str, Any]
    namespace: str | None = None


@router.post("/{namespace}")
async def create_workflow(
    namespace: str, request: Request, body: Annotated[CreateRequest, Body()]
) -> dict[str, Any]:
    """Validate, store and start a workflow; ``serverDryRun`` validates only."""
    hub = hub_of(request)
    workflow = load_workflow(with_header(body.workflow, "Workflow"), "workflow")
    options = SubmitOptions(namespace=namespace)
    if body.serverDryRun:
        prepared, _, _ = await hub.controller.prepare(workflow, options)
        return prepared.to_argo()
    record = await hub.controller.submit(workflow, options)
    return workflow_document(record, [])


@router.post("/{namespace}/lint")
async def lint_workflow(
    namespace: str, request: Request, body: Annotated[LintRequest, Body()]
) -> dict[str, Any]:
    """Argo's lint rules (references to stored templates included); returns the workflow, or 400
    with every problem in ``details``."""
    hub = hub_of(request)
    workflow = load_workflow(with_header(body.workflow, "Workflow"), "workflow")
    workflow.metadata.namespace = workflow.metadata.namespace or namespace
    await hub.controller.prepare(workflow, SubmitOptions(namespace=namespace))
    return workflow.to_argo()


async def _list(hub: Hub, namespace: str | None, query: ListQuery) -> list[dict[str, Any]]:
    return [workflow_document(r) for r in await hub.workflows.find(namespace)]


@router.get("/{namespace}")
async def list_workflows(
    namespace: str, request: Request, query: Annotated[ListQuery, Depends(list_query)]
) -> dict[str, Any]:
    """Newest first, without ``status.nodes``."""
    return query.page(await _list(hub_of(request), namespace, query))


@router.get("/", include_in_schema=False)
async def list_workflows_in_all_namespaces(
    request: Request, principal: CurrentPrincipal, query: Annotated[ListQuery, Depends(list_query)]
) -> dict[str, Any]:
    """What ``argo list -A`` asks for (an empty namespace): the namespaces the caller may read."""
    documents = await _list(hub_of(request), None, query)
    return query.page([d for d in documents if principal.reaches(d["metadata"]["namespace"])])


@router.get("/{namespace}/{name}")
async def get_workflow(namespace: str, name: str, request: Request) -> dict[str, Any]:
    hub = hub_of(request)
    return await workflow_json(hub, await workflow_record(hub, namespace, name))


@router.delete("/{namespace}/{name}")
async def delete_workflow(namespace: str, name: str, request: Request) -> dict[str, Any]:
    """A running workflow is terminated first (its steps are killed)."""
    hub = hub_of(request)
    record = await workflow_record(hub, namespace, name)
    run = hub.controller.runs.get(record.uid)
    if run is not None and not run.phase.completed:
        hub.controller.stop(record.uid, "Terminate")
        await hub.controller.wait(record.uid)
    document = workflow_document(record)
    if await hub.workflows.delete(namespace, name):
        watch.broker(request).deleted(document)
    return {}
