"""Argo templates: container, script, steps, dag and suspend, and the steps/tasks that call them."""

from __future__ import annotations

from typing import Any

from workflow_runtime.spec.base import AnyString, ArgoModel, IntOrString, NotSupported, Passive
from workflow_runtime.spec.common import (
    Arguments,
    ArtifactLocation,
    ContinueOn,
    Inputs,
    LifecycleHook,
    Memoize,
    Outputs,
    RetryStrategy,
    Sequence,
    Synchronization,
    TemplateRef,
)


class EnvVar(ArgoModel):
    name: str
    value: AnyString | None = None
    value_from: NotSupported = None


class Container(ArgoModel):
    """A step's process: image, command, args, env and working directory."""

    name: str | None = None
    image: str | None = None
    command: list[AnyString] | None = None
    args: list[AnyString] | None = None
    env: list[EnvVar] | None = None
    working_dir: str | None = None
    resources: Passive = None
    image_pull_policy: Passive = None
    security_context: Passive = None
    ports: Passive = None
    liveness_probe: Passive = None
    readiness_probe: Passive = None
    startup_probe: Passive = None
    termination_message_path: Passive = None
    termination_message_policy: Passive = None
    stdin: Passive = None
    stdin_once: Passive = None
    env_from: NotSupported = None
    volume_mounts: NotSupported = None
    volume_devices: NotSupported = None
    lifecycle: NotSupported = None
    tty: NotSupported = None
    resize_policy: Passive = None
    restart_policy: NotSupported = None


class ScriptTemplate(Container):
    """A container whose ``source`` is written to a file and passed to ``command``."""

    source: str | None = None


class SuspendTemplate(ArgoModel):
    duration: IntOrString | None = None


class WorkflowStep(ArgoModel):
    """One entry of a ``steps`` group."""

    name: str | None = None
    template: str | None = None
    template_ref: TemplateRef | None = None
    inline: NotSupported = None
    arguments: Arguments | None = None
    with_items: list[Any] | None = None
    with_param: str | None = None
    with_sequence: Sequence | None = None
    when: str | None = None
    continue_on: ContinueOn | None = None
    on_exit: str | None = None
    hooks: dict[str, LifecycleHook] | None = None


class DAGTask(ArgoModel):
    """One node of a ``dag`` template."""

    name: str
    template: str | None = None
    template_ref: TemplateRef | None = None
    inline: NotSupported = None
    arguments: Arguments | None = None
    dependencies: list[str] | None = None
    depends: str | None = None
    with_items: list[Any] | None = None
    with_param: str | None = None
    with_sequence: Sequence | None = None
    when: str | None = None
    continue_on: ContinueOn | None = None
    on_exit: str | None = None
    hooks: dict[str, LifecycleHook] | None = None


Invocation = WorkflowStep | DAGTask
"""Anything that calls a template with arguments."""


class DAGTemplate(ArgoModel):
    target: str | None = None
    tasks: list[DAGTask]
    fail_fast: bool | None = None


class Template(ArgoModel):
    """A unit of work. Exactly one of container, script, steps, dag, suspend defines its kind."""

    name: str | None = None
    inputs: Inputs | None = None
    outputs: Outputs | None = None
    container: Container | None = None
    script: ScriptTemplate | None = None
    steps: list[list[WorkflowStep]] | None = None
    dag: DAGTemplate | None = None
    suspend: SuspendTemplate | None = None
    retry_strategy: RetryStrategy | None = None
    active_deadline_seconds: IntOrString | None = None
    timeout: str | None = None
    parallelism: int | None = None
    fail_fast: bool | None = None
    metadata: Passive = None
    annotations: dict[str, AnyString] | None = None
    node_selector: Passive = None
    affinity: Passive = None
    tolerations: Passive = None
    scheduler_name: Passive = None
    priority_class_name: Passive = None
    priority: Passive = None
    service_account_name: Passive = None
    automount_service_account_token: Passive = None
    security_context: Passive = None
    executor: Passive = None
    metrics: Passive = None
    pod_spec_patch: NotSupported = None
    resource: NotSupported = None
    data: NotSupported = None
    http: NotSupported = None
    container_set: NotSupported = None
    plugin: NotSupported = None
    daemon: NotSupported = None
    sidecars: NotSupported = None
    init_containers: NotSupported = None
    volumes: NotSupported = None
    host_aliases: NotSupported = None
    memoize: Memoize | None = None
    synchronization: Synchronization | None = None
    archive_location: ArtifactLocation | None = None

    @property
    def kind(self) -> str:
        """Which of the template kinds this is ("container", "script", "steps", "dag", "suspend")."""
        for kind in ("container", "script", "steps", "dag", "suspend"):
            if getattr(self, kind) is not None:
                return kind
        return ""
