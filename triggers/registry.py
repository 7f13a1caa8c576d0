"""Trigger kinds → drivers: what the hub hands each sensor runner.

The sensor runner looks a rendered trigger's kind (its template key) up here. Kinds the Sensor
spec accepts but no driver is registered for are refused when the runner starts.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from triggers.base import TriggerDriver, WorkflowSubmitter
from triggers.http import HttpTriggerDriver, SecretResolver
from triggers.kafka import KafkaTriggerDriver
from triggers.log import LogTriggerDriver
from triggers.workflow import ArgoWorkflowDriver, K8sWorkflowDriver

__all__ = ["DRIVER_CLASSES", "default_drivers"]

DRIVER_CLASSES = {
    LogTriggerDriver.kind: LogTriggerDriver,
    HttpTriggerDriver.kind: HttpTriggerDriver,
    KafkaTriggerDriver.kind: KafkaTriggerDriver,
    ArgoWorkflowDriver.kind: ArgoWorkflowDriver,
    K8sWorkflowDriver.kind: K8sWorkflowDriver,
}


def default_drivers(
    *,
    submitter: WorkflowSubmitter | None = None,
    http_client: httpx.AsyncClient | None = None,
    secrets: SecretResolver | None = None,
) -> Mapping[str, TriggerDriver]:
    """One driver per kind; workflow kinds only when the hub provides a submitter."""
    drivers: dict[str, TriggerDriver] = {
        LogTriggerDriver.kind: LogTriggerDriver(),
        HttpTriggerDriver.kind: HttpTriggerDriver(http_client, secrets),
        KafkaTriggerDriver.kind: KafkaTriggerDriver(secrets),
    }
    if submitter is not None:
        drivers[ArgoWorkflowDriver.kind] = ArgoWorkflowDriver(submitter)
        drivers[K8sWorkflowDriver.kind] = K8sWorkflowDriver(submitter)
    return drivers
