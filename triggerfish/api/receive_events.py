"""``POST /api/v1/events/{namespace}/{discriminator}``: Argo Server's event endpoint (the one
WorkflowEventBindings listen to), Triggerfish style: the payload becomes a CloudEvent on the bus,
so any Sensor can trigger on it.

The event has ``source`` = ``argo-events-api``, ``type`` = ``argo.event``, ``subject`` = the
discriminator and the path's namespace. A Sensor in that namespace picks it up with a dependency
``{eventSourceName: argo-events-api, eventName: <discriminator>}``; its data is shaped like a
webhook event's, ``{"header": {...}, "body": <payload>}``, so ``dataKey: body.x`` works as usual.
An ``Idempotency-Key`` header makes retries of one delivery a single event. The answer is Argo's
empty ``{}`` once the event is durable, with the event id in ``X-Triggerfish-Event-Id``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from triggerfish.api.auth import AUTHENTICATED
from triggerfish.api.common import hub_of
from triggerfish.events import new_event

router = APIRouter(prefix="/api/v1/events", tags=["events"], dependencies=AUTHENTICATED)

SOURCE = "argo-events-api"
TYPE = "argo.event"
EVENT_ID_HEADER = "X-Triggerfish-Event-Id"
HIDDEN_HEADERS = ("authorization", "cookie")


@router.post("/{namespace}/{discriminator}")
async def receive_event(
    namespace: str, discriminator: str, request: Request, payload: Annotated[Any, Body()] = None
) -> JSONResponse:
    """Publish the payload (any JSON) for sensors; 400 if the body is not JSON."""
    headers: dict[str, list[str]] = {}
    for key, value in request.headers.items():
        if key not in HIDDEN_HEADERS:
            headers.setdefault(key.title(), []).append(value)
    idempotency_key = request.headers.get("Idempotency-Key")
    event_id = f"{namespace}/{discriminator}:{idempotency_key}" if idempotency_key else str(uuid.uuid4())
    event = new_event(
        id=event_id,
        source=SOURCE,
        type=TYPE,
        subject=discriminator,
        data={"header": headers, "body": payload},
        namespace=namespace,
    )
    await hub_of(request).bus.publish(event)
    return JSONResponse({}, headers={EVENT_ID_HEADER: event_id})
