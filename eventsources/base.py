"""The event-source contract: each kind (``webhook``, ``github``, ``calendar``, ``minio``…) is a
driver that turns its input into CloudEvents and publishes them through a :class:`SourceContext`.

The hub creates one driver per ``spec.<kind>.<eventName>`` entry of an EventSource manifest,
starts it, and stops it when the manifest changes or is deleted. HTTP-based drivers do not run a
server of their own: they return :class:`HttpRoute`s and the hub serves them on its HTTP port
(and on the port the manifest names, for compatibility with Argo Events).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from starlette.requests import Request
from starlette.responses import Response

from triggerfish.bus.base import Published
from triggerfish.events import Event


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Which event this driver produces: ``<namespace>/<eventsource>`` and the event name."""

    namespace: str
    eventsource: str
    event_name: str
    kind: str


class SourceContext(Protocol):
    """What the hub gives a driver."""

    ref: SourceRef

    async def publish(self, event: Event, *, key: str | None = None) -> Published:
        """Durably append to the bus; only after this returns may the sender be acknowledged."""

    def get_secret(self, name: str, key: str) -> str | None:
        """A Kubernetes-style secret reference, resolved from the hub's configuration."""


HttpHandler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class HttpRoute:
    path: str
    methods: Sequence[str]
    handler: HttpHandler
    port: int | None = None
    """The port the manifest names, also served (besides the hub's own port)."""


class SourceDriver(Protocol):
    kind: ClassVar[str]

    def routes(self) -> Sequence[HttpRoute]:
        """HTTP endpoints to serve (empty for non-HTTP sources)."""

    async def start(self) -> None:
        """Begin producing (timers, consumers). HTTP drivers may do nothing here."""

    async def stop(self) -> None: ...


DriverFactory = Callable[[SourceContext, Any], SourceDriver]
"""Builds a driver from its context and its validated spec entry (a pydantic model)."""
