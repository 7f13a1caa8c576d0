"""The FastAPI application of the hub; the Hub (store, controller) lives in ``app.state.hub``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Scope

from triggerfish.api import argo, errors, events, manifests, metrics
from triggerfish.api.auth import TokenTable
from triggerfish.api.routes import HUB_PORT, METHODS, EventSourceShortcut, RouteTable
from triggerfish.hub import Hub

HubFactory = Callable[[], Awaitable[Hub]]
_EVENT_SOURCES = "/{path:path}"
"""The catch-all route of event sources' endpoints."""


def create_app(open_hub: HubFactory, on_ready: Callable[[Hub], Awaitable[None]] | None = None) -> FastAPI:
    """An app that opens the hub on startup (resuming interrupted runs) and closes it on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = await open_hub()
        app.state.hub = hub
        app.state.tokens = TokenTable(hub.settings.auth)
        if on_ready is not None:
            await on_ready(hub)
        try:
            yield
        finally:
            await hub.close()

    app = FastAPI(
        title="Triggerfish",
        description="Argo Workflows and Argo Events compatible trigger hub",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    for router in argo.ROUTERS:
        app.include_router(router)
    app.include_router(events.router)
    app.include_router(manifests.router)
    app.include_router(metrics.router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> dict[str, str]:
        hub: Hub = app.state.hub
        async with hub.engine.connect():
            pass
        return {"status": "ready"}

    async def event_source_endpoint(request: Request) -> Response:
        hub: Hub = app.state.hub
        return await hub.routes.dispatch(request, HUB_PORT)

    # Last, so the API's own routes win: every other path may belong to an event source.
    app.add_api_route(_EVENT_SOURCES, event_source_endpoint, methods=list(METHODS), include_in_schema=False)

    return app


def with_event_source_shortcut(app: FastAPI) -> ASGIApp:
    """What the hub serves: ``app`` behind :class:`EventSourceShortcut`, so webhooks skip FastAPI."""

    def api_serves(scope: Scope) -> bool:
        for route in app.router.routes:
            if route.matches(scope)[0] is Match.FULL:
                return getattr(route, "path", None) != _EVENT_SOURCES
        return False

    def route_table() -> RouteTable | None:
        hub: Hub | None = getattr(app.state, "hub", None)
        return None if hub is None else hub.routes

    return EventSourceShortcut(app, route_table, api_serves)
