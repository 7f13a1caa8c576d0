"""Running EventSources inside the hub: build drivers from a manifest, serve their routes, and
replace them when the manifest changes (no restart)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response

from eventsources.base import HttpRoute, SourceContext, SourceDriver, SourceRef
from eventsources.registry import SourceServices, create_drivers, refs
from eventsources.spec import EventSource
from triggerfish import metrics
from triggerfish.api.routes import PortServers, RouteTable
from triggerfish.bus.base import Bus, Published
from triggerfish.events import Event

log = logging.getLogger(__name__)


def _labels(ref: SourceRef) -> tuple[str, str, str]:
    return ref.namespace, ref.eventsource, ref.event_name


def counted(ref: SourceRef, route: HttpRoute) -> HttpRoute:
    """The route, counting each request as received and each error answer as rejected."""
    received = metrics.EVENTS_RECEIVED.labels(*_labels(ref))
    handler = route.handler

    async def handle(request: Request) -> Response:
        received.inc()
        response = await handler(request)
        if response.status_code >= 400:
            metrics.EVENTS_REJECTED.labels(*_labels(ref), str(response.status_code)).inc()
        return response

    return replace(route, handler=handle)


class HubSourceContext:
    """``SourceContext`` backed by the hub's bus and configured secrets."""

    def __init__(self, ref: SourceRef, bus: Bus, secrets: Mapping[str, Mapping[str, str]]) -> None:
        self.ref = ref
        self._bus = bus
        self._secrets = secrets

    async def publish(self, event: Event, *, key: str | None = None) -> Published:
        published = await self._bus.publish(event, key=key)
        metrics.EVENTS_PUBLISHED.labels(*_labels(self.ref)).inc()
        return published

    def get_secret(self, name: str, key: str) -> str | None:
        return self._secrets.get(name, {}).get(key)


class SourceManager:
    def __init__(
        self,
        bus: Bus,
        routes: RouteTable,
        ports: PortServers,
        services: SourceServices,
        secrets: Mapping[str, Mapping[str, str]],
        namespace: str = "default",
    ) -> None:
        self._bus = bus
        self._routes = routes
        self._ports = ports
        self._services = services
        self._secrets = secrets
        self._namespace = namespace
        self._running: dict[str, list[SourceDriver]] = {}
        self._lock = asyncio.Lock()

    def owner(self, event_source: EventSource) -> str:
        return f"{event_source.metadata.namespace or self._namespace}/{event_source.name}"

    def _context(self, ref: SourceRef) -> SourceContext:
        return HubSourceContext(ref, self._bus, self._secrets)

    async def apply(self, event_source: EventSource) -> list[str]:
        """(Re)start an EventSource's drivers; returns warnings. Raises RouteConflict, leaving the
        previous version running."""
        owner = self.owner(event_source)
        async with self._lock:
            drivers = create_drivers(event_source, self._context, self._services, self._namespace)
            named_routes = [
                (ref.event_name, counted(ref, route))
                for (ref, _), driver in zip(refs(event_source, self._namespace), drivers, strict=True)
                for route in driver.routes()
            ]
            self._routes.check(owner, named_routes)
            await self._ports.ensure({route.port for _, route in named_routes if route.port})
            warnings = self._routes.replace(owner, named_routes)  # checked above: nothing raises now
            await self._stop(self._running.pop(owner, []))
            for driver in drivers:
                await driver.start()
            self._running[owner] = drivers
        for warning in warnings:
            log.warning("EventSource %s: %s", owner, warning)
        return warnings

    def webhook_paths(self) -> list[tuple[str, str, str]]:
        """(owner, method, path) of every plain ``webhook`` endpoint, for start-up hints."""
        out = []
        for owner, drivers in self._running.items():
            for driver in drivers:
                spec = getattr(driver, "spec", None)
                if driver.kind == "webhook" and spec is not None:
                    out += [(owner, spec.method or "POST", spec.endpoint)]
        return out

    async def delete(self, namespace: str, name: str) -> None:
        owner = f"{namespace}/{name}"
        async with self._lock:
            self._routes.remove(owner)
            await self._stop(self._running.pop(owner, []))

    async def close(self) -> None:
        async with self._lock:
            for drivers in self._running.values():
                await self._stop(drivers)
            self._running.clear()
        await self._ports.close()

    @staticmethod
    async def _stop(drivers: list[SourceDriver]) -> None:
        for driver in drivers:
            try:
                await driver.stop()
            except Exception:
                log.exception("stopping event source driver %s failed", type(driver).__name__)
