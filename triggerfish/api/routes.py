"""HTTP endpoints that event sources add at run time, on the hub's port and on extra ports.

Argo Events runs one server per EventSource, each on the port its manifest names. The hub serves
every source's endpoint on its own port (first come first served for a given path, and always
under the unambiguous alias ``/webhooks/<namespace>/<eventsource>/<event>``) and also opens each
port a manifest names, so senders configured for Argo Events keep working unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from eventsources.base import HttpHandler, HttpRoute

log = logging.getLogger(__name__)

HUB_PORT = 0
"""Key of the hub's own port in the table (its real number is the server's business)."""

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class RouteConflict(ValueError):
    """Two event sources want the same method and path on the same extra port, or the port is
    taken by another program."""


@dataclass(frozen=True, slots=True)
class _Entry:
    owner: str
    handler: HttpHandler


def alias_path(owner: str, event_name: str) -> str:
    """``owner`` is ``<namespace>/<eventsource>``."""
    return f"/webhooks/{owner}/{event_name}"


class RouteTable:
    def __init__(self) -> None:
        self._routes: dict[tuple[int, str, str], _Entry] = {}

    def _plan(self, owner: str, event_name: str, route: HttpRoute) -> list[tuple[tuple[int, str, str], bool]]:
        """Keys to register and whether each must be free (extra ports) or may be shared (hub port)."""
        path = "/" + route.path.lstrip("/")
        keys: list[tuple[tuple[int, str, str], bool]] = []
        for method in route.methods:
            method = method.upper()
            keys.append(((HUB_PORT, method, alias_path(owner, event_name)), True))
            keys.append(((HUB_PORT, method, path), False))
            if route.port:
                keys.append(((route.port, method, path), True))
        return keys

    def check(self, owner: str, routes: Sequence[tuple[str, HttpRoute]]) -> None:
        """Raise RouteConflict if another EventSource holds one of these routes on an extra port."""
        for event, route in routes:
            for key, exclusive in self._plan(owner, event, route):
                taken = self._routes.get(key)
                if exclusive and taken is not None and taken.owner != owner:
                    port, method, path = key
                    where = "the hub port" if port == HUB_PORT else f"port {port}"
                    raise RouteConflict(
                        f"{method} {path} on {where} is already served by EventSource {taken.owner}"
                    )

    def replace(self, owner: str, routes: Sequence[tuple[str, HttpRoute]]) -> list[str]:
        """Swap all routes of one EventSource at once; returns warnings about shadowed hub paths."""
        self.check(owner, routes)
        self.remove(owner)
        warnings = []
        for event, route in routes:
            for key, _ in self._plan(owner, event, route):
                taken = self._routes.get(key)
                if taken is not None and taken.owner != owner:
                    warnings.append(
                        f"{key[1]} {key[2]} on the hub port stays with {taken.owner}; use the alias path"
                    )
                    continue
                self._routes[key] = _Entry(owner, route.handler)
        return warnings

    def remove(self, owner: str) -> None:
        for key in [k for k, entry in self._routes.items() if entry.owner == owner]:
            del self._routes[key]

    def ports(self) -> set[int]:
        return {port for port, _, _ in self._routes if port != HUB_PORT}

    def lookup(self, port: int, method: str, path: str) -> HttpHandler | None:
        """The handler of ``method path`` on ``port`` (``HEAD`` falls back to ``GET``)."""
        entry = self._routes.get((port, method, path))
        if entry is None and method == "HEAD":
            entry = self._routes.get((port, "GET", path))
        return None if entry is None else entry.handler

    async def dispatch(self, request: Request, port: int) -> Response:
        method, path = request.method.upper(), request.url.path
        handler = self.lookup(port, method, path)
        if handler is not None:
            return await handler(request)
        if any(p == port and route_path == path for p, _, route_path in self._routes):
            return JSONResponse(
                {"code": 3, "message": f"method {method} not allowed on {path}"}, status_code=405
            )
        return JSONResponse({"code": 5, "message": f"no endpoint {path}"}, status_code=404)


class EventSourceShortcut:
    """ASGI middleware: a request for an event source's endpoint on the hub's port goes straight to
    its handler. FastAPI's routing (tried against every API route first) and endpoint machinery
    cost as much CPU as the handler itself, and webhooks are the hub's high-volume traffic.

    A path one of the API's own routes serves stays the API's, as when the event sources' routes
    come last in the app: ``api_serves`` decides, once per method and path.
    """

    def __init__(
        self, app: ASGIApp, table: Callable[[], RouteTable | None], api_serves: Callable[[Scope], bool]
    ) -> None:
        self._app = app
        self._table = table
        self._api_serves = api_serves
        self._api_paths: dict[tuple[str, str], bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        table = self._table() if scope["type"] == "http" else None
        handler = table.lookup(HUB_PORT, scope["method"], scope["path"]) if table is not None else None
        if handler is None or self._served_by_api(scope):
            await self._app(scope, receive, send)
            return
        response = await handler(Request(scope, receive, send))
        await response(scope, receive, send)

    def _served_by_api(self, scope: Scope) -> bool:
        key = (scope["method"], scope["path"])
        served = self._api_paths.get(key)
        if served is None:
            served = self._api_paths[key] = self._api_serves(scope)
        return served


class _QuietServer(uvicorn.Server):
    """A server that leaves signal handling to the hub's main server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class PortServers:
    """One small server per extra port an EventSource names, started on first use."""

    def __init__(self, table: RouteTable, host: str) -> None:
        self._table = table
        self._host = host
        self._servers: dict[int, tuple[uvicorn.Server, asyncio.Task[None]]] = {}

    async def ensure(self, ports: set[int]) -> None:
        """Serve every port in ``ports``; RouteConflict if one cannot be bound (the others stay)."""
        for port in sorted(ports - self._servers.keys()):
            await self._start(port)

    async def _start(self, port: int) -> None:
        async def endpoint(request: Request) -> Response:
            return await self._table.dispatch(request, port)

        # Bind here, so a busy port is an error for this port alone rather than uvicorn's sys.exit.
        try:
            sock = socket.create_server((self._host, port), reuse_port=False)
        except OSError as exc:
            raise RouteConflict(f"cannot listen on port {port}: {exc.strerror}") from exc
        app = Starlette(routes=[Route("/{path:path}", endpoint, methods=list(METHODS))])
        server = _QuietServer(uvicorn.Config(app, log_level="warning", lifespan="off"))
        task = asyncio.create_task(server.serve(sockets=[sock]), name=f"event source port {port}")
        self._servers[port] = (server, task)

    async def close(self) -> None:
        for server, _ in self._servers.values():
            server.should_exit = True
        await asyncio.gather(*(task for _, task in self._servers.values()), return_exceptions=True)
        self._servers.clear()
