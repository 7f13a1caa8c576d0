"""Argo's small building blocks: metadata, parameters, artifacts, arguments, retry and loop specs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from workflow_runtime.spec.base import AnyString, ArgoModel, IntOrString, NotSupported, Passive


class ObjectMeta(ArgoModel):
    """Kubernetes object metadata; fields Triggerfish does not use are kept as given."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    labels: dict[str, AnyString] | None = None
    annotations: dict[str, AnyString] | None = None
    uid: str | None = None
    creation_timestamp: str | None = None
    resource_version: str | None = None


class SuppliedValueFrom(ArgoModel):
    """Marker object: the value is supplied later (by ``resume``/``set`` on a suspend node)."""


class ValueFrom(ArgoModel):
    """Where an output (or input) parameter's value comes from."""

    path: str | None = None
    default: AnyString | None = None
    expression: str | None = None
    parameter: str | None = None
    supplied: SuppliedValueFrom | None = None
    json_path: NotSupported = None
    jq_filter: NotSupported = None
    event: NotSupported = None
    config_map_key_ref: NotSupported = None


class Parameter(ArgoModel):
    """An input, output or argument parameter. Values are strings, as in Argo."""

    name: str
    value: AnyString | None = None
    default: AnyString | None = None
    enum: list[AnyString] | None = None
    description: AnyString | None = None
    global_name: str | None = None
    value_from: ValueFrom | None = None


class RawArtifact(ArgoModel):
    data: str


class HTTPHeader(ArgoModel):
    name: str
    value: str


class HTTPArtifact(ArgoModel):
    url: str
    headers: list[HTTPHeader] | None = None
    auth: NotSupported = None


class SecretKeySelector(ArgoModel):
    name: str | None = None
    key: str
    optional: bool | None = None


class S3Artifact(ArgoModel):
    endpoint: str | None = None
    bucket: str | None = None
    key: str | None = None
    region: str | None = None
    insecure: bool | None = None
    access_key_secret: SecretKeySelector | None = None
    secret_key_secret: SecretKeySelector | None = None
    use_sdk_creds: bool | None = Field(default=None, alias="useSDKCreds")
    create_bucket_if_not_present: Passive = None
    encryption_options: NotSupported = None
    ca_secret: NotSupported = None
    role_arn: NotSupported = Field(default=None, alias="roleARN")
    session_token_secret: NotSupported = None


class TarStrategy(ArgoModel):
    compression_level: int | None = None


class ArchiveStrategy(ArgoModel):
    tar: TarStrategy | None = None
    none: dict[str, Any] | None = None
    zip: NotSupported = None


class Artifact(ArgoModel):
    """An input or output artifact (a file or directory handed between steps)."""

    name: str
    path: str | None = None
    mode: int | None = None
    from_: str | None = Field(default=None, alias="from")
    from_expression: str | None = None
    optional: bool | None = None
    global_name: str | None = None
    sub_path: str | None = None
    archive: ArchiveStrategy | None = None
    archive_logs: bool | None = None
    raw: RawArtifact | None = None
    http: HTTPArtifact | None = None
    s3: S3Artifact | None = None
    recurse_mode: bool | None = None
    deleted: bool | None = None
    git: NotSupported = None
    gcs: NotSupported = None
    hdfs: NotSupported = None
    oss: NotSupported = None
    azure: NotSupported = None
    artifactory: NotSupported = None
    plugin: NotSupported = None
    artifact_gc: NotSupported = Field(default=None, alias="artifactGC")

    def has_location_or_key(self) -> bool:
        """Argo's ``HasLocationOrKey``: raw data, a URL, or an S3 key or bucket (a key alone: the
        workflow's repository)."""
        if self.raw is not None:
            return True
        if self.http is not None and self.http.url:
            return True
        return self.s3 is not None and bool(self.s3.key or self.s3.bucket)


class ArtifactRepositoryRef(ArgoModel):
    """``spec.artifactRepositoryRef``: a repository by name (ConfigMap and key in Argo; here the
    hub's ``artifact_repositories`` setting, keyed ``<configMap>/<key>``)."""

    config_map: str | None = None
    key: str | None = None


class ArtifactLocation(ArgoModel):
    """A template's ``archiveLocation``: only ``archiveLogs`` is honoured; outputs go to the
    workflow's repository (a per-template repository is refused by name)."""

    archive_logs: bool | None = None
    s3: NotSupported = None
    raw: NotSupported = None
    http: NotSupported = None
    git: NotSupported = None
    gcs: NotSupported = None
    hdfs: NotSupported = None
    oss: NotSupported = None
    azure: NotSupported = None
    artifactory: NotSupported = None
    plugin: NotSupported = None


class Arguments(ArgoModel):
    parameters: list[Parameter] | None = None
    artifacts: list[Artifact] | None = None


class Inputs(ArgoModel):
    parameters: list[Parameter] | None = None
    artifacts: list[Artifact] | None = None


class Outputs(ArgoModel):
    parameters: list[Parameter] | None = None
    artifacts: list[Artifact] | None = None
    result: str | None = None
    exit_code: str | None = None


class Backoff(ArgoModel):
    """Delay between retries: ``duration * factor**attempt`` capped by ``cap``/``maxDuration``."""

    duration: IntOrString | None = None
    factor: IntOrString | None = None
    max_duration: IntOrString | None = None
    cap: IntOrString | None = None


RetryPolicy = Literal["Always", "OnFailure", "OnError", "OnTransientError"]


class RetryStrategy(ArgoModel):
    limit: IntOrString | None = None
    retry_policy: RetryPolicy | None = None
    backoff: Backoff | None = None
    expression: str | None = None
    affinity: Passive = None


class ContinueOn(ArgoModel):
    error: bool | None = None
    failed: bool | None = None


class Sequence(ArgoModel):
    """``withSequence``: a numeric range rendered through a printf format."""

    count: IntOrString | None = None
    start: IntOrString | None = None
    end: IntOrString | None = None
    format: str | None = None


class TemplateRef(ArgoModel):
    """A template inside a (Cluster)WorkflowTemplate stored in the hub."""

    name: str
    template: str
    cluster_scope: bool | None = None


class LifecycleHook(ArgoModel):
    template: str | None = None
    template_ref: TemplateRef | None = None
    arguments: Arguments | None = None
    expression: str | None = None


class WorkflowTemplateRef(ArgoModel):
    name: str
    cluster_scope: bool | None = None


class ConfigMapKeySelector(ArgoModel):
    name: str
    key: str | None = None
    """Required for a semaphore's limit; a memoization cache names only the ConfigMap."""
    optional: bool | None = None


class MemoizationCache(ArgoModel):
    config_map: ConfigMapKeySelector | None = None


class Memoize(ArgoModel):
    """Reuse a template's outputs from an earlier run with the same key (within ``maxAge``)."""

    key: str
    cache: MemoizationCache | None = None
    max_age: str | None = None


class Mutex(ArgoModel):
    name: str
    namespace: str | None = None
    database: NotSupported = None


class SemaphoreRef(ArgoModel):
    config_map_key_ref: ConfigMapKeySelector | None = None
    namespace: str | None = None
    database: NotSupported = None


class Synchronization(ArgoModel):
    """Mutexes and semaphores held while a workflow or a template runs (the singular forms are
    Argo's older spelling of one element of the lists)."""

    mutexes: list[Mutex] | None = None
    semaphores: list[SemaphoreRef] | None = None
    mutex: Mutex | None = None
    semaphore: SemaphoreRef | None = None

    def all_mutexes(self) -> list[Mutex]:
        return [*(self.mutexes or []), *([self.mutex] if self.mutex else [])]

    def all_semaphores(self) -> list[SemaphoreRef]:
        return [*(self.semaphores or []), *([self.semaphore] if self.semaphore else [])]
