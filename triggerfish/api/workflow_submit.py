"""``POST /api/v1/workflows/{namespace}/submit``: start a workflow from a WorkflowTemplate,
ClusterWorkflowTemplate or CronWorkflow, as ``argo submit --from kind/name`` does.

The workflow is built as Argo Server builds it: from a template, ``generateName: <template>-``, a
``workflowTemplateRef`` and the label ``workflows.argoproj.io/(cluster-)workflow-template``; from a
CronWorkflow, its ``workflowSpec`` with the label ``workflows.argoproj.io/cron-workflow``; both
with the source's ``workflowMetadata``. ``submitOptions`` then apply (``parameters`` as
``["name=value"]``, ``labels``/``annotations`` as ``"a=b,c=d"``, ``entryPoint``, ``name``,
``generateName``, ``serverDryRun``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel

from triggerfish.api import manifest_crud as crud
from triggerfish.api.auth import AUTHENTICATED
from triggerfish.api.common import hub_of, not_found, parameters_of
from triggerfish.api.errors import ApiError
from triggerfish.store.resources import Resource
from workflow_runtime.controller.controller import SubmitOptions
from workflow_runtime.cron import CRON_LABEL
from workflow_runtime.spec.loader import load_workflow
from workflow_runtime.spec.workflow import API_VERSION
from workflow_runtime.views import workflow_document

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"], dependencies=AUTHENTICATED)

SOURCE_KINDS: dict[str, crud.ResourceKind] = {
    alias: kind
    for kind, aliases in (
        (crud.WORKFLOW_TEMPLATE, ("workflowtemplate", "workflowtemplates", "wftmpl")),
        (crud.CLUSTER_WORKFLOW_TEMPLATE, ("clusterworkflowtemplate", "clusterworkflowtemplates", "cwftmpl")),
        (crud.CRON_WORKFLOW, ("cronworkflow", "cronworkflows", "cronwf", "cwf")),
    )
    for alias in aliases
}
"""Kinds a workflow can be submitted from, by the names Argo accepts (case-insensitive)."""

SOURCE_LABELS = {
    "WorkflowTemplate": "workflows.argoproj.io/workflow-template",
    "ClusterWorkflowTemplate": "workflows.argoproj.io/cluster-workflow-template",
    "CronWorkflow": CRON_LABEL,
}


class SubmitOpts(BaseModel):
    """Argo's ``SubmitOpts`` (``serviceAccount``, ``priority``… are accepted and have no effect)."""

    name: str | None = None
    generateName: str | None = None
    entryPoint: str | None = None
    parameters: list[str] | None = None
    labels: str | None = None
    annotations: str | None = None
    serverDryRun: bool = False
    dryRun: bool = False
    serviceAccount: str | None = None
    podPriorityClassName: str | None = None
    priority: int | None = None
    ownerReference: dict[str, Any] | None = None


class SubmitRequest(BaseModel):
    """``WorkflowSubmitRequest``."""

    resourceKind: str
    resourceName: str
    namespace: str | None = None
    submitOptions: SubmitOpts | None = None


def source_kind(name: str) -> crud.ResourceKind:
    kind = SOURCE_KINDS.get(name.lower())
    if kind is None:
        raise ApiError(
            400, "resourceKind must be either a CronWorkflow, WorkflowTemplate or ClusterWorkflowTemplate"
        )
    return kind


def _pairs(text: str | None, field: str) -> dict[str, str]:
    """``a=b,c=d`` (Argo's form for labels and annotations)."""
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ApiError(400, f"submitOptions.{field}: expected key=value[,key=value], got {item!r}")
        out[key.strip()] = value.strip()
    return out


def workflow_from(source: Resource) -> dict[str, Any]:
    """The Workflow manifest Argo builds from a template or CronWorkflow."""
    spec = source.manifest.get("spec") or {}
    extra = spec.get("workflowMetadata") or {}
    labels = {**(extra.get("labels") or {}), SOURCE_LABELS[source.kind]: source.name}
    metadata: dict[str, Any] = {"generateName": f"{source.name}-", "labels": labels}
    if extra.get("annotations"):
        metadata["annotations"] = dict(extra["annotations"])
    if source.kind == "CronWorkflow":
        workflow_spec = dict(spec.get("workflowSpec") or {})
    else:
        ref: dict[str, Any] = {"name": source.name}
        if source.kind == "ClusterWorkflowTemplate":
            ref["clusterScope"] = True
        workflow_spec = {"workflowTemplateRef": ref}
    return {"apiVersion": API_VERSION, "kind": "Workflow", "metadata": metadata, "spec": workflow_spec}


@router.post("/{namespace}/submit")
async def submit_workflow(
    namespace: str, request: Request, body: Annotated[SubmitRequest, Body()]
) -> dict[str, Any]:
    """404 if the source does not exist; 400 with details if the resulting workflow is invalid."""
    hub = hub_of(request)
    kind = source_kind(body.resourceKind)
    options = body.submitOptions or SubmitOpts()
    parameters = parameters_of(options.parameters, "submitOptions.parameters")
    labels = _pairs(options.labels, "labels")
    annotations = _pairs(options.annotations, "annotations")
    source = await hub.resources.get(kind.kind, kind.scope(namespace), body.resourceName)
    if source is None:
        raise not_found(kind.plural, body.resourceName)
    manifest = workflow_from(source)
    if options.generateName:
        manifest["metadata"]["generateName"] = options.generateName
    if annotations:
        manifest["metadata"]["annotations"] = {**manifest["metadata"].get("annotations", {}), **annotations}
    submit = SubmitOptions(
        namespace=namespace,
        parameters=parameters,
        entrypoint=options.entryPoint or None,
        labels=labels or None,
        name=options.name or None,
    )
    workflow = load_workflow(manifest, f"{kind.kind.lower()}/{body.resourceName}")
    if options.serverDryRun or options.dryRun:
        prepared, _, _ = await hub.controller.prepare(workflow, submit)
        return prepared.to_argo()
    return workflow_document(await hub.controller.submit(workflow, submit), [])
