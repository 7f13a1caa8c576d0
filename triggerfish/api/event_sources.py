"""``/api/v1/event-sources/{namespace}``: Argo Server's EventSourceService, over the hub's own
event sources (an applied EventSource starts serving at once; deleting one stops it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel

from triggerfish.api import manifest_crud as crud
from triggerfish.api.auth import AUTHENTICATED
from triggerfish.api.common import ListQuery, hub_of, list_query

router = APIRouter(prefix="/api/v1/event-sources", tags=["event sources"], dependencies=AUTHENTICATED)
KIND = crud.EVENT_SOURCE


class EventSourceRequest(BaseModel):
    """``CreateEventSourceRequest`` and ``UpdateEventSourceRequest``."""

    eventSource: dict[str, Any]
    namespace: str | None = None
    name: str | None = None


@router.post("/{namespace}")
async def create_event_source(
    namespace: str, request: Request, body: Annotated[EventSourceRequest, Body()]
) -> dict[str, Any]:
    return await crud.create(hub_of(request), KIND, namespace, body.eventSource)


@router.get("/{namespace}")
async def list_event_sources(
    namespace: str, request: Request, query: Annotated[ListQuery, Depends(list_query)]
) -> dict[str, Any]:
    return await crud.page(hub_of(request), KIND, namespace, query)


@router.get("/{namespace}/{name}")
async def get_event_source(namespace: str, name: str, request: Request) -> dict[str, Any]:
    return await crud.get(hub_of(request), KIND, namespace, name)


@router.put("/{namespace}/{name}")
async def update_event_source(
    namespace: str, name: str, request: Request, body: Annotated[EventSourceRequest, Body()]
) -> dict[str, Any]:
    return await crud.update(hub_of(request), KIND, namespace, name, body.eventSource)


@router.delete("/{namespace}/{name}")
async def delete_event_source(namespace: str, name: str, request: Request) -> dict[str, Any]:
    return await crud.delete(hub_of(request), KIND, namespace, name)
