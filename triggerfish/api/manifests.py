"""``/api/v1/triggerfish/manifests``: apply and delete any manifest kind (what ``triggerfish apply``
uses). Argo's per-kind endpoints come with the Argo-compatible API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from triggerfish.api.auth import AUTHENTICATED, CurrentPrincipal
from triggerfish.api.errors import ApiError
from triggerfish.hub import Hub
from triggerfish.store.resources import CLUSTER_SCOPE

router = APIRouter(prefix="/api/v1/triggerfish/manifests", tags=["manifests"], dependencies=AUTHENTICATED)


@router.post("")
async def apply_manifest(
    request: Request,
    principal: CurrentPrincipal,
    manifest: Annotated[dict[str, Any], Body()],
    namespace: str | None = None,
) -> dict[str, Any]:
    """Create or update one manifest (EventSource, Sensor, CronWorkflow, WorkflowTemplate,
    ClusterWorkflowTemplate); a Workflow is submitted. Errors name the field (400)."""
    hub: Hub = request.app.state.hub
    scope = hub.manifests.scope_of(manifest, namespace)
    principal.require(None if scope == CLUSTER_SCOPE else scope, write=True)
    applied = await hub.manifests.apply(manifest, namespace=namespace)
    return {
        "kind": applied.kind,
        "namespace": applied.namespace,
        "name": applied.name,
        "action": applied.action,
        "warnings": applied.warnings,
    }


@router.delete("/{kind}/{namespace}/{name}")
async def delete_manifest(
    kind: str, namespace: str, name: str, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    hub: Hub = request.app.state.hub
    if hub.manifests.cluster_scoped(kind):
        principal.require(None, write=True)
    if not await hub.manifests.delete(kind, namespace, name):
        raise ApiError(404, f"{kind} {namespace}/{name} not found")
    return {}
