"""Events and lineage (Triggerfish's own endpoints): list events, follow one event to the sensors
that matched it, the triggers that fired and the runs they created, and replay it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from sensors.state import deliveries_of
from triggerfish.api.auth import AUTHENTICATED, CurrentPrincipal, Principal
from triggerfish.api.errors import ApiError
from triggerfish.bus.base import Record
from triggerfish.events import namespace_of
from triggerfish.hub import Hub
from triggers.firings import FiringStore, workflows_of_event
from workflow_runtime.views import workflow_document

router = APIRouter(prefix="/api/v1/triggerfish/events", tags=["events"], dependencies=AUTHENTICATED)


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def summary(record: Record) -> dict[str, Any]:
    event = record.event
    time = event.get_time()
    return {
        "offset": record.offset,
        "id": event.get_id(),
        "source": event.get_source(),
        "type": event.get_type(),
        "subject": event.get_subject(),
        "namespace": namespace_of(event),
        "time": time.isoformat() if time else None,
        "appendedAt": record.appended_at.isoformat(),
    }


async def find(hub: Hub, ref: str, principal: Principal, *, write: bool = False) -> Record:
    """An event by bus offset (digits) or by its CloudEvent id, if the caller reaches its namespace
    (an event of a namespace it cannot see is "not found" rather than forbidden: no leak)."""
    if ref.isdigit():
        record = await hub.bus.get(int(ref))
    else:
        matches = await hub.bus.list(event_id=ref, limit=2)
        if len(matches) > 1:
            raise ApiError(409, f"event id {ref!r} is used by several sources; use the offset instead")
        record = matches[0] if matches else None
    if record is None or not principal.reaches(namespace_of(record.event)):
        raise ApiError(404, f"event {ref!r} not found")
    principal.require(namespace_of(record.event), write=write)
    return record


@router.get("")
async def list_events(
    request: Request,
    principal: CurrentPrincipal,
    source: str | None = None,
    type: str | None = None,
    subject: str | None = None,
    namespace: str | None = None,
    before: Annotated[int | None, Query(description="page: offsets below this")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    if namespace is None and not principal.all_namespaces:
        if len(principal.namespaces) != 1:
            raise ApiError(403, f"token {principal.subject!r} must name a namespace: pass namespace=")
        (namespace,) = principal.namespaces
    principal.require(namespace, write=False)
    records = await _hub(request).bus.list(
        source=source, type=type, subject=subject, namespace=namespace, before=before, limit=limit
    )
    items = [summary(r) for r in records]
    return {"items": items, "next": items[-1]["offset"] if len(items) == limit else None}


@router.get("/{ref:path}/lineage")
async def event_lineage(ref: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """The event, the sensors it reached (and which dependencies it matched), the firings it is
    part of and the runs they created."""
    hub = _hub(request)
    record = await find(hub, ref, principal)
    deliveries = await deliveries_of(hub.engine, record.offset)
    firings = []
    store = FiringStore(hub.engine)
    for (namespace, sensor), _ in deliveries.items():
        for firing in await store.list(namespace, sensor, limit=1000):
            if record.offset in firing.event_offsets.values():
                firings.append(
                    {
                        "sensor": f"{namespace}/{sensor}",
                        "trigger": firing.trigger,
                        "status": firing.status,
                        "attempts": firing.attempts,
                        "result": firing.result,
                        "error": firing.error,
                    }
                )
    runs = []
    for uid in await workflows_of_event(hub.engine, record.offset):
        run = await hub.workflows.get_by_uid(uid)
        if run is not None:
            document = workflow_document(run)
            runs.append(
                {
                    "namespace": run.namespace,
                    "name": run.name,
                    "phase": run.phase,
                    "labels": document["metadata"]["labels"],
                }
            )
    return {
        "event": {**summary(record), "data": record.event.get_data()},
        "sensors": [
            {"sensor": f"{namespace}/{sensor}", "dependencies": deps}
            for (namespace, sensor), deps in deliveries.items()
        ],
        "firings": firings,
        "workflows": runs,
    }


@router.post("/{ref:path}/replay")
async def replay_event(
    ref: str, request: Request, principal: CurrentPrincipal, sensor: str | None = None
) -> dict[str, Any]:
    """Deliver the event again to every running sensor (or one, ``sensor=ns/name`` or ``name``):
    triggers it completes fire again, as new firings."""
    hub = _hub(request)
    record = await find(hub, ref, principal, write=True)
    nonce = uuid.uuid4().hex
    replayed = []
    for key, runner in hub.sensors.runners().items():
        if sensor and sensor not in (key, key.split("/", 1)[1]):
            continue
        matched = await runner.replay(record, nonce)
        if matched:
            replayed.append({"sensor": key, "dependencies": matched})
    if sensor and not replayed and not any(sensor in (k, k.split("/", 1)[1]) for k in hub.sensors.runners()):
        raise ApiError(404, f"sensor {sensor!r} is not running")
    return {"event": summary(record), "replayedTo": replayed, "replay": nonce}


@router.get("/{ref:path}")
async def get_event(ref: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    record = await find(_hub(request), ref, principal)
    return {**summary(record), "data": record.event.get_data()}
