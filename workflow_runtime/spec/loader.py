"""Read Argo manifests (YAML or JSON, one or many documents) into spec models."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from workflow_runtime.spec.errors import Issue, ManifestError, issues_from_validation
from workflow_runtime.spec.workflow import (
    API_VERSION,
    ClusterWorkflowTemplate,
    Workflow,
    WorkflowTemplate,
)

WorkflowKind = Workflow | WorkflowTemplate | ClusterWorkflowTemplate

WORKFLOW_KINDS: dict[str, type[WorkflowKind]] = {
    "Workflow": Workflow,
    "WorkflowTemplate": WorkflowTemplate,
    "ClusterWorkflowTemplate": ClusterWorkflowTemplate,
}


def parse_documents(text: str, source: str = "") -> list[dict[str, Any]]:
    """Split a YAML (or JSON, a subset of YAML) stream into mapping documents.

    Raises :class:`ManifestError` with the line and column of a syntax error.
    """
    try:
        docs = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ManifestError([Issue("", f"malformed YAML at {where}: {exc.problem}")], source) from exc
    except yaml.YAMLError as exc:
        raise ManifestError([Issue("", f"malformed YAML: {exc}")], source) from exc
    for index, doc in enumerate(docs):
        if not isinstance(doc, dict):
            where = f"document {index + 1}" if len(docs) > 1 else "document"
            raise ManifestError([Issue("", f"{where} is a {type(doc).__name__}, expected a mapping")], source)
    return docs


def check_header(doc: dict[str, Any], kinds: dict[str, Any], source: str = "") -> str:
    """Validate ``apiVersion`` and ``kind``; return the kind."""
    issues: list[Issue] = []
    if doc.get("apiVersion") != API_VERSION:
        issues.append(Issue("apiVersion", f"must be {API_VERSION!r}, got {doc.get('apiVersion')!r}"))
    kind = doc.get("kind")
    if kind not in kinds:
        issues.append(Issue("kind", f"unsupported kind {kind!r}; expected one of {', '.join(kinds)}"))
    if issues:
        raise ManifestError(issues, source)
    return str(kind)


def load_workflow_kind(doc: dict[str, Any], source: str = "") -> WorkflowKind:
    """Validate one document as a Workflow, WorkflowTemplate or ClusterWorkflowTemplate."""
    kind = check_header(doc, WORKFLOW_KINDS, source)
    try:
        return WORKFLOW_KINDS[kind].model_validate(doc)
    except ValidationError as exc:
        raise ManifestError(issues_from_validation(exc), source) from exc


def load_workflow(doc: dict[str, Any], source: str = "") -> Workflow:
    manifest = load_workflow_kind(doc, source)
    if not isinstance(manifest, Workflow):
        raise ManifestError([Issue("kind", f"expected a Workflow, got {manifest.kind}")], source)
    return manifest
