"""``/api/v1/workflow-templates/{namespace}``: Argo's WorkflowTemplateService."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel

from triggerfish.api import manifest_crud as crud
from triggerfish.api.auth import AUTHENTICATED
from triggerfish.api.common import ListQuery, hub_of, list_query

router = APIRouter(
    prefix="/api/v1/workflow-templates", tags=["workflow templates"], dependencies=AUTHENTICATED
)
KIND = crud.WORKFLOW_TEMPLATE


class TemplateRequest(BaseModel):
    """``WorkflowTemplateCreateRequest``, ``...UpdateRequest`` and ``...LintRequest``."""

    template: dict[str, Any]
    namespace: str | None = None
    name: str | None = None
    createOptions: dict[str, Any] | None = None


@router.post("/{namespace}")
async def create_workflow_template(
    namespace: str, request: Request, body: Annotated[TemplateRequest, Body()]
) -> dict[str, Any]:
    return await crud.create(hub_of(request), KIND, namespace, body.template)


@router.post("/{namespace}/lint")
async def lint_workflow_template(
    namespace: str, request: Request, body: Annotated[TemplateRequest, Body()]
) -> dict[str, Any]:
    return crud.lint(hub_of(request), KIND, namespace, body.template)


@router.get("/{namespace}")
async def list_workflow_templates(
    namespace: str,
    request: Request,
    query: Annotated[ListQuery, Depends(list_query)],
    name_pattern: Annotated[
        str | None, Query(alias="namePattern", description="names containing this")
    ] = None,
) -> dict[str, Any]:
    documents = await crud.list_documents(hub_of(request), KIND, namespace)
    if name_pattern:
        documents = [d for d in documents if name_pattern in d["metadata"]["name"]]
    return query.page(documents)


@router.get("/{namespace}/{name}")
async def get_workflow_template(namespace: str, name: str, request: Request) -> dict[str, Any]:
    return await crud.get(hub_of(request), KIND, namespace, name)


@router.put("/{namespace}/{name}")
async def update_workflow_template(
    namespace: str, name: str, request: Request, body: Annotated[TemplateRequest, Body()]
) -> dict[str, Any]:
    return await crud.update(hub_of(request), KIND, namespace, name, body.template)


@router.delete("/{namespace}/{name}")
async def delete_workflow_template(namespace: str, name: str, request: Request) -> dict[str, Any]:
    return await crud.delete(hub_of(request), KIND, namespace, name)
