"""argoWorkflow and k8s triggers through the WorkflowSubmitter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from sensors.runtime import SensorRunner
from sensors.spec import ArgoWorkflowTrigger, StandardK8sTrigger, load_sensor
from triggerfish.store.workflows import EventLink, WorkflowRecord, WorkflowStore
from triggers.base import Firing, TriggerError
from triggers.firings import events_of_workflow, workflows_of_event
from triggers.registry import default_drivers
from triggers.workflow import ArgoWorkflowDriver, K8sWorkflowDriver, workflow_from_template

from ..sensors.helpers import FakeClock, FakeSubmitter, MemoryBus, event

WORKFLOW = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"generateName": "hello-", "labels": {"team": "data"}},
    "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "busybox"}}]},
}


def firing(namespace: str = "argo-events") -> Firing:
    return Firing(namespace, "my-sensor", "my-trigger", "k" * 64, {"dep": event("example", {})}, [7])


def argo(resource: dict[str, Any], operation: str = "") -> ArgoWorkflowTrigger:
    return ArgoWorkflowTrigger.model_validate({"operation": operation, "source": {"resource": resource}})


async def test_submit_adds_argo_events_labels_and_defaults_the_namespace() -> None:
    submitter = FakeSubmitter()
    result = await ArgoWorkflowDriver(submitter).fire(argo(WORKFLOW), firing())
    manifest, namespace, fired, labels = submitter.submitted[0]
    assert namespace == "argo-events"
    assert manifest["metadata"]["namespace"] == "argo-events"
    assert manifest["metadata"]["labels"]["team"] == "data"
    assert manifest["metadata"]["labels"]["events.argoproj.io/sensor"] == "my-sensor"
    assert labels["events.argoproj.io/trigger"] == "my-trigger"
    assert labels["events.argoproj.io/action-timestamp"].isdigit()
    assert fired.firing_key == "k" * 64
    assert result.details == {"workflow": "hello-00000", "namespace": "argo-events"}
    assert "namespace" not in WORKFLOW["metadata"]  # the spec is not modified


async def test_submit_is_idempotent_per_firing() -> None:
    submitter = FakeSubmitter()
    driver = ArgoWorkflowDriver(submitter)
    first = await driver.fire(argo(WORKFLOW), firing())
    second = await driver.fire(argo(WORKFLOW), firing())
    assert first.details == second.details
    assert len(submitter.submitted) == 1


async def test_explicit_namespace_wins() -> None:
    submitter = FakeSubmitter()
    resource = {**WORKFLOW, "metadata": {"name": "fixed", "namespace": "other"}}
    result = await K8sWorkflowDriver(submitter).fire(
        StandardK8sTrigger.model_validate({"source": {"resource": resource}}), firing()
    )
    assert result.details == {"workflow": "fixed", "namespace": "other"}


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ({**WORKFLOW, "metadata": {}}, "neither name nor generateName is given"),
        ({**WORKFLOW, "kind": "Pod", "apiVersion": "v1"}, "creating v1/Pod is not supported"),
    ],
)
async def test_unusable_resources_are_not_retried(resource: dict[str, Any], message: str) -> None:
    with pytest.raises(TriggerError, match=message) as excinfo:
        await ArgoWorkflowDriver(FakeSubmitter()).fire(argo(resource), firing())
    assert not excinfo.value.retryable


async def test_submit_from_a_workflow_template() -> None:
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "build"},
        "spec": {"workflowMetadata": {"labels": {"x": "y"}}, "templates": []},
    }
    submitter = FakeSubmitter({("WorkflowTemplate", "argo-events", "build"): template})
    resource = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "build"},
    }
    result = await ArgoWorkflowDriver(submitter).fire(argo(resource, "submit-from"), firing())
    manifest = submitter.submitted[0][0]
    assert manifest["spec"] == {"workflowTemplateRef": {"name": "build"}}
    assert manifest["metadata"]["generateName"] == "build-"
    assert manifest["metadata"]["labels"] == {"x": "y", "workflows.argoproj.io/workflow-template": "build"}
    assert result.details["namespace"] == "argo-events"


async def test_submit_from_a_cron_workflow() -> None:
    cron = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 0 * * *", "workflowSpec": {"entrypoint": "main", "templates": []}},
    }
    submitter = FakeSubmitter({("CronWorkflow", "argo-events", "nightly"): cron})
    resource = {"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow", "metadata": {"name": "nightly"}}
    await ArgoWorkflowDriver(submitter).fire(argo(resource, "submit-from"), firing())
    manifest = submitter.submitted[0][0]
    assert manifest["spec"] == {"entrypoint": "main", "templates": []}
    assert manifest["metadata"]["labels"] == {"workflows.argoproj.io/cron-workflow": "nightly"}


async def test_submit_from_a_missing_template_is_retryable() -> None:
    resource = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "gone"},
    }
    with pytest.raises(TriggerError, match="WorkflowTemplate argo-events/gone not found") as excinfo:
        await ArgoWorkflowDriver(FakeSubmitter()).fire(argo(resource, "submit-from"), firing())
    assert excinfo.value.retryable


def test_workflow_from_cluster_template() -> None:
    manifest = workflow_from_template("ClusterWorkflowTemplate", {"spec": {}}, "shared", "ns")
    assert manifest["spec"] == {"workflowTemplateRef": {"name": "shared", "clusterScope": True}}


async def test_sensor_submits_to_an_existing_workflow_template_with_lineage(engine: AsyncEngine) -> None:
    """The conformance example ``sensor-to-existing-workflow-template.yaml`` end to end."""
    sensor = load_sensor(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Sensor",
            "metadata": {"name": "bitbucket", "namespace": "argo-events"},
            "spec": {
                "dependencies": [
                    {"name": "my-event-source-dep", "eventSourceName": "bitbucket", "eventName": "example"}
                ],
                "triggers": [
                    {
                        "template": {
                            "name": "argo-workflow-trigger",
                            "argoWorkflow": {
                                "operation": "submit",
                                "source": {
                                    "resource": {
                                        "apiVersion": "argoproj.io/v1alpha1",
                                        "kind": "Workflow",
                                        "metadata": {"generateName": "workflow-template-print-message-"},
                                        "spec": {
                                            "arguments": {"parameters": [{"name": "message", "value": ""}]},
                                            "workflowTemplateRef": {
                                                "name": "workflow-template-print-message"
                                            },
                                        },
                                    }
                                },
                                "parameters": [
                                    {
                                        "src": {"dependencyName": "my-event-source-dep", "dataKey": "body"},
                                        "dest": "spec.arguments.parameters.0.value",
                                    }
                                ],
                            },
                        }
                    }
                ],
            },
        }
    )

    class LineageSubmitter(FakeSubmitter):
        async def submit(self, manifest: Any, *, namespace: str, firing: Firing, labels: Any) -> str:
            name = await super().submit(manifest, namespace=namespace, firing=firing, labels=labels)
            record = WorkflowRecord(
                f"uid-{name}", namespace, name, dict(manifest), "Pending", datetime.now(UTC)
            )
            links = [EventLink(offset, firing.record_id) for offset in firing.event_offsets]
            await WorkflowStore(engine).create(record, links)
            return name

    submitter = LineageSubmitter()
    bus = MemoryBus()
    runner = SensorRunner(sensor, bus, engine, default_drivers(submitter=submitter), FakeClock())
    await runner.start()
    try:
        published = await bus.publish(
            event("example", {"body": {"repo": "x"}}, source="bitbucket", namespace="argo-events")
        )
        await runner.wait_idle(published.offset)
    finally:
        await runner.stop()
    manifest = submitter.submitted[0][0]
    assert manifest["spec"]["arguments"]["parameters"][0]["value"] == '{"repo":"x"}'
    assert manifest["metadata"]["namespace"] == "argo-events"
    uid = "uid-" + manifest["metadata"]["generateName"] + "00000"
    assert await workflows_of_event(engine, published.offset) == [uid]
    assert await events_of_workflow(engine, uid) == [published.offset]
