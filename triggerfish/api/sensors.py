"""``/api/v1/sensors/{namespace}``: Argo Server's SensorService, over the hub's own
sensors (an applied Sensor starts consuming the bus at once; a changed one is replaced in place)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel

from triggerfish.api import manifest_crud as crud
from triggerfish.api.auth import AUTHENTICATED
from triggerfish.api.common import ListQuery, hub_of, list_query

router = APIRouter(prefix="/api/v1/sensors", tags=["sensors"], dependencies=AUTHENTICATED)
KIND = crud.SENSOR


class SensorRequest(BaseModel):
    """``CreateSensorRequest`` and ``UpdateSensorRequest``."""

    sensor: dict[str, Any]
    namespace: str | None = None
    name: str | None = None


@router.post("/{namespace}")
async def create_sensor(
    namespace: str, request: Request, body: Annotated[SensorRequest, Body()]
) -> dict[str, Any]:
    return await crud.create(hub_of(request), KIND, namespace, body.sensor)


@router.get("/{namespace}")
async def list_sensors(
    namespace: str, request: Request, query: Annotated[ListQuery, Depends(list_query)]
) -> dict[str, Any]:
    return await crud.page(hub_of(request), KIND, namespace, query)


@router.get("/{namespace}/{name}")
async def get_sensor(namespace: str, name: str, request: Request) -> dict[str, Any]:
    return await crud.get(hub_of(request), KIND, namespace, name)


@router.put("/{namespace}/{name}")
async def update_sensor(
    namespace: str, name: str, request: Request, body: Annotated[SensorRequest, Body()]
) -> dict[str, Any]:
    return await crud.update(hub_of(request), KIND, namespace, name, body.sensor)


@router.delete("/{namespace}/{name}")
async def delete_sensor(namespace: str, name: str, request: Request) -> dict[str, Any]:
    return await crud.delete(hub_of(request), KIND, namespace, name)
