"""The hub's ASGI app sends event sources' endpoints straight to their handlers, but a path the
API serves stays the API's, as when the event sources' catch-all route comes last."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from eventsources.base import HttpRoute
from triggerfish.api.app import create_app, with_event_source_shortcut
from triggerfish.api.routes import RouteTable
from triggerfish.hub import Hub


async def _no_hub() -> Hub:
    raise AssertionError("the lifespan does not run in this test")


async def hook(request: Request) -> Response:
    return JSONResponse({"hook": request.url.path, "body": (await request.body()).decode()})


async def test_event_source_paths_reach_their_handlers_and_api_paths_stay_the_apis() -> None:
    app = create_app(_no_hub)
    table = RouteTable()
    methods = ("GET", "POST")
    table.replace(
        "default/es",
        [("a", HttpRoute("/github", methods, hook)), ("b", HttpRoute("/healthz", methods, hook))],
    )
    app.state.hub = SimpleNamespace(routes=table)
    transport = httpx.ASGITransport(app=with_event_source_shortcut(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        github = await client.post("/github", content=b"{}")
        assert github.status_code == 200 and github.json() == {"hook": "/github", "body": "{}"}
        alias = await client.post("/webhooks/default/es/a", content=b"x")
        assert alias.json() == {"hook": "/webhooks/default/es/a", "body": "x"}
        assert (await client.head("/github")).status_code == 200  # HEAD falls back to GET
        # GET /healthz is an API route; POST /healthz is not, so the event source gets it.
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.post("/healthz", content=b"y")).json() == {"hook": "/healthz", "body": "y"}
        # Neither the API's nor an event source's: the catch-all answers.
        missing = await client.post("/nowhere")
        assert missing.status_code == 404 and missing.json()["message"] == "no endpoint /nowhere"
        wrong = await client.delete("/github")
        assert wrong.status_code == 405
