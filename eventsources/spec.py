"""The Argo Events ``EventSource`` kind (``argoproj.io/v1alpha1``), field for field.

Models mirror ``pkg/apis/events/v1alpha1`` of Argo Events (``eventsource_types.go``,
``webhook_context.go``, ``s3.go``): the same camelCase names, the same validation as each source's
``validate.go``. Five source kinds run: ``webhook``, ``github``, ``calendar``, ``minio`` and
``kafka``. Every other kind is refused by name (``spec.amqp: not supported by Triggerfish
yet``), and so is every field that would change behaviour but is not implemented. Fields that
only matter to Argo's Kubernetes deployment (``template``, ``service``, ``replicas``,
``eventBusName``) are kept and have no effect: Triggerfish runs every source as a task of the
hub, on its one bus.

Decisions worth knowing (the README's "Event sources" section says the same):

* **GitHub hooks are not created.** Argo Events registers the webhook in GitHub itself when
  ``apiToken`` (or ``githubApp``) *and* ``webhook.url`` are set, and deletes it on shutdown with
  ``deleteHookOnFinish``. Triggerfish does not call the GitHub API, so that combination is refused
  at ``…apiToken`` (or ``…githubApp``) with the reason; register the hook in GitHub (payload URL =
  the hub's address + ``webhook.endpoint``, secret = the ``webhookSecret`` value) and drop
  ``apiToken`` or ``webhook.url``. Without ``webhook.url`` Argo does not create hooks either, so
  ``apiToken``/``githubApp`` alone are accepted and unused, as are the hook-creation settings
  ``active``, ``insecure``, ``contentType``, ``githubBaseURL``, ``githubUploadURL``,
  ``deleteHookOnFinish`` and ``webhook.url``. The ``events`` list, which in Argo only configures
  the hook, is enforced on receipt instead (see :mod:`eventsources.github`).
* **MinIO is pushed to, not polled.** Argo's ``minio`` source calls MinIO's
  ``ListenBucketNotification`` API with ``accessKey``/``secretKey``. Triggerfish receives the
  bucket notifications MinIO (or any S3 server with webhook notifications) POSTs to
  ``/s3/<namespace>/<eventsource>/<eventName>`` on the hub port, so ``endpoint``, ``region``,
  ``insecure``, ``accessKey``, ``secretKey``, ``caCertificate`` and ``bucket.key`` are accepted
  and unused; configure the server's webhook target instead (see :mod:`eventsources.s3`).
* **Calendar persistence lives in the hub's database.** ``persistence.configMap`` names where Argo
  keeps the last tick; Triggerfish always keeps it in the ``schedule_ticks`` table, so the field is
  accepted and unused, and ``persistence.catchup`` works without it.
* Refused as not supported: TLS on a source's own port (``serverCertSecret``/``serverKeySecret``),
  ``basicAuth``, the per-source ``filter.expression`` of webhook/github/calendar, and
  ``githubApp``/``apiToken`` hook management as above.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final, Literal

import yaml
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from triggerfish.expressions.gotime import parse_duration
from triggerfish.schedule import Schedule, ScheduleError, parse_exclusion_dates, parse_interval
from workflow_runtime.spec.base import AnyString, ArgoModel, IntOrString, NotSupported, Passive
from workflow_runtime.spec.common import ObjectMeta, SecretKeySelector
from workflow_runtime.spec.errors import Issue, ManifestError, issues_from_validation

API_VERSION: Final = "argoproj.io/v1alpha1"
KIND: Final = "EventSource"
DEFAULT_MAX_PAYLOAD_SIZE = 1_048_576
"""Argo's ``DefaultMaxWebhookPayloadSize`` (1 MiB)."""

SUPPORTED_KINDS = ("webhook", "github", "calendar", "minio", "kafka")
"""Source kinds that run, in the order they appear in ``EventSourceSpec``."""

_HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid", message)


# ------------------------------------------------------------------------------------- shared


class EventSourceFilter(ArgoModel):
    """Argo's per-source ``filter.expression``, evaluated on the event before it is dispatched."""

    expression: str | None = None


class BasicAuth(ArgoModel):
    username: SecretKeySelector | None = None
    password: SecretKeySelector | None = None


class WebhookContext(ArgoModel):
    """Argo's ``WebhookContext``: where and how an HTTP source listens.

    The route is served on the hub's HTTP port at ``endpoint`` and, for compatibility with
    manifests written for Argo's one-pod-per-source layout, on ``port`` as well.
    """

    endpoint: str
    method: str | None = None
    port: IntOrString
    url: str | None = None
    """The externally reachable base URL; Argo uses it only to register GitHub hooks."""
    server_cert_secret: NotSupported = None
    server_key_secret: NotSupported = None
    metadata: dict[str, AnyString] | None = None
    auth_secret: SecretKeySelector | None = None
    """A bearer token every request must carry (``Authorization: Bearer <token>``)."""
    max_payload_size: int | None = None
    basic_auth: NotSupported = None

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_a_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise _invalid(f"endpoint must be a path starting with '/', got {value!r}")
        return value

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str | None) -> str | None:
        if value is None:
            return None
        method = value.upper()
        if method not in _HTTP_METHODS:
            raise _invalid(f"unknown HTTP method {value!r}")
        return method

    @field_validator("port")
    @classmethod
    def _port_number(cls, value: str) -> str:
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise _invalid(f"port must be a number between 1 and 65535, got {value!r}")
        return value

    @field_validator("max_payload_size")
    @classmethod
    def _positive_size(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise _invalid("maxPayloadSize must be positive")
        return value

    @property
    def port_number(self) -> int:
        return int(self.port)

    @property
    def payload_limit(self) -> int:
        return self.max_payload_size or DEFAULT_MAX_PAYLOAD_SIZE


# ------------------------------------------------------------------------------------ webhook


class WebhookEventSource(WebhookContext):
    """``spec.webhook.<name>``: any HTTP client posting JSON (or a form, or a GET query).

    ``method`` is required: Argo Events accepts a manifest without one but then refuses every request.
    """

    method: str
    filter: NotSupported = None


# ------------------------------------------------------------------------------------- github


class OwnedRepositories(ArgoModel):
    owner: str | None = None
    names: list[str] | None = None


class GithubAppCreds(ArgoModel):
    private_key: SecretKeySelector | None = None
    app_id: int | None = Field(default=None, alias="appID")
    installation_id: int | None = Field(default=None, alias="installationID")


_NO_HOOK_CREATION = (
    "not supported by Triggerfish yet: Triggerfish does not create GitHub webhooks through the GitHub "
    "API (Argo Events does when {field} and webhook.url are both set); register the hook in GitHub "
    "with the hub's URL + webhook.endpoint and the webhookSecret, then remove {field} or webhook.url"
)


class GithubEventSource(ArgoModel):
    """``spec.github.<name>``: GitHub webhook deliveries, HMAC-verified with ``webhookSecret``."""

    id: Passive = None
    """Deprecated in Argo Events and unused there."""
    webhook: WebhookContext | None = None
    owner: str | None = None
    """Deprecated ``owner`` (use ``repositories``)."""
    repository: str | None = None
    """Deprecated ``repository`` (use ``repositories``)."""
    events: list[str] | None = None
    api_token: SecretKeySelector | None = None
    webhook_secret: SecretKeySelector | None = None
    insecure: bool | None = None
    active: bool | None = None
    content_type: str | None = None
    github_base_url: str | None = Field(default=None, alias="githubBaseURL")
    github_upload_url: str | None = Field(default=None, alias="githubUploadURL")
    delete_hook_on_finish: bool | None = None
    metadata: dict[str, AnyString] | None = None
    repositories: list[OwnedRepositories] | None = None
    organizations: list[str] | None = None
    github_app: GithubAppCreds | None = None
    filter: NotSupported = None

    @field_validator("api_token")
    @classmethod
    def _no_hook_creation_token(
        cls, value: SecretKeySelector | None, info: ValidationInfo
    ) -> SecretKeySelector | None:
        webhook = info.data.get("webhook")
        if value is not None and isinstance(webhook, WebhookContext) and webhook.url:
            raise PydanticCustomError("not_supported", _NO_HOOK_CREATION.format(field="apiToken"))
        return value

    @field_validator("github_app")
    @classmethod
    def _no_hook_creation_app(
        cls, value: GithubAppCreds | None, info: ValidationInfo
    ) -> GithubAppCreds | None:
        webhook = info.data.get("webhook")
        if value is not None and value.private_key and isinstance(webhook, WebhookContext) and webhook.url:
            raise PydanticCustomError("not_supported", _NO_HOOK_CREATION.format(field="githubApp"))
        return value

    @field_validator("content_type")
    @classmethod
    def _json_or_form(cls, value: str | None) -> str | None:
        if value not in (None, "", "json", "form"):
            raise _invalid('content type must be "json" or "form"')
        return value

    @model_validator(mode="after")
    def _argo_rules(self) -> GithubEventSource:
        # pkg/eventsources/sources/github/validate.go
        if self.webhook is None:
            raise _invalid("webhook is required")
        owned = bool(self.repositories) or bool(self.owner and self.repository)
        if not owned and not self.organizations:
            raise _invalid("either repositories or organizations is required")
        if owned and self.organizations:
            raise _invalid("only one of repositories and organizations is allowed")
        if bool(self.github_base_url) != bool(self.github_upload_url):
            raise _invalid("githubBaseURL and githubUploadURL must be set together")
        return self

    @property
    def http(self) -> WebhookContext:
        assert self.webhook is not None  # enforced by validation
        return self.webhook

    def owned_repositories(self) -> list[OwnedRepositories]:
        if self.repositories:
            return list(self.repositories)
        if self.owner and self.repository:
            return [OwnedRepositories(owner=self.owner, names=[self.repository])]
        return []


# ----------------------------------------------------------------------------------- calendar


class CatchupConfiguration(ArgoModel):
    enabled: bool | None = None
    max_duration: str | None = None
    """A Go duration: missed ticks older than this are not fired."""

    @field_validator("max_duration")
    @classmethod
    def _go_duration(cls, value: str | None) -> str | None:
        if value:
            try:
                parsed = parse_duration(value)
            except ValueError as exc:
                raise _invalid(str(exc)) from None
            if parsed.total_seconds() <= 0:
                raise _invalid("maxDuration must be positive")
        return value


class ConfigMapPersistence(ArgoModel):
    """Where Argo keeps the last tick; Triggerfish keeps it in its database instead."""

    name: str | None = None
    create_if_not_exist: bool | None = None


class EventPersistence(ArgoModel):
    catchup: CatchupConfiguration | None = None
    config_map: ConfigMapPersistence | None = None


class CalendarEventSource(ArgoModel):
    """``spec.calendar.<name>``: a cron ``schedule`` or an ``interval``, in a ``timezone``."""

    schedule: str | None = None
    interval: str | None = None
    exclusion_dates: list[str] | None = None
    timezone: str | None = None
    metadata: dict[str, AnyString] | None = None
    persistence: EventPersistence | None = None
    filter: NotSupported = None

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value:
            try:
                Schedule.cron(value)
            except ScheduleError as exc:
                raise _invalid(str(exc)) from None
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value:
            try:
                parse_interval(value)
            except ScheduleError as exc:
                raise _invalid(str(exc)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value:
            try:
                Schedule.every("1s", value)
            except ScheduleError as exc:
                raise _invalid(str(exc)) from None
        return value

    @field_validator("exclusion_dates")
    @classmethod
    def _exclusions(cls, value: list[str] | None) -> list[str] | None:
        if value:
            try:
                parse_exclusion_dates(value)
            except ScheduleError as exc:
                raise _invalid(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _schedule_or_interval(self) -> CalendarEventSource:
        if not self.schedule and not self.interval:
            raise _invalid("must have either schedule or interval")
        return self

    def to_schedule(self) -> Schedule:
        """The tick rule; ``schedule`` wins over ``interval`` as in Argo Events."""
        return Schedule.calendar(self.schedule, self.interval, self.timezone, self.exclusion_dates or ())

    @property
    def catchup_enabled(self) -> bool:
        return bool(self.persistence and self.persistence.catchup and self.persistence.catchup.enabled)

    @property
    def catchup_max_duration(self) -> str | None:
        if self.persistence and self.persistence.catchup:
            return self.persistence.catchup.max_duration or None
        return None


# -------------------------------------------------------------------------------------- minio


class S3Bucket(ArgoModel):
    key: str | None = None
    """Unused by event sources (Argo uses it for artifacts)."""
    name: str


class S3Filter(ArgoModel):
    prefix: str | None = None
    suffix: str | None = None


class MinioEventSource(ArgoModel):
    """``spec.minio.<name>`` (Argo's ``S3Artifact``): notifications for one bucket.

    ``events`` uses S3's names (``s3:ObjectCreated:Put``) and wildcards (``s3:ObjectCreated:*``);
    an empty list means every event. Connection fields are accepted and unused (module docstring).
    """

    endpoint: str | None = None
    bucket: S3Bucket
    region: str | None = None
    insecure: bool | None = None
    access_key: SecretKeySelector | None = None
    secret_key: SecretKeySelector | None = None
    events: list[str] | None = None
    filter: S3Filter | None = None
    metadata: dict[str, AnyString] | None = None
    ca_certificate: SecretKeySelector | None = None

    @field_validator("events")
    @classmethod
    def _s3_event_names(cls, value: list[str] | None) -> list[str] | None:
        for name in value or ():
            parts = name.split(":")
            if len(parts) < 2 or parts[0] != "s3" or not all(parts) or "*" in ":".join(parts[:-1]):
                raise _invalid(
                    f"unknown event {name!r}: expected an S3 event name such as s3:ObjectCreated:*"
                )
            if "*" in parts[-1] and parts[-1] != "*":
                raise _invalid(f"unknown event {name!r}: '*' must be a whole name segment")
        return value


# -------------------------------------------------------------------------------------- kafka


class KafkaBackoff(ArgoModel):
    """``connectionBackoff``: ``steps`` attempts, ``duration`` x ``factor``^n apart (plus jitter)."""

    duration: int | str | None = None
    """An int is nanoseconds (Argo's Int64OrString), a string a Go duration such as ``"10s"``."""
    factor: float | str | None = None
    jitter: float | str | None = None
    steps: int = 0

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, str) and value:
            try:
                parse_duration(value)
            except ValueError as exc:
                raise _invalid(str(exc)) from None
        return value

    def delays(self) -> Iterator[float]:
        """Seconds between connection attempts (Argo's defaults: 1 s, factor 1, 5 steps)."""
        if self.duration is None:
            delay = 1.0
        elif isinstance(self.duration, int):
            delay = self.duration / 1e9
        else:
            delay = parse_duration(self.duration).total_seconds()
        factor = float(self.factor) if self.factor not in (None, "") else 1.0
        for _ in range(max((self.steps or 5) - 1, 1)):
            yield delay
            delay *= factor or 1.0


class TLSConfig(ArgoModel):
    """Client TLS: PEM texts from secrets (``caCertSecret``, ``clientCertSecret``/``clientKeySecret``)."""

    ca_cert_secret: SecretKeySelector | None = None
    client_cert_secret: SecretKeySelector | None = None
    client_key_secret: SecretKeySelector | None = None
    insecure_skip_verify: bool = False

    @model_validator(mode="after")
    def _cert_and_key(self) -> TLSConfig:
        if bool(self.client_cert_secret) != bool(self.client_key_secret):
            raise _invalid("clientCertSecret and clientKeySecret must be set together")
        return self


SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class SASLConfig(ArgoModel):
    """SASL: ``PLAIN``, ``SCRAM-SHA-256`` or ``SCRAM-SHA-512`` (``GSSAPI`` and ``OAUTHBEARER`` are
    refused by name: the Kafka client Triggerfish uses needs extra packages for them)."""

    mechanism: str = "PLAIN"
    user_secret: SecretKeySelector | None = None
    password_secret: SecretKeySelector | None = None

    @field_validator("mechanism")
    @classmethod
    def _known(cls, value: str) -> str:
        mechanism = (value or "PLAIN").upper()
        if mechanism in ("GSSAPI", "OAUTHBEARER"):
            raise PydanticCustomError(
                "not_supported", f"SASL mechanism {mechanism} is not supported by Triggerfish yet"
            )
        if mechanism not in SASL_MECHANISMS:
            raise _invalid(f"unknown SASL mechanism {value!r} (one of {', '.join(SASL_MECHANISMS)})")
        return mechanism


class KafkaConsumerGroup(ArgoModel):
    group_name: str
    oldest: bool = False
    """A group without committed offsets starts at the oldest record (else at new ones)."""
    rebalance_strategy: Literal["range", "roundrobin", "sticky", ""] = ""


class KafkaEventSource(ArgoModel):
    """``spec.kafka.<name>``: records of a Kafka topic (``pkg/eventsources/sources/kafka``).

    Either one ``partition`` (read from the newest record on, nothing committed, as in Argo) or a
    ``consumerGroup`` (replicas of the hub share the partitions; offsets are committed once the
    events are durable on the bus).
    """

    url: str
    topic: str
    partition: IntOrString | None = None
    connection_backoff: KafkaBackoff | None = None
    tls: TLSConfig | None = None
    json_body: bool = False
    metadata: dict[str, AnyString] | None = None
    consumer_group: KafkaConsumerGroup | None = None
    limit_events_per_second: int = 0
    version: Passive = None
    """The Kafka protocol version for Argo's client; Triggerfish's client negotiates it."""
    sasl: SASLConfig | None = None
    filter: NotSupported = None
    config: NotSupported = None

    @field_validator("url", "topic")
    @classmethod
    def _required(cls, value: str) -> str:
        if not value:
            raise _invalid("required field is empty")
        return value

    @field_validator("partition")
    @classmethod
    def _partition_number(cls, value: str | None) -> str | None:
        if value not in (None, "") and not str(value).isdigit():
            raise _invalid(f"partition must be a number, got {value!r}")
        return value

    @field_validator("limit_events_per_second")
    @classmethod
    def _positive_rate(cls, value: int) -> int:
        if value < 0:
            raise _invalid("limitEventsPerSecond must not be negative")
        return value

    @model_validator(mode="after")
    def _partition_or_group(self) -> KafkaEventSource:
        if self.consumer_group is None and self.partition in (None, ""):
            raise _invalid("either partition or consumerGroup is required")
        return self


# -------------------------------------------------------------------------------- the manifest


class EventSourceSpec(ArgoModel):
    event_bus_name: Passive = None
    template: Passive = None
    service: Passive = None
    replicas: Passive = None

    webhook: dict[str, WebhookEventSource] | None = None
    github: dict[str, GithubEventSource] | None = None
    calendar: dict[str, CalendarEventSource] | None = None
    minio: dict[str, MinioEventSource] | None = None
    kafka: dict[str, KafkaEventSource] | None = None

    # Argo Events' other kinds, refused by name until they are implemented.
    file: NotSupported = None
    resource: NotSupported = None
    amqp: NotSupported = None
    mqtt: NotSupported = None
    nats: NotSupported = None
    sns: NotSupported = None
    sqs: NotSupported = None
    pub_sub: NotSupported = None
    gitlab: NotSupported = None
    hdfs: NotSupported = None
    slack: NotSupported = None
    storage_grid: NotSupported = None
    azure_events_hub: NotSupported = None
    stripe: NotSupported = None
    emitter: NotSupported = None
    redis: NotSupported = None
    nsq: NotSupported = None
    pulsar: NotSupported = None
    generic: NotSupported = None
    bitbucketserver: NotSupported = None
    bitbucket: NotSupported = None
    redis_stream: NotSupported = None
    azure_service_bus: NotSupported = None
    azure_queue_storage: NotSupported = None
    sftp: NotSupported = None
    gerrit: NotSupported = None
    mns: NotSupported = None


class EventSource(ArgoModel):
    api_version: Literal["argoproj.io/v1alpha1"] = API_VERSION
    kind: Literal["EventSource"] = KIND
    metadata: ObjectMeta
    spec: EventSourceSpec
    status: Passive = None

    @property
    def name(self) -> str:
        return self.metadata.name or ""

    def entries(self) -> Iterator[tuple[str, str, Any]]:
        """``(kind, eventName, spec)`` for every event this source produces."""
        for kind in SUPPORTED_KINDS:
            for event_name, entry in (getattr(self.spec, kind) or {}).items():
                yield kind, event_name, entry


# ------------------------------------------------------------------------------------- loading


def _http_context(kind: str, entry: Any) -> WebhookContext | None:
    if kind == "webhook":
        return entry if isinstance(entry, WebhookContext) else None
    if kind == "github" and isinstance(entry, GithubEventSource):
        return entry.webhook
    return None


def check_event_source(event_source: EventSource) -> list[Issue]:
    """Rules that span entries: a name and one route per event (``pkg/eventsources`` validation)."""
    issues: list[Issue] = []
    if not event_source.metadata.name:
        issues.append(Issue("metadata.name", "required field is missing"))
    kinds = [kind for kind in SUPPORTED_KINDS if getattr(event_source.spec, kind)]
    if not kinds:
        issues.append(
            Issue("spec", "no event sources defined (expected one of " + ", ".join(SUPPORTED_KINDS) + ")")
        )
    seen_names: dict[str, str] = {}
    seen_routes: dict[tuple[int, str], str] = {}
    for kind, event_name, entry in event_source.entries():
        path = f"spec.{kind}.{event_name}"
        if event_name in seen_names:
            issues.append(
                Issue(path, f"event name {event_name!r} is also defined at {seen_names[event_name]}")
            )
        else:
            seen_names[event_name] = path
        http = _http_context(kind, entry)
        if http is not None:
            route = (http.port_number, http.endpoint)
            if route in seen_routes:
                issues.append(
                    Issue(
                        f"{path}.endpoint" if kind == "webhook" else f"{path}.webhook.endpoint",
                        f"port {route[0]} endpoint {route[1]} is already used by {seen_routes[route]}",
                    )
                )
            else:
                seen_routes[route] = path
    return issues


def load_event_source(doc: dict[str, Any] | str, source: str = "") -> EventSource:
    """Validate one EventSource document (a mapping, or YAML text holding exactly one document).

    Raises :class:`ManifestError` listing every problem with its YAML path, for instance
    ``spec.amqp: not supported by Triggerfish yet`` or ``spec.calendar.nightly.schedule: invalid …``.
    """
    if isinstance(doc, str):
        try:
            loaded = yaml.safe_load(doc)
        except yaml.YAMLError as exc:
            raise ManifestError([Issue("", f"malformed YAML: {exc}")], source) from exc
        if not isinstance(loaded, dict):
            raise ManifestError([Issue("", "expected a mapping")], source)
        doc = loaded
    header: list[Issue] = []
    if doc.get("apiVersion") != API_VERSION:
        header.append(Issue("apiVersion", f"must be {API_VERSION!r}, got {doc.get('apiVersion')!r}"))
    if doc.get("kind") != KIND:
        header.append(Issue("kind", f"must be {KIND!r}, got {doc.get('kind')!r}"))
    if header:
        raise ManifestError(header, source)
    try:
        event_source = EventSource.model_validate(doc)
    except ValidationError as exc:
        raise ManifestError(issues_from_validation(exc), source) from exc
    issues = check_event_source(event_source)
    if issues:
        raise ManifestError(issues, source)
    return event_source
