"""Prometheus metrics of the hub.

Counters and histograms are updated where things happen (a step ends, an event is published, a
trigger fires). Gauges that describe state — workflows by phase, bus lag per consumer group,
controller queue depth — are read from the hub when ``/metrics`` is scraped, so they are exact
and cost nothing between scrapes.

Metric names follow Prometheus conventions (``_total`` is added to counters by the client).
Labels are low-cardinality: namespaces, manifest and trigger names, phases, HTTP statuses —
never workflow names or event ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "exposition"]

SOURCE_LABELS = ("namespace", "eventsource", "event_name")
TRIGGER_LABELS = ("namespace", "sensor", "trigger")

STEP_DURATION = Histogram(
    "triggerfish_step_duration_seconds",
    "Wall time of workflow steps (pods), from start to exit, by final phase.",
    ["phase"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600),
)
EVENTS_RECEIVED = Counter(
    "triggerfish_events_received",
    "Deliveries that reached an HTTP event source (webhook, GitHub, S3 notification requests).",
    SOURCE_LABELS,
)
EVENTS_PUBLISHED = Counter(
    "triggerfish_events_published",
    "Events an event source appended to the bus.",
    SOURCE_LABELS,
)
EVENTS_REJECTED = Counter(
    "triggerfish_events_rejected",
    "Deliveries an event source refused (bad signature, oversized, malformed), by HTTP status.",
    [*SOURCE_LABELS, "status"],
)
SENSOR_MATCHES = Counter(
    "triggerfish_sensor_matches",
    "Events that satisfied a sensor dependency (source, filters).",
    ["namespace", "sensor", "dependency"],
)
TRIGGER_RESULTS = Counter(
    "triggerfish_trigger_results",
    "Finished trigger firings by outcome: succeeded, failed or dead-lettered.",
    [*TRIGGER_LABELS, "outcome"],
)
TRIGGER_RETRIES = Counter(
    "triggerfish_trigger_retries",
    "Failed trigger attempts that were retried.",
    TRIGGER_LABELS,
)
WORKFLOWS = Gauge(
    "triggerfish_workflows",
    "Workflows in the store, by namespace and phase.",
    ["namespace", "phase"],
)
BUS_LAG = Gauge(
    "triggerfish_bus_lag",
    "Events on the bus not yet committed by a consumer group (a sensor).",
    ["group"],
)
CONTROLLER_ACTIVE = Gauge(
    "triggerfish_controller_active_workflows",
    "Workflow runs the controller is driving right now.",
)
CONTROLLER_QUEUE = Gauge(
    "triggerfish_controller_queue_depth",
    "Nodes of active workflows waiting to start (Pending: parallelism, locks, executor slots).",
)


@runtime_checkable
class LagReporter(Protocol):
    """A bus that can say how far behind each consumer group is."""

    async def lag(self) -> dict[str, int]: ...


def set_workflow_counts(counts: Mapping[tuple[str, str], int]) -> None:
    """Replace the workflow gauge with fresh ``(namespace, phase) → count`` figures."""
    WORKFLOWS.clear()
    for (namespace, phase), count in counts.items():
        WORKFLOWS.labels(namespace, phase or "Pending").set(count)


def set_bus_lag(lag: Mapping[str, int]) -> None:
    BUS_LAG.clear()
    for group, behind in lag.items():
        BUS_LAG.labels(group).set(behind)


def set_controller_load(active: int, queued: int) -> None:
    CONTROLLER_ACTIVE.set(active)
    CONTROLLER_QUEUE.set(queued)


def exposition() -> bytes:
    """The text exposition format of every metric of this process."""
    return generate_latest()
