"""The trigger contract: what a sensor fires once a trigger's condition holds.

A driver receives the trigger template with its parameters already applied (the resource or
payload rendered from the matched events) and performs the action. Drivers must be safe to call
again for the same firing (the sensor retries and redelivers): the ``firing_key`` identifies the
set of events, and the workflow submitter uses it so the same events never create two runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from triggerfish.events import Event


@dataclass(frozen=True, slots=True)
class Firing:
    """One firing of a trigger: which sensor, which events, and the idempotency key."""

    namespace: str
    sensor: str
    trigger: str
    firing_key: str
    events: Mapping[str, Event]
    """dependency name → the event that satisfied it"""
    event_offsets: Sequence[int] = field(default_factory=tuple)
    record_id: int | None = None
    """The firing's ``trigger_firings`` row, when it has one (for the lineage of what it creates)."""


@dataclass(frozen=True, slots=True)
class FireResult:
    """What the action produced, for lineage (e.g. ``{"workflow": "github-x7k2p"}``)."""

    details: Mapping[str, Any] = field(default_factory=dict)


class TriggerError(Exception):
    """The action failed; ``retryable`` says whether the retryStrategy should try again."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class WorkflowSubmitter(Protocol):
    """The workflow runtime as triggers see it (the hub provides the implementation)."""

    async def submit(
        self, manifest: Mapping[str, Any], *, namespace: str, firing: Firing, labels: Mapping[str, str]
    ) -> str:
        """Create a run (idempotent per ``firing.firing_key``); returns the workflow name."""

    async def template(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        """A stored WorkflowTemplate / ClusterWorkflowTemplate manifest, for ``submitFrom``-style triggers."""


class TriggerDriver(Protocol):
    kind: ClassVar[str]
    """The trigger template key it handles (``argoWorkflow``, ``k8s``, ``http``, ``log``…)."""

    async def fire(self, spec: Any, firing: Firing) -> FireResult:
        """Perform the action for ``spec`` (the trigger template's entry, parameters applied)."""
