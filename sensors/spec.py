"""The Argo Events ``Sensor`` kind (argoproj.io/v1alpha1) with Argo's field names.

Models follow ``pkg/apis/events/v1alpha1/sensor_types.go``; :func:`load_sensor` adds the checks of
``pkg/reconciler/sensor/validate.go`` and reports every problem with its YAML path. Fields with no
effect on one machine (the pod ``template``, ``replicas``, ``eventBusName``…) are kept and ignored;
fields Triggerfish does not implement are refused by name, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, ValidationError

from triggerfish.expressions.gotime import parse_duration
from workflow_runtime.spec.base import AnyString, ArgoModel, NotSupported, Passive
from workflow_runtime.spec.common import ObjectMeta
from workflow_runtime.spec.errors import Issue, ManifestError, issues_from_validation

API_VERSION = "argoproj.io/v1alpha1"

LogicalOperator = Literal["and", "or", ""]
Comparator = Literal[">=", ">", "=", "!=", "<", "<=", ""]
ParameterOperation = Literal["", "append", "overwrite", "prepend"]


# ---------------------------------------------------------------- dependencies and filters


class DataFilter(ArgoModel):
    path: str = ""
    type: str = ""
    value: list[AnyString] = Field(default_factory=list)
    comparator: Comparator = ""
    template: str = ""


class PayloadField(ArgoModel):
    path: str = ""
    name: str = ""


class ExprFilter(ArgoModel):
    expr: str = ""
    fields: list[PayloadField] = Field(default_factory=list)


class TimeFilter(ArgoModel):
    start: str = ""
    stop: str = ""
    timezone: str = ""


class EventContextFilter(ArgoModel):
    """``EventContext`` used as a filter: only type, subject, source and datacontenttype are compared."""

    type: str = ""
    subject: str = ""
    source: str = ""
    datacontenttype: str = ""
    id: Passive = None
    specversion: Passive = None
    time: Passive = None


class EventDependencyFilter(ArgoModel):
    time: TimeFilter | None = None
    context: EventContextFilter | None = None
    data: list[DataFilter] | None = None
    exprs: list[ExprFilter] | None = None
    data_logical_operator: LogicalOperator = ""
    expr_logical_operator: LogicalOperator = ""
    script: NotSupported = None


class EventDependency(ArgoModel):
    name: str = ""
    event_source_name: str = ""
    event_name: str = ""
    filters: EventDependencyFilter | None = None
    transform: NotSupported = None
    filters_logical_operator: LogicalOperator = ""


# ---------------------------------------------------------------- triggers


class TriggerParameterSource(ArgoModel):
    dependency_name: str = ""
    context_key: str = ""
    context_template: str = ""
    data_key: str = ""
    data_template: str = ""
    value: AnyString | None = None
    use_raw_data: bool = False


class TriggerParameter(ArgoModel):
    src: TriggerParameterSource | None = None
    dest: str = ""
    operation: ParameterOperation = ""


class Backoff(ArgoModel):
    """``retryStrategy``: ``steps`` attempts, sleeping ``duration`` x ``factor``^n (+ jitter) between them."""

    duration: int | str | None = None
    """An int is nanoseconds (Argo's Int64OrString), a string a Go duration such as ``"10s"``."""
    factor: float | str | None = None
    jitter: float | str | None = None
    steps: int = 0


class RateLimit(ArgoModel):
    unit: str = "Second"
    requests_per_unit: int = 0


class StatusPolicy(ArgoModel):
    allow: list[int] | None = None


class TriggerPolicy(ArgoModel):
    k8s: NotSupported = Field(default=None, alias="k8s")
    status: StatusPolicy | None = None


class FileArtifact(ArgoModel):
    path: str = ""


class ArtifactLocation(ArgoModel):
    """Where a k8s/argoWorkflow trigger's resource comes from: inline object, YAML text or a file."""

    resource: dict[str, Any] | None = None
    inline: str | None = None
    file: FileArtifact | None = None
    s3: NotSupported = None
    url: NotSupported = None
    configmap: NotSupported = None
    git: NotSupported = None


class ArgoWorkflowTrigger(ArgoModel):
    source: ArtifactLocation | None = None
    operation: str = ""
    parameters: list[TriggerParameter] | None = None
    args: list[str] | None = None


class StandardK8sTrigger(ArgoModel):
    source: ArtifactLocation | None = None
    operation: str = ""
    parameters: list[TriggerParameter] | None = None
    patch_strategy: NotSupported = None
    live_object: bool = False


class SecretKeySelector(ArgoModel):
    name: str = ""
    key: str = ""
    optional: bool | None = None


class ValueFromSource(ArgoModel):
    secret_key_ref: SecretKeySelector | None = None
    config_map_key_ref: NotSupported = None


class SecureHeader(ArgoModel):
    name: str = ""
    value_from: ValueFromSource | None = None


class BasicAuth(ArgoModel):
    username: SecretKeySelector | None = None
    password: SecretKeySelector | None = None


class HttpTrigger(ArgoModel):
    url: str = ""
    payload: list[TriggerParameter] | None = None
    tls: NotSupported = None
    method: str = ""
    parameters: list[TriggerParameter] | None = None
    timeout: int = 0
    basic_auth: BasicAuth | None = None
    headers: dict[str, AnyString] | None = None
    secure_headers: list[SecureHeader] | None = None
    dynamic_headers: list[TriggerParameter] | None = None
    host: str = ""


class LogTrigger(ArgoModel):
    interval_seconds: int = 0


class TLSConfig(ArgoModel):
    """Client TLS for the kafka trigger: PEM texts from secrets."""

    ca_cert_secret: SecretKeySelector | None = None
    client_cert_secret: SecretKeySelector | None = None
    client_key_secret: SecretKeySelector | None = None
    insecure_skip_verify: bool = False


class SASLConfig(ArgoModel):
    mechanism: str = "PLAIN"
    user_secret: SecretKeySelector | None = None
    password_secret: SecretKeySelector | None = None


class KafkaTrigger(ArgoModel):
    """``kafka``: publish a message built from the events (``pkg/sensors/triggers/kafka``)."""

    url: str = ""
    topic: str = ""
    partition: int | None = None
    """Deprecated in Argo; used here only when ``partitioningKey`` is not set."""
    parameters: list[TriggerParameter] | None = None
    required_acks: int = 1
    """0: none, 1: the leader (Argo's default), -1: all in-sync replicas."""
    compress: bool = False
    """Snappy, as Argo Events' client."""
    flush_frequency: int = 0
    """Milliseconds messages may wait to be batched (the producer's linger)."""
    tls: TLSConfig | None = None
    payload: list[TriggerParameter] | None = None
    partitioning_key: str | None = None
    version: Passive = None
    sasl: SASLConfig | None = None
    schema_registry: NotSupported = None
    headers: dict[str, AnyString] | None = None
    secure_headers: list[SecureHeader] | None = None


class ConditionsResetByTime(ArgoModel):
    cron: str = ""
    timezone: str = ""


class ConditionsResetCriteria(ArgoModel):
    by_time: ConditionsResetByTime | None = None


SUPPORTED_KINDS = ("k8s", "argoWorkflow", "http", "log", "kafka")
"""Trigger template keys Triggerfish can fire."""

UNSUPPORTED_KINDS = (
    "awsLambda",
    "custom",
    "nats",
    "slack",
    "openWhisk",
    "azureEventHubs",
    "pulsar",
    "azureServiceBus",
    "email",
    "grpc",
)


class TriggerTemplate(ArgoModel):
    name: str = ""
    conditions: str = ""
    conditions_reset: list[ConditionsResetCriteria] | None = None
    k8s: StandardK8sTrigger | None = Field(default=None, alias="k8s")  # to_camel would say "k8S"
    argo_workflow: ArgoWorkflowTrigger | None = None
    http: HttpTrigger | None = None
    log: LogTrigger | None = None
    kafka: KafkaTrigger | None = None
    aws_lambda: NotSupported = None
    custom: NotSupported = None
    nats: NotSupported = None
    slack: NotSupported = None
    open_whisk: NotSupported = None
    azure_event_hubs: NotSupported = None
    pulsar: NotSupported = None
    azure_service_bus: NotSupported = None
    email: NotSupported = None
    grpc: NotSupported = None
    at_least_once: Passive = None
    """Misplaced in some of Argo's own examples (it belongs on the trigger); Argo's CRD prunes it
    here, so it has no effect there either."""

    def kinds(self) -> list[str]:
        """The trigger kinds set in this template (manifest keys), in the model's field order.
        Read from the attributes: a ``model_dump`` per firing was a tenth of a log trigger's cost."""
        kinds = [
            info.alias or name
            for name, info in type(self).model_fields.items()
            if name in _KIND_FIELD_SET and getattr(self, name) is not None
        ]
        return [kind for kind in kinds if kind in SUPPORTED_KINDS or kind in UNSUPPORTED_KINDS]

    @property
    def kind(self) -> str:
        """The one trigger kind of this template (validated at load)."""
        kinds = self.kinds()
        return kinds[0] if kinds else ""

    def action(
        self,
    ) -> StandardK8sTrigger | ArgoWorkflowTrigger | HttpTrigger | LogTrigger | KafkaTrigger | None:
        actions = {
            "k8s": self.k8s,
            "argoWorkflow": self.argo_workflow,
            "http": self.http,
            "log": self.log,
            "kafka": self.kafka,
        }
        return actions.get(self.kind)


_KIND_FIELDS = (
    "k8s",
    "argo_workflow",
    "http",
    "log",
    "kafka",
    "aws_lambda",
    "custom",
    "nats",
    "slack",
    "open_whisk",
    "azure_event_hubs",
    "pulsar",
    "azure_service_bus",
    "email",
    "grpc",
)
_KIND_FIELD_SET = frozenset(_KIND_FIELDS)


class Trigger(ArgoModel):
    template: TriggerTemplate | None = None
    parameters: list[TriggerParameter] | None = None
    policy: TriggerPolicy | None = None
    retry_strategy: Backoff | None = None
    rate_limit: RateLimit | None = None
    at_least_once: bool = False
    dlq_trigger: Trigger | None = None
    weight: int = 0

    @property
    def name(self) -> str:
        return self.template.name if self.template else ""


class SensorSpec(ArgoModel):
    dependencies: list[EventDependency] = Field(default_factory=list)
    triggers: list[Trigger] = Field(default_factory=list)
    template: Passive = None
    error_on_failed_round: Passive = None
    """Only read by pre-v1.0 Argo Events controllers; current sensors ignore it too."""
    event_bus_name: Passive = None
    replicas: Passive = None
    revision_history_limit: Passive = None
    logging_fields: Passive = None
    event_bus_consumer_batch_max_wait: Passive = None


class Sensor(ArgoModel):
    api_version: str = API_VERSION
    kind: Literal["Sensor"] = "Sensor"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SensorSpec = Field(default_factory=SensorSpec)
    status: Passive = None

    @property
    def name(self) -> str:
        return self.metadata.name or ""

    def namespace_or(self, default: str) -> str:
        return self.metadata.namespace or default

    def dependency(self, name: str) -> EventDependency | None:
        return next((dep for dep in self.spec.dependencies if dep.name == name), None)


# ---------------------------------------------------------------- retry strategy


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """A ``retryStrategy`` with Argo's defaults applied (``pkg/shared/util/retry.go``)."""

    steps: int
    """Attempts in total (not retries)."""
    duration: float
    """Seconds to sleep after the first failed attempt."""
    factor: float
    jitter: float

    def delays(self, random: Callable[[], float]) -> Iterator[float]:
        """Sleeps between attempts: ``duration x factor^n``, each plus up to ``jitter x`` itself."""
        duration = self.duration
        for _ in range(self.steps - 1):
            delay = duration
            if self.factor != 0:
                duration = duration * self.factor
            if self.jitter > 0:
                delay = delay + random() * self.jitter * delay
            yield delay


def _amount(value: float | str | None, default: float, name: str) -> float:
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"invalid {name}, {value!r} is not a number") from None


def backoff_policy(backoff: Backoff | None) -> BackoffPolicy:
    """Argo's ``Convert2WaitBackoff``: no strategy means one attempt.

    Unset fields default to 1s, factor 1, jitter 1 and 5 steps; ``ValueError`` for a duration or
    amount Argo would refuse.
    """
    if backoff is None:
        return BackoffPolicy(steps=1, duration=1.0, factor=1.0, jitter=1.0)
    if backoff.duration is None:
        duration = 1.0
    elif isinstance(backoff.duration, int):
        duration = backoff.duration / 1e9
    else:
        try:
            duration = parse_duration(backoff.duration).total_seconds()
        except ValueError:
            raise ValueError(f"invalid duration {backoff.duration!r}") from None
    return BackoffPolicy(
        steps=backoff.steps if backoff.steps > 0 else 5,
        duration=duration,
        factor=_amount(backoff.factor, 1.0, "factor"),
        jitter=_amount(backoff.jitter, 1.0, "jitter"),
    )


# ---------------------------------------------------------------- loading and validation


def load_sensor(doc: dict[str, Any], source: str = "") -> Sensor:
    """Validate one document as a Sensor; :class:`ManifestError` lists every problem by YAML path."""
    issues: list[Issue] = []
    if doc.get("apiVersion") != API_VERSION:
        issues.append(Issue("apiVersion", f"must be {API_VERSION!r}, got {doc.get('apiVersion')!r}"))
    if doc.get("kind") != "Sensor":
        issues.append(Issue("kind", f"expected 'Sensor', got {doc.get('kind')!r}"))
    if issues:
        raise ManifestError(issues, source)
    try:
        sensor = Sensor.model_validate(doc)
    except ValidationError as exc:
        raise ManifestError(_kind_reasons(issues_from_validation(exc)), source) from exc
    issues = list(validate_sensor(sensor))
    if issues:
        raise ManifestError(issues, source)
    return sensor


def _kind_reasons(issues: list[Issue]) -> list[Issue]:
    """Name the trigger kind in "not supported" messages for trigger template keys."""
    out: list[Issue] = []
    for issue in issues:
        last = issue.path.rsplit(".", 1)[-1]
        if ".template." in f".{issue.path}" and last in UNSUPPORTED_KINDS and "not supported" in issue.reason:
            issue = Issue(issue.path, f"trigger kind {last!r} is not supported by Triggerfish yet")
        out.append(issue)
    return out


def validate_sensor(sensor: Sensor) -> Iterator[Issue]:
    """Argo's ``ValidateSensor`` plus Triggerfish's scope checks."""
    from sensors.conditions import ConditionError, parse_conditions  # local: conditions imports spec

    spec = sensor.spec
    if not sensor.metadata.name:
        yield Issue("metadata.name", "required field is missing")
    if not spec.dependencies:
        yield Issue("spec.dependencies", "no event dependencies found")
    seen: set[str] = set()
    for i, dep in enumerate(spec.dependencies):
        path = f"spec.dependencies[{i}]"
        if not dep.name:
            yield Issue(f"{path}.name", "event dependency must define a name")
        elif dep.name in seen:
            yield Issue(f"{path}.name", f"duplicate dependency name {dep.name!r}")
        seen.add(dep.name)
        if not dep.event_source_name:
            yield Issue(f"{path}.eventSourceName", "event dependency must define the EventSourceName")
        if not dep.event_name:
            yield Issue(f"{path}.eventName", "event dependency must define the EventName")
        if dep.filters is not None:
            yield from _validate_filters(dep.filters, f"{path}.filters")
    if not spec.triggers:
        yield Issue("spec.triggers", "no triggers found")
    names: set[str] = set()
    dep_names = [dep.name for dep in spec.dependencies]
    for i, trigger in enumerate(spec.triggers):
        path = f"spec.triggers[{i}]"
        yield from _validate_trigger(trigger, path)
        if trigger.template is None:
            continue
        if trigger.name in names:
            yield Issue(f"{path}.template.name", f"duplicate trigger name: {trigger.name}")
        names.add(trigger.name)
        if trigger.template.conditions:
            try:
                parse_conditions(trigger.template.conditions, dep_names)
            except ConditionError as exc:
                yield Issue(f"{path}.template.conditions", str(exc))


def _validate_filters(filters: EventDependencyFilter, path: str) -> Iterator[Issue]:
    for j, data in enumerate(filters.data or []):
        where = f"{path}.data[{j}]"
        if not data.path or not data.type or not data.value:
            yield Issue(where, "one of data filters is not valid (type, path and value must be not empty)")
        elif any(value == "" for value in data.value):
            yield Issue(f"{where}.value", "one of data filters is not valid (value must be not empty)")
        if data.type and data.type not in ("string", "number", "bool"):
            yield Issue(f"{where}.type", f"unsupported JSON type {data.type!r} (string, number or bool)")
    for j, expr in enumerate(filters.exprs or []):
        where = f"{path}.exprs[{j}]"
        if not expr.expr or not expr.fields:
            yield Issue(where, "one of expr filters is not valid (expr and fields must be not empty)")
        for k, fld in enumerate(expr.fields):
            if not fld.path or not fld.name:
                yield Issue(
                    f"{where}.fields[{k}]",
                    "one of expr filters is not valid (path and name in a field must be not empty)",
                )
    ctx = filters.context
    if ctx is not None and not (ctx.type or ctx.subject or ctx.source or ctx.datacontenttype):
        yield Issue(f"{path}.context", "no fields specified in ctx filter (aka all events will be discarded)")
    if filters.time is not None:
        yield from _validate_time_filter(filters.time, f"{path}.time")


def _validate_time_filter(time_filter: TimeFilter, path: str) -> Iterator[Issue]:
    from sensors.filters import FilterError, parse_clock_time  # local: filters imports spec

    now = datetime.now(UTC)
    try:
        start = parse_clock_time(time_filter.start, now, time_filter.timezone)
        stop = parse_clock_time(time_filter.stop, now, time_filter.timezone)
    except FilterError as exc:
        yield Issue(path, str(exc))
        return
    if start == stop:
        yield Issue(
            path,
            f"invalid event time filter: stop '{time_filter.stop}' is equal to start '{time_filter.start}'",
        )


def _validate_parameters(
    parameters: list[TriggerParameter] | None, path: str, *, allow_empty_dest: bool = False
) -> Iterator[Issue]:
    for j, parameter in enumerate(parameters or []):
        where = f"{path}[{j}]"
        if parameter.src is None:
            yield Issue(f"{where}.src", "parameter source can't be empty")
        elif not parameter.src.dependency_name:
            yield Issue(f"{where}.src.dependencyName", "parameter dependency name can't be empty")
        if not parameter.dest and not allow_empty_dest:
            yield Issue(f"{where}.dest", "parameter destination can't be empty")


_ARGO_OPERATIONS = ("submit", "submit-from", "suspend", "retry", "resume", "resubmit", "terminate", "stop")
_K8S_OPERATIONS = ("create", "update", "patch", "delete")
_HTTP_METHODS = ("GET", "DELETE", "PATCH", "POST", "PUT")


def _validate_trigger(trigger: Trigger, path: str, *, dlq: bool = False) -> Iterator[Issue]:
    template = trigger.template
    if template is None:
        yield Issue(f"{path}.template", "trigger template can't be nil")
        return
    tpath = f"{path}.template"
    if not template.name:
        yield Issue(f"{tpath}.name", "trigger must define a name")
    kinds = template.kinds()
    if not kinds:
        yield Issue(tpath, f"no trigger kind set (one of {', '.join(SUPPORTED_KINDS)})")
    elif len(kinds) > 1:
        yield Issue(tpath, f"more than one trigger kind set: {', '.join(kinds)}")
    yield from _validate_conditions_reset(template.conditions_reset, f"{tpath}.conditionsReset")
    yield from _validate_parameters(trigger.parameters, f"{path}.parameters")
    if template.k8s is not None:
        yield from _validate_k8s(template.k8s, f"{tpath}.k8s")
    if template.argo_workflow is not None:
        yield from _validate_argo_workflow(template.argo_workflow, f"{tpath}.argoWorkflow")
    if template.http is not None:
        yield from _validate_http(template.http, f"{tpath}.http")
    if template.kafka is not None:
        yield from _validate_kafka(template.kafka, f"{tpath}.kafka")
    if (
        trigger.policy is not None
        and trigger.policy.status is not None
        and trigger.policy.status.allow is None
    ):
        yield Issue(f"{path}.policy.status.allow", "list of allowed response status is not specified")
    if trigger.rate_limit is not None and trigger.rate_limit.requests_per_unit <= 0:
        yield Issue(f"{path}.rateLimit.requestsPerUnit", "must be greater than 0")
    if trigger.retry_strategy is not None:
        yield from _validate_backoff(trigger.retry_strategy, f"{path}.retryStrategy")
    if trigger.weight < 0:
        yield Issue(f"{path}.weight", "must not be negative")
    if trigger.dlq_trigger is not None:
        if not trigger.at_least_once:
            yield Issue(f"{path}.atLeastOnce", "to use dlqTrigger, trigger.atLeastOnce must be set to true")
        if not trigger.dlq_trigger.at_least_once:
            yield Issue(
                f"{path}.dlqTrigger.atLeastOnce", "atLeastOnce must be set to true within the dlqTrigger"
            )
        yield from _validate_trigger(trigger.dlq_trigger, f"{path}.dlqTrigger", dlq=True)


def _validate_conditions_reset(criteria: list[ConditionsResetCriteria] | None, path: str) -> Iterator[Issue]:
    from sensors.conditions import ConditionError, CronReset  # local: conditions imports spec

    for j, criterion in enumerate(criteria or []):
        if criterion.by_time is None:
            yield Issue(f"{path}[{j}]", "invalid conditionsReset")
            continue
        try:
            CronReset(criterion.by_time.cron, criterion.by_time.timezone)
        except ConditionError as exc:
            yield Issue(f"{path}[{j}].byTime", str(exc))


def _validate_backoff(backoff: Backoff, path: str) -> Iterator[Issue]:
    try:
        backoff_policy(backoff)
    except ValueError as exc:
        yield Issue(path, str(exc))


def _validate_source(source: ArtifactLocation | None, path: str, kind: str) -> Iterator[Issue]:
    if source is None:
        yield Issue(f"{path}.source", f"{kind} trigger does not contain an absolute action")
        return
    set_fields = [name for name in ("resource", "inline", "file") if getattr(source, name) is not None]
    if not set_fields:
        yield Issue(f"{path}.source", "no source set (resource, inline or file)")
    if source.file is not None and not source.file.path:
        yield Issue(f"{path}.source.file.path", "required field is missing")


def _validate_k8s(k8s: StandardK8sTrigger, path: str) -> Iterator[Issue]:
    yield from _validate_source(k8s.source, path, "k8s")
    operation = k8s.operation or "create"
    if operation not in _K8S_OPERATIONS:
        yield Issue(f"{path}.operation", f"unknown operation type {k8s.operation}")
    elif operation != "create":
        yield Issue(
            f"{path}.operation",
            f"operation {operation!r} is not supported by Triggerfish yet (only 'create' of a Workflow)",
        )
    if k8s.live_object:
        yield Issue(f"{path}.liveObject", "not supported by Triggerfish yet")
    yield from _validate_parameters(k8s.parameters, f"{path}.parameters")
    resource = k8s.source.resource if k8s.source is not None else None
    if resource is not None:
        yield from _validate_workflow_resource(resource, f"{path}.source.resource", ("Workflow",))


def _validate_workflow_resource(
    resource: dict[str, Any], path: str, kinds: tuple[str, ...]
) -> Iterator[Issue]:
    kind = resource.get("kind")
    if kind not in kinds:
        yield Issue(
            f"{path}.kind",
            f"creating a {kind!r} resource is not supported by Triggerfish (only {', '.join(kinds)})",
        )
    elif resource.get("apiVersion") != API_VERSION:
        yield Issue(f"{path}.apiVersion", f"must be {API_VERSION!r}, got {resource.get('apiVersion')!r}")


def _validate_argo_workflow(trigger: ArgoWorkflowTrigger, path: str) -> Iterator[Issue]:
    yield from _validate_source(trigger.source, path, "argoWorkflow")
    operation = trigger.operation or "submit"
    if operation not in _ARGO_OPERATIONS:
        yield Issue(f"{path}.operation", f"unknown operation type {trigger.operation}")
    elif operation not in ("submit", "submit-from"):
        yield Issue(
            f"{path}.operation",
            f"operation {operation!r} is not supported by Triggerfish yet (only submit and submit-from)",
        )
    if trigger.args:
        yield Issue(f"{path}.args", "argo CLI arguments are not supported by Triggerfish")
    yield from _validate_parameters(trigger.parameters, f"{path}.parameters")
    resource = trigger.source.resource if trigger.source is not None else None
    if resource is not None:
        allowed = ("WorkflowTemplate", "CronWorkflow") if operation == "submit-from" else ("Workflow",)
        yield from _validate_workflow_resource(resource, f"{path}.source.resource", allowed)


def _validate_http(http: HttpTrigger, path: str) -> Iterator[Issue]:
    if not http.url:
        yield Issue(f"{path}.url", "server URL is not specified")
    if http.method and http.method not in _HTTP_METHODS:
        yield Issue(f"{path}.method", "only GET, DELETE, PATCH, POST and PUT methods are supported")
    yield from _validate_parameters(http.parameters, f"{path}.parameters")
    yield from _validate_parameters(http.payload, f"{path}.payload", allow_empty_dest=True)
    yield from _validate_parameters(http.dynamic_headers, f"{path}.dynamicHeaders")
    for j, header in enumerate(http.secure_headers or []):
        ref = header.value_from.secret_key_ref if header.value_from else None
        if not header.name:
            yield Issue(f"{path}.secureHeaders[{j}].name", "required field is missing")
        if ref is None or not ref.name or not ref.key:
            yield Issue(f"{path}.secureHeaders[{j}].valueFrom.secretKeyRef", "name and key are required")


_KAFKA_SASL = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _validate_kafka(kafka: KafkaTrigger, path: str) -> Iterator[Issue]:
    """``pkg/sensors/triggers/kafka``'s checks, plus what Triggerfish's client can do."""
    if not kafka.url:
        yield Issue(f"{path}.url", "broker url must not be empty")
    if not kafka.topic:
        yield Issue(f"{path}.topic", "topic must not be empty")
    if kafka.payload is None:
        yield Issue(f"{path}.payload", "payload parameters are not specified")
    if kafka.required_acks not in (-1, 0, 1):
        yield Issue(f"{path}.requiredAcks", "must be -1 (all), 0 (none) or 1 (leader)")
    if kafka.sasl is not None:
        mechanism = (kafka.sasl.mechanism or "PLAIN").upper()
        if mechanism in ("GSSAPI", "OAUTHBEARER"):
            yield Issue(
                f"{path}.sasl.mechanism", f"SASL mechanism {mechanism} is not supported by Triggerfish yet"
            )
        elif mechanism not in _KAFKA_SASL:
            yield Issue(f"{path}.sasl.mechanism", f"unknown SASL mechanism {kafka.sasl.mechanism!r}")
    tls = kafka.tls
    if tls is not None and bool(tls.client_cert_secret) != bool(tls.client_key_secret):
        yield Issue(f"{path}.tls", "clientCertSecret and clientKeySecret must be set together")
    yield from _validate_parameters(kafka.parameters, f"{path}.parameters")
    yield from _validate_parameters(kafka.payload, f"{path}.payload", allow_empty_dest=True)
    for j, header in enumerate(kafka.secure_headers or []):
        ref = header.value_from.secret_key_ref if header.value_from else None
        if not header.name:
            yield Issue(f"{path}.secureHeaders[{j}].name", "required field is missing")
        if ref is None or not ref.name or not ref.key:
            yield Issue(f"{path}.secureHeaders[{j}].valueFrom.secretKeyRef", "name and key are required")
