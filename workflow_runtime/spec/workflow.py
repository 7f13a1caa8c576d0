"""Top-level Argo kinds: Workflow, WorkflowTemplate, ClusterWorkflowTemplate."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from workflow_runtime.spec.base import ArgoModel, IntOrString, NotSupported, Passive
from workflow_runtime.spec.common import (
    Arguments,
    ArtifactRepositoryRef,
    LifecycleHook,
    ObjectMeta,
    RetryStrategy,
    Synchronization,
    WorkflowTemplateRef,
)
from workflow_runtime.spec.template import Template

API_VERSION = "argoproj.io/v1alpha1"


class WorkflowSpec(ArgoModel):
    templates: list[Template] | None = None
    entrypoint: str | None = None
    arguments: Arguments | None = None
    on_exit: str | None = None
    hooks: dict[str, LifecycleHook] | None = None
    parallelism: int | None = None
    active_deadline_seconds: IntOrString | None = None
    template_defaults: Template | None = None
    workflow_template_ref: WorkflowTemplateRef | None = None
    retry_strategy: RetryStrategy | None = None
    shutdown: Literal["Stop", "Terminate"] | None = None
    suspend: bool | None = None
    service_account_name: Passive = None
    automount_service_account_token: Passive = None
    executor: Passive = None
    pod_gc: Passive = Field(default=None, alias="podGC")
    ttl_strategy: Passive = None
    ttl_seconds_after_finished: Passive = None
    node_selector: Passive = None
    affinity: Passive = None
    tolerations: Passive = None
    image_pull_secrets: Passive = None
    host_network: Passive = None
    dns_policy: Passive = None
    dns_config: Passive = None
    security_context: Passive = None
    pod_priority: Passive = None
    pod_priority_class_name: Passive = None
    priority: Passive = None
    scheduler_name: Passive = None
    pod_disruption_budget: Passive = None
    pod_metadata: Passive = None
    metrics: Passive = None
    workflow_metadata: Passive = None
    archive_logs: bool | None = None
    artifact_repository_ref: ArtifactRepositoryRef | None = None
    artifact_gc: NotSupported = Field(default=None, alias="artifactGC")
    volumes: NotSupported = None
    volume_claim_templates: NotSupported = None
    volume_claim_gc: NotSupported = Field(default=None, alias="volumeClaimGC")
    host_aliases: NotSupported = None
    pod_spec_patch: NotSupported = None
    synchronization: Synchronization | None = None


class Workflow(ArgoModel):
    api_version: str = API_VERSION
    kind: Literal["Workflow"] = "Workflow"
    metadata: ObjectMeta
    spec: WorkflowSpec
    status: Passive = None


class WorkflowTemplate(ArgoModel):
    api_version: str = API_VERSION
    kind: Literal["WorkflowTemplate"] = "WorkflowTemplate"
    metadata: ObjectMeta
    spec: WorkflowSpec


class ClusterWorkflowTemplate(ArgoModel):
    api_version: str = API_VERSION
    kind: Literal["ClusterWorkflowTemplate"] = "ClusterWorkflowTemplate"
    metadata: ObjectMeta
    spec: WorkflowSpec


AnyTemplateHolder = WorkflowTemplate | ClusterWorkflowTemplate
