"""``/api/v1/cluster-workflow-templates``: Argo's ClusterWorkflowTemplateService."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from triggerfish.api import manifest_crud as crud
from triggerfish.api.auth import AUTHENTICATED
from triggerfish.api.common import ListQuery, hub_of, list_query
from triggerfish.api.workflow_templates import TemplateRequest
from triggerfish.store.resources import CLUSTER_SCOPE

router = APIRouter(
    prefix="/api/v1/cluster-workflow-templates",
    tags=["cluster workflow templates"],
    dependencies=AUTHENTICATED,
)
KIND = crud.CLUSTER_WORKFLOW_TEMPLATE
SCOPE = CLUSTER_SCOPE


@router.post("")
async def create_cluster_workflow_template(
    request: Request, body: Annotated[TemplateRequest, Body()]
) -> dict[str, Any]:
    return await crud.create(hub_of(request), KIND, SCOPE, body.template)


@router.post("/lint")
async def lint_cluster_workflow_template(
    request: Request, body: Annotated[TemplateRequest, Body()]
) -> dict[str, Any]:
    return crud.lint(hub_of(request), KIND, SCOPE, body.template)


@router.get("")
async def list_cluster_workflow_templates(
    request: Request, query: Annotated[ListQuery, Depends(list_query)]
) -> dict[str, Any]:
    return await crud.page(hub_of(request), KIND, SCOPE, query)


@router.get("/{name}")
async def get_cluster_workflow_template(name: str, request: Request) -> dict[str, Any]:
    return await crud.get(hub_of(request), KIND, SCOPE, name)


@router.put("/{name}")
async def update_cluster_workflow_template(
    name: str, request: Request, body: Annotated[TemplateRequest, Body()]
) -> dict[str, Any]:
    return await crud.update(hub_of(request), KIND, SCOPE, name, body.template)


@router.delete("/{name}")
async def delete_cluster_workflow_template(name: str, request: Request) -> dict[str, Any]:
    return await crud.delete(hub_of(request), KIND, SCOPE, name)
