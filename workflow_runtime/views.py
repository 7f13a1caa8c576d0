"""Workflows as Argo's JSON documents (``metadata``, ``spec``, ``status`` with ``nodes``)."""

from __future__ import annotations

from typing import Any

from triggerfish.store.workflows import WorkflowRecord

FINISHED = ("Succeeded", "Failed", "Error")


def workflow_document(record: WorkflowRecord, nodes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The stored manifest with its current status, shaped like ``kubectl get workflow -o json``."""
    document = dict(record.manifest)
    metadata = dict(document.get("metadata") or {})
    metadata.update(
        name=record.name,
        namespace=record.namespace,
        uid=record.uid,
        labels={
            **record.labels,
            "workflows.argoproj.io/phase": record.phase,
            "workflows.argoproj.io/completed": "true" if record.phase in FINISHED else "false",
        },
        resourceVersion=str(record.version),
    )
    document["metadata"] = metadata
    hidden = ("storedTemplates", "storedWorkflowTemplateSpec", "shutdown", "suspended")
    status = {k: v for k, v in record.status.items() if k not in hidden}
    spec = dict(document.get("spec") or {})
    if record.status.get("shutdown"):  # lifecycle commands show in the spec, where Argo keeps them
        spec["shutdown"] = record.status["shutdown"]
    if record.status.get("suspended"):
        spec["suspend"] = True
    document["spec"] = spec
    status["phase"] = record.phase
    if record.message:
        status["message"] = record.message
    if nodes is not None:
        status["nodes"] = {node["id"]: node for node in nodes}
    document["status"] = status
    return document
