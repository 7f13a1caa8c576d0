"""Triggers that start workflow runs: ``argoWorkflow`` and ``k8s`` creating a ``Workflow``.

* ``argoWorkflow`` ``submit`` (the default) submits ``source.resource``; ``submit-from`` starts a
  run from a stored ``WorkflowTemplate`` or ``CronWorkflow`` named by the resource, as
  ``argo submit --from`` does. Other operations (resubmit, resume, retry, suspend, terminate,
  stop) and CLI ``args`` are refused when the Sensor is loaded.
* ``k8s`` with operation ``create`` of a ``kind: Workflow`` resource (other kinds and operations
  are refused at load).

Both add Argo Events' labels (``events.argoproj.io/sensor``, ``/trigger``, ``/action-timestamp``)
to submitted runs, default the namespace to the sensor's, and go through
:class:`~triggers.base.WorkflowSubmitter` with the firing, which makes submission idempotent.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from sensors.spec import API_VERSION, ArgoWorkflowTrigger, StandardK8sTrigger
from triggers.base import FireResult, Firing, TriggerError, WorkflowSubmitter

__all__ = ["ArgoWorkflowDriver", "K8sWorkflowDriver", "workflow_from_template"]

SENSOR_LABEL = "events.argoproj.io/sensor"
TRIGGER_LABEL = "events.argoproj.io/trigger"
TIMESTAMP_LABEL = "events.argoproj.io/action-timestamp"
WORKFLOW_TEMPLATE_LABEL = "workflows.argoproj.io/workflow-template"
CLUSTER_WORKFLOW_TEMPLATE_LABEL = "workflows.argoproj.io/cluster-workflow-template"
CRON_WORKFLOW_LABEL = "workflows.argoproj.io/cron-workflow"


def _metadata(resource: Mapping[str, Any]) -> dict[str, Any]:
    metadata = resource.get("metadata")
    return dict(metadata) if isinstance(metadata, Mapping) else {}


def _sensor_labels(firing: Firing) -> dict[str, str]:
    return {
        SENSOR_LABEL: firing.sensor,
        TRIGGER_LABEL: firing.trigger,
        TIMESTAMP_LABEL: str(int(time.time() * 1000)),
    }


async def _submit_workflow(
    submitter: WorkflowSubmitter, resource: Mapping[str, Any], firing: Firing, labels: Mapping[str, str]
) -> FireResult:
    if resource.get("kind") != "Workflow" or resource.get("apiVersion") != API_VERSION:
        raise TriggerError(
            f"creating {resource.get('apiVersion')}/{resource.get('kind')} is not supported (only Workflow)",
            retryable=False,
        )
    metadata = _metadata(resource)
    if not metadata.get("name") and not metadata.get("generateName"):
        raise TriggerError(
            "failed to trigger the workflow, neither name nor generateName is given", retryable=False
        )
    namespace = str(metadata.get("namespace") or firing.namespace)
    manifest = copy.deepcopy(dict(resource))
    merged = {**(metadata.get("labels") or {}), **labels}
    manifest["metadata"] = {**metadata, "labels": merged, "namespace": namespace}
    name = await submitter.submit(manifest, namespace=namespace, firing=firing, labels=labels)
    return FireResult({"workflow": name, "namespace": namespace})


def workflow_from_template(
    kind: str, template: Mapping[str, Any], name: str, namespace: str
) -> dict[str, Any]:
    """The Workflow ``argo submit --from <kind>/<name>`` creates."""
    spec = template.get("spec") if isinstance(template.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    labels: dict[str, Any] = {}
    annotations: dict[str, Any] = {}
    if kind == "CronWorkflow":
        workflow_spec = copy.deepcopy(dict(spec.get("workflowSpec") or {}))
        meta = spec.get("workflowMetadata") or {}
        labels[CRON_WORKFLOW_LABEL] = name
    else:
        cluster = kind == "ClusterWorkflowTemplate"
        workflow_spec = {"workflowTemplateRef": {"name": name, **({"clusterScope": True} if cluster else {})}}
        meta = spec.get("workflowMetadata") or {}
        labels[CLUSTER_WORKFLOW_TEMPLATE_LABEL if cluster else WORKFLOW_TEMPLATE_LABEL] = name
    if isinstance(meta, Mapping):
        labels = {**(meta.get("labels") or {}), **labels}
        annotations = dict(meta.get("annotations") or {})
    metadata: dict[str, Any] = {"generateName": f"{name}-", "namespace": namespace, "labels": labels}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": API_VERSION, "kind": "Workflow", "metadata": metadata, "spec": workflow_spec}


class ArgoWorkflowDriver:
    kind: ClassVar[str] = "argoWorkflow"

    def __init__(self, submitter: WorkflowSubmitter) -> None:
        self._submitter = submitter

    async def fire(self, spec: ArgoWorkflowTrigger, firing: Firing) -> FireResult:
        resource = spec.source.resource if spec.source is not None else None
        if resource is None:
            raise TriggerError("failed to interpret the trigger resource", retryable=False)
        operation = spec.operation or "submit"
        if operation == "submit":
            return await _submit_workflow(self._submitter, resource, firing, _sensor_labels(firing))
        if operation != "submit-from":
            raise TriggerError(f"operation {operation!r} is not supported", retryable=False)
        metadata = _metadata(resource)
        name = str(metadata.get("name") or "")
        if not name:
            raise TriggerError(
                "failed to execute the workflow submit-from operation, no name is given", retryable=False
            )
        kinds = {"cronworkflow": "CronWorkflow", "workflowtemplate": "WorkflowTemplate"}
        kind = kinds.get(str(resource.get("kind", "")).lower())
        if kind is None:
            raise TriggerError(f"invalid kind {resource.get('kind')}", retryable=False)
        namespace = str(metadata.get("namespace") or firing.namespace)
        template = await self._submitter.template(kind, namespace, name)
        if template is None:
            raise TriggerError(f"{kind} {namespace}/{name} not found")
        manifest = workflow_from_template(kind, template, name, namespace)
        workflow = await self._submitter.submit(
            manifest, namespace=namespace, firing=firing, labels=manifest["metadata"]["labels"]
        )
        return FireResult({"workflow": workflow, "namespace": namespace})


class K8sWorkflowDriver:
    kind: ClassVar[str] = "k8s"

    def __init__(self, submitter: WorkflowSubmitter) -> None:
        self._submitter = submitter

    async def fire(self, spec: StandardK8sTrigger, firing: Firing) -> FireResult:
        operation = spec.operation or "create"
        if operation != "create":
            raise TriggerError(f"operation {operation!r} is not supported", retryable=False)
        resource = spec.source.resource if spec.source is not None else None
        if resource is None:
            raise TriggerError("failed to interpret the trigger resource", retryable=False)
        return await _submit_workflow(self._submitter, resource, firing, _sensor_labels(firing))
