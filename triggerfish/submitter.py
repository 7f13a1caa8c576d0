"""The workflow runtime as triggers see it: idempotent submission with lineage.

A firing (a set of events that satisfied a trigger) is recorded on the workflow as a label, so a
redelivered or retried firing finds the run it already created instead of creating a second one,
and every run records the events behind it (``workflow_events``) for ``triggerfish events get``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from triggerfish.store.resources import CLUSTER_SCOPE, ResourceStore
from triggerfish.store.workflows import AlreadyExists, EventLink, WorkflowStore
from triggers.base import Firing
from workflow_runtime.controller.controller import Controller, SubmitOptions
from workflow_runtime.spec.loader import load_workflow

FIRING_LABEL = "events.triggerfish.io/firing"
SENSOR_LABEL = "events.triggerfish.io/sensor"
TRIGGER_LABEL = "events.triggerfish.io/trigger"


def firing_label(firing: Firing) -> str:
    """Label values are limited to 63 characters; 40 hex digits of the key are plenty."""
    return firing.firing_key[:40]


def firing_uid(firing: Firing) -> str:
    """The run a firing creates has a UID derived from the firing, so it can only be created once."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"triggerfish:firing:{firing.firing_key}"))


class HubSubmitter:
    """``triggers.base.WorkflowSubmitter`` backed by the hub's controller and store."""

    def __init__(self, controller: Controller, resources: ResourceStore, workflows: WorkflowStore) -> None:
        self._controller = controller
        self._resources = resources
        self._workflows = workflows

    async def submit(
        self, manifest: Mapping[str, Any], *, namespace: str, firing: Firing, labels: Mapping[str, str]
    ) -> str:
        uid = firing_uid(firing)
        workflow = load_workflow(dict(manifest), f"trigger {firing.trigger} of sensor {firing.sensor}")
        all_labels = {
            **labels,
            FIRING_LABEL: firing_label(firing),
            SENSOR_LABEL: firing.sensor,
            TRIGGER_LABEL: firing.trigger,
        }
        caused_by = [EventLink(offset, firing.record_id) for offset in sorted(set(firing.event_offsets))]
        try:
            record = await self._controller.submit(
                workflow, SubmitOptions(namespace=namespace, labels=all_labels, uid=uid, caused_by=caused_by)
            )
        except AlreadyExists:
            existing = await self._workflows.get_by_uid(uid)
            if existing is None:  # a name clash with an unrelated workflow, not a repeat of this firing
                raise
            return existing.name
        return record.name

    async def template(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        scope = CLUSTER_SCOPE if kind == "ClusterWorkflowTemplate" else namespace
        resource = await self._resources.get(kind, scope, name)
        return resource.manifest if resource else None
