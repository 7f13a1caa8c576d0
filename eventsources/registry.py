"""Source kinds by manifest key: the spec model each ``spec.<kind>`` entry validates against and the
driver that runs it. The hub looks kinds up here and nowhere else.

Adding a kind: write ``eventsources/<kind>.py`` (a driver following :mod:`eventsources.base`), give
its spec model a field on ``EventSourceSpec`` (replacing the ``NotSupported`` placeholder) and add
one :class:`SourceKind` line below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from eventsources.base import DriverFactory, SourceContext, SourceDriver, SourceRef
from eventsources.calendar import CalendarDriver, CalendarSettings, TickStore
from eventsources.github import GithubDriver
from eventsources.kafka import KafkaDriver
from eventsources.s3 import S3Driver, S3Settings
from eventsources.spec import (
    SUPPORTED_KINDS,
    CalendarEventSource,
    EventSource,
    GithubEventSource,
    KafkaEventSource,
    MinioEventSource,
    WebhookEventSource,
)
from eventsources.webhook import WebhookDriver
from triggerfish.schedule import Clock, SystemClock


@dataclass(frozen=True)
class SourceServices:
    """What drivers need from the hub besides their :class:`SourceContext`."""

    ticks: TickStore | None = None
    """Persistence for calendar ticks (a ``ScheduleTickStore``); ``None`` keeps nothing."""
    clock: Clock = field(default_factory=SystemClock)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    s3: S3Settings = field(default_factory=S3Settings)


Build = Callable[[SourceContext, Any, SourceServices], SourceDriver]


@dataclass(frozen=True)
class SourceKind:
    name: str
    spec_type: type[BaseModel]
    build: Build


def _webhook(context: SourceContext, spec: Any, _services: SourceServices) -> SourceDriver:
    return WebhookDriver(context, spec)


def _github(context: SourceContext, spec: Any, _services: SourceServices) -> SourceDriver:
    return GithubDriver(context, spec)


def _calendar(context: SourceContext, spec: Any, services: SourceServices) -> SourceDriver:
    return CalendarDriver(
        context, spec, ticks=services.ticks, clock=services.clock, settings=services.calendar
    )


def _minio(context: SourceContext, spec: Any, services: SourceServices) -> SourceDriver:
    return S3Driver(context, spec, services.s3)


def _kafka(context: SourceContext, spec: Any, _services: SourceServices) -> SourceDriver:
    return KafkaDriver(context, spec)


KINDS: dict[str, SourceKind] = {
    kind.name: kind
    for kind in (
        SourceKind("webhook", WebhookEventSource, _webhook),
        SourceKind("github", GithubEventSource, _github),
        SourceKind("calendar", CalendarEventSource, _calendar),
        SourceKind("minio", MinioEventSource, _minio),
        SourceKind("kafka", KafkaEventSource, _kafka),
    )
}
assert tuple(KINDS) == SUPPORTED_KINDS, "registry and EventSourceSpec disagree on the kinds"


def get_kind(name: str) -> SourceKind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown event source kind {name!r}; known: {', '.join(KINDS)}") from None


def driver_factory(kind: str, services: SourceServices | None = None) -> DriverFactory:
    """The :data:`eventsources.base.DriverFactory` for ``kind``, bound to the hub's services."""
    source_kind = get_kind(kind)
    bound = services or SourceServices()

    def factory(context: SourceContext, spec: Any) -> SourceDriver:
        if not isinstance(spec, source_kind.spec_type):
            spec = source_kind.spec_type.model_validate(spec)
        return source_kind.build(context, spec, bound)

    return factory


def refs(event_source: EventSource, namespace: str = "default") -> Iterator[tuple[SourceRef, Any]]:
    """One :class:`SourceRef` (and its spec entry) per event of a validated EventSource."""
    ns = event_source.metadata.namespace or namespace
    for kind, event_name, entry in event_source.entries():
        yield SourceRef(namespace=ns, eventsource=event_source.name, event_name=event_name, kind=kind), entry


def create_drivers(
    event_source: EventSource,
    context_for: Callable[[SourceRef], SourceContext],
    services: SourceServices | None = None,
    namespace: str = "default",
) -> list[SourceDriver]:
    """A driver per ``spec.<kind>.<eventName>`` entry, each with the context the hub made for it."""
    bound = services or SourceServices()
    return [
        get_kind(ref.kind).build(context_for(ref), entry, bound)
        for ref, entry in refs(event_source, namespace)
    ]
