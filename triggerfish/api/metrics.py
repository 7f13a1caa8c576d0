"""``GET /metrics``: the hub's Prometheus metrics, with state gauges refreshed at each scrape."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from triggerfish import metrics
from triggerfish.api.common import hub_of

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response)
async def scrape(request: Request) -> Response:
    hub = hub_of(request)
    metrics.set_workflow_counts(await hub.workflows.count_by_phase())
    if isinstance(hub.bus, metrics.LagReporter):
        metrics.set_bus_lag(await hub.bus.lag())
    metrics.set_controller_load(*hub.controller.load())
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE_LATEST)
