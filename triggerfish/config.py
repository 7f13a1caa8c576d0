"""Hub configuration: defaults, then a YAML file, then ``TRIGGERFISH_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "triggerfish"


class ImageEntry(BaseModel):
    """What a container image would run, for executors that run steps without the image."""

    entrypoint: list[str] = Field(default_factory=list)
    cmd: list[str] = Field(default_factory=list)


class LocalExecutorSettings(BaseModel):
    isolation: Literal["overlay", "none"] = "overlay"
    """``overlay``: each step sees a private copy-on-write view of the host filesystem."""
    max_parallel_steps: int = 64
    images: dict[str, ImageEntry] = Field(default_factory=dict)
    """Extra image → entrypoint entries, on top of the built-in table."""


class ContainerExecutorSettings(BaseModel):
    """For ``executor.kind`` podman, docker or auto: every step in its own container."""

    network: str = "host"
    """``--network`` of every step; ``host`` lets steps reach services on the host's loopback."""
    run_args: list[str] = Field(default_factory=list)
    """Extra ``run`` flags for every step, e.g. ``["--pids-limit", "512"]``."""
    pull_policy: Literal["never", "missing"] = "missing"
    docker_host: str | None = None
    """docker's ``-H`` (e.g. ``unix:///run/docker.sock``); by default the CLI's (``DOCKER_HOST``)."""
    max_parallel_steps: int = 32


class ExecutorSettings(BaseModel):
    kind: Literal["local", "podman", "docker", "auto"] = "local"
    """``auto``: podman if installed, else docker if it has a daemon to talk to, else local."""
    local: LocalExecutorSettings = Field(default_factory=LocalExecutorSettings)
    container: ContainerExecutorSettings = Field(default_factory=ContainerExecutorSettings)
    kill_grace_seconds: float = 30.0
    keep_step_files: bool = False


class KafkaBusSettings(BaseModel):
    """The scale-out bus (``bus.kind: kafka``): one topic, one consumer group per sensor."""

    bootstrap: str = "127.0.0.1:9092"
    """Comma-separated ``host:port`` list of brokers."""
    topic: str = "triggerfish.events"
    group_prefix: str | None = None
    """Prefix of consumer group names (default ``<topic>.``), e.g. ``triggerfish.events.sensor/ns/name``."""
    partitions: int = 12
    """Partitions of the topic when the hub creates it: at most this many replicas share one sensor."""
    replication_factor: int = 1
    session_timeout_ms: int = 10_000
    """How soon a dead replica's partitions move to the others."""
    linger_ms: int = 0
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure_skip_verify: bool = False


class BusSettings(BaseModel):
    kind: Literal["sqlite", "kafka"] = "sqlite"
    """``sqlite``: the durable log in the hub's database (embedded); ``kafka``: scale-out."""
    retention_max_age_seconds: float | None = 7 * 24 * 3600.0
    """Events older than this are deleted from the embedded bus (a week by default); for Kafka,
    the ``retention.ms`` of a topic the hub creates and the age of its dedupe index."""
    retention_max_records: int | None = 1_000_000
    """Embedded bus only (Kafka retains by age and segment size)."""
    kafka: KafkaBusSettings = Field(default_factory=KafkaBusSettings)


class ClusterSettings(BaseModel):
    """Several hub replicas on one PostgreSQL database (see the README's "Scale-out profile")."""

    ownership: Literal["auto", "on", "off"] = "auto"
    """Workflow leases between replicas; ``auto``: on when the database is PostgreSQL."""
    replica_id: str | None = None
    """This replica's name in ``workflows.owner``; default ``<hostname>:<hash of data_dir>``, stable
    across restarts so a restarted replica takes its own runs back."""
    lease_seconds: float = 10.0
    scan_interval_seconds: float = 2.0
    """How often expired leases are looked for (a dead replica's runs resume within lease + this)."""


class EventSettings(BaseModel):
    calendar_max_catchup: int = 100
    """At most this many calendar ticks missed during downtime are fired on restart."""
    s3_auth_token: str | None = None
    """When set, S3/MinIO notifications must carry ``Authorization: Bearer <token>``."""


class TokenGrant(BaseModel):
    """One API bearer token: who it is, which namespaces it reaches, and whether it may change them."""

    model_config = {"extra": "forbid"}

    name: str
    """Shown as the caller's subject (``/api/v1/userinfo``) and in 403 messages."""
    token: str | None = None
    token_sha256: str | None = None
    """The token's SHA-256 (hex) instead of the token itself, to keep secrets out of the file."""
    namespaces: list[str] = Field(default_factory=lambda: ["*"])
    """Namespaces the token reaches; ``*`` is all of them (and cluster-scoped resources)."""
    access: Literal["read", "write"] = "read"

    @model_validator(mode="after")
    def _one_secret(self) -> TokenGrant:
        if (self.token is None) == (self.token_sha256 is None):
            raise ValueError(f"token {self.name!r}: set exactly one of token and token_sha256")
        return self


class AuthSettings(BaseModel):
    tokens: list[TokenGrant] = Field(default_factory=list)
    """API bearer tokens. None configured: the API is open (the embedded default, on loopback)."""


class SecretRef(BaseModel):
    """A key of one of the hub's ``secrets`` (Argo's ``secretKeySelector``)."""

    model_config = {"extra": "forbid"}

    name: str
    key: str


class S3RepositorySettings(BaseModel):
    """An S3 bucket (AWS, MinIO or any S3 API) as the artifact repository; credentials come from
    the hub's ``secrets`` (none given: boto3's own chain, e.g. ``AWS_ACCESS_KEY_ID``)."""

    model_config = {"extra": "forbid"}

    bucket: str
    endpoint: str | None = None
    """``host:port`` (``127.0.0.1:9000``) or a URL; unset is AWS."""
    region: str | None = None
    insecure: bool = False
    """Plain HTTP to ``host:port`` endpoints (and no certificate check)."""
    access_key_secret: SecretRef | None = None
    secret_key_secret: SecretRef | None = None
    create_bucket_if_not_present: bool = False


class ArtifactRepositorySettings(BaseModel):
    """Argo's ``artifactRepository``: where outputs without a location of their own are stored."""

    model_config = {"extra": "forbid"}

    local_dir: Path | None = None
    """A directory on the hub's host; the default repository is ``<data_dir>/artifacts``."""
    s3: S3RepositorySettings | None = None
    """An S3 bucket instead of a directory."""
    key_format: str = "{{workflow.name}}/{{pod.name}}"
    """Where a step's outputs go inside the repository (Argo's ``keyFormat``)."""
    archive_logs: bool = False
    """Store every step's output as the artifact ``main-logs`` (Argo's ``archiveLogs``)."""

    @model_validator(mode="after")
    def _one_kind(self) -> ArtifactRepositorySettings:
        if self.local_dir is not None and self.s3 is not None:
            raise ValueError("artifact repository: set local_dir or s3, not both")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIGGERFISH_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    """SQLAlchemy URL; defaults to SQLite in the data directory."""
    namespace: str = "default"
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    host: str = "127.0.0.1"
    """Where the hub's extra event-source ports listen (the API host is a server flag)."""
    auth: AuthSettings = Field(default_factory=AuthSettings)
    semaphores: dict[str, int] = Field(default_factory=dict)
    """Limits of synchronization semaphores, keyed ``configmap/key`` or ``namespace/configmap/key``
    (what Argo reads from the ConfigMap a semaphore's ``configMapKeyRef`` names)."""
    secrets: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Kubernetes-style secrets for manifests' secret references: ``{name: {key: value}}``."""
    artifact_repository: ArtifactRepositorySettings = Field(default_factory=ArtifactRepositorySettings)
    """The default artifact repository (Argo's ``artifactRepository``)."""
    artifact_repositories: dict[str, ArtifactRepositorySettings] = Field(default_factory=dict)
    """Repositories a workflow's ``spec.artifactRepositoryRef`` can name, keyed ``<configMap>/<key>``."""

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'triggerfish.db'}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from an optional YAML file; explicit overrides (CLI flags) win over everything."""
    values: dict[str, Any] = {}
    if config_file is not None:
        loaded = yaml.safe_load(config_file.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{config_file}: expected a mapping of settings")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
