"""Trigger parameters: values taken from the matched events and written into the trigger.

A port of ``pkg/sensors/triggers/params.go``:

* ``src`` picks a value from one dependency's event: ``dataKey``/``contextKey`` (GJSON paths into
  the data or the context), ``dataTemplate``/``contextTemplate`` (Go templates over
  ``{"Input": <data or context>}``, tried before the key), ``value`` (the default when the event
  is missing or neither key nor template resolves). With none of them, the whole event as JSON.
* The value is a string unless ``useRawData`` is set and the key selected a number, boolean,
  ``null`` or JSON block, which are then inserted with their JSON type.
* ``dest`` is an sjson path (``spec.arguments.parameters.0.value``; ``-1`` appends to a list) and
  ``operation`` ``overwrite`` (default), ``append`` or ``prepend`` the existing text there.

Parameters referring to a dependency absent from the firing (possible with ``||`` conditions) and
without a default are skipped, as in Argo.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sensors.filters import event_data
from sensors.spec import (
    ArgoWorkflowTrigger,
    ArtifactLocation,
    HttpTrigger,
    KafkaTrigger,
    LogTrigger,
    StandardK8sTrigger,
    Trigger,
    TriggerParameter,
    TriggerParameterSource,
    TriggerTemplate,
)
from triggerfish.events import Event
from triggerfish.expressions import gotemplate
from triggerfish.expressions.errors import ExpressionError
from triggerfish.expressions.gjson import get, raw_json, to_go_value

__all__ = [
    "ParameterError",
    "RenderedTrigger",
    "Resolved",
    "apply_params",
    "construct_payload",
    "event_context",
    "render_trigger",
    "resolve_param_value",
    "set_path",
]

log = logging.getLogger(__name__)

STRING = "String"
"""gjson's type name for a single string value; anything else (JSON, Number, True…) can be raw."""

_JSON_CONTENT = re.compile(r"^(application|text)/([a-zA-Z0-9\-.]+\+)?json(;.*)?$")
_YAML_CONTENT = ("application/x-yaml", "application/yaml", "text/yaml")


class ParameterError(ValueError):
    """A parameter (or the trigger resource it applies to) that cannot be resolved."""


@dataclass(frozen=True, slots=True)
class Resolved:
    text: str
    type: str
    """``String`` for plain text; gjson's type (``Number``, ``True``, ``JSON``…) for a raw key value."""


# ---------------------------------------------------------------- the event as Argo marshals it


def _rfc3339(event: Event) -> str | None:
    moment = event.get_time()
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_context(event: Event) -> dict[str, Any]:
    """``v1alpha1.EventContext`` as JSON (field order and RFC 3339 time as Go marshals them)."""
    return {
        "id": event.get_id(),
        "source": event.get_source(),
        "specversion": event.get_specversion(),
        "type": event.get_type(),
        "datacontenttype": event.get_datacontenttype() or "",
        "subject": event.get_subject() or "",
        "time": _rfc3339(event),
    }


def _whole_event(event: Event) -> str:
    data = event_data(event)
    encoded = base64.b64encode(data.raw).decode() if data.present else None
    return raw_json({"context": event_context(event), "data": encoded})


def _data_as_json(event: Event) -> Any:
    """``renderEventDataAsJSON``: the data of a JSON or YAML event, decoded."""
    content_type = event.get_datacontenttype() or "application/json"
    data = event_data(event)
    if _JSON_CONTENT.match(content_type):
        if data.present and data.valid_json:
            return data.value
        raise ParameterError("event data is not valid JSON")
    if content_type.split(";")[0].strip() in _YAML_CONTENT:
        try:
            return yaml.safe_load(data.raw.decode())
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ParameterError(f"failed converting yaml event data to JSON: {exc}") from None
    raise ParameterError(f"unsupported event content type: {content_type}")


# ---------------------------------------------------------------- resolving one value


def resolve_param_value(src: TriggerParameterSource, events: Mapping[str, Event]) -> Resolved | None:
    """``ResolveParamValue``: the value, ``None`` when the event is absent and there is no default."""
    event = events.get(src.dependency_name)
    if event is None:
        return Resolved(src.value, STRING) if src.value is not None else None
    if not (src.context_key or src.data_key or src.data_template or src.context_template):
        if src.value is not None:
            return Resolved(src.value, STRING)
        return Resolved(_whole_event(event), STRING)

    key, template = "", ""
    payload: Any = None
    failure: str | None = None
    if src.context_key or src.context_template:
        key, template = src.context_key, src.context_template
        payload = event_context(event)
    if src.data_key or src.data_template:
        key, template = src.data_key, src.data_template
        try:
            payload = _data_as_json(event)
        except ParameterError as exc:
            failure = str(exc)
    if failure is not None:
        if src.value is not None:
            log.info("failed to parse the event payload, using default value: %s", failure)
            return Resolved(src.value, STRING)
        raise ParameterError(failure)

    if template:
        try:
            out = gotemplate.render(template, {"Input": to_go_value(payload)})
        except ExpressionError as exc:
            failure = str(exc)
        else:
            if out not in ("", "<no value>"):
                return Resolved(out, STRING)
            failure = f"template evaluated to empty string or no value: {template}"
        log.debug("failed to execute the src event template, falling back to key or value: %s", failure)
    if key:
        found = get(payload, key)
        if found.exists:
            if found.type in ("JSON", "Null"):
                return Resolved(found.raw(), found.type)
            return Resolved(found.string(), found.type)
        failure = f"key {key} does not exist to in the event payload"
        log.debug("failed to get value by key: %s", failure)
    if src.value is not None:
        return Resolved(src.value, STRING)
    raise ParameterError(f"unable to resolve '{src.dependency_name}' parameter value. err: {failure}")


# ---------------------------------------------------------------- sjson paths


def _split(path: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "\\" and i + 1 < len(path):
            current.append(path[i + 1])
            i += 2
            continue
        if ch == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _is_index(part: str) -> bool:
    return part.isdigit() or part == "-1"


def _new_container(next_part: str) -> Any:
    return [] if _is_index(next_part) else {}


def _put(container: Any, part: str, value: Any, path: str) -> None:
    if isinstance(container, dict):
        container[part] = value
        return
    if not _is_index(part):
        raise ParameterError(f"cannot set {path!r}: {part!r} is not an index into a list")
    if part == "-1":
        container.append(value)
        return
    index = int(part)
    while len(container) <= index:
        container.append(None)
    container[index] = value


def _child(container: Any, part: str, next_part: str, path: str) -> Any:
    if isinstance(container, dict):
        child = container.get(part)
        if not isinstance(child, dict | list):
            child = _new_container(next_part)
            container[part] = child
        return child
    if not _is_index(part):
        raise ParameterError(f"cannot set {path!r}: {part!r} is not an index into a list")
    if part == "-1" or int(part) >= len(container) or not isinstance(container[int(part)], dict | list):
        child = _new_container(next_part)
        _put(container, part, child, path)
        return child
    return container[int(part)]


def set_path(document: Any, path: str, value: Any) -> Any:
    """``sjson.Set``: ``document`` with ``value`` at ``path`` (containers created as needed).

    Mutates and returns ``document`` (or a new container when it is not one).
    """
    parts = _split(path)
    if not isinstance(document, dict | list):
        document = _new_container(parts[0])
    container = document
    for part, next_part in itertools.pairwise(parts):
        container = _child(container, part, next_part, path)
    _put(container, parts[-1], value, path)
    return document


# ---------------------------------------------------------------- applying parameters


def _value_for(resolved: Resolved, raw: bool) -> Any:
    if raw and resolved.type != STRING:
        try:
            return json.loads(resolved.text)
        except ValueError:
            return resolved.text
    return resolved.text


def apply_params(
    document: Any, parameters: Sequence[TriggerParameter] | None, events: Mapping[str, Event]
) -> Any:
    """``ApplyParams``: a copy of the JSON ``document`` with every parameter written to its ``dest``."""
    document = copy.deepcopy(document)
    for parameter in parameters or ():
        if parameter.src is None:
            continue
        resolved = resolve_param_value(parameter.src, events)
        if resolved is None:
            continue
        if parameter.operation in ("append", "prepend"):
            current = get(document, parameter.dest)
            if current.exists:
                text = (
                    current.string() + resolved.text
                    if parameter.operation == "append"
                    else resolved.text + current.string()
                )
                resolved = Resolved(text, STRING)
        document = set_path(document, parameter.dest, _value_for(resolved, parameter.src.use_raw_data))
    return document


def construct_payload(events: Mapping[str, Event], parameters: Sequence[TriggerParameter] | None) -> bytes:
    """``ConstructPayload``: a request body built from parameters (an empty ``dest`` is the whole body)."""
    payload: Any = None
    for parameter in parameters or ():
        if parameter.src is None:
            continue
        resolved = resolve_param_value(parameter.src, events)
        if not parameter.dest:
            if resolved is not None:
                return resolved.text.encode()
            continue
        if resolved is None:
            raise ParameterError(f"no value for payload parameter {parameter.dest!r}")
        payload = set_path(payload, parameter.dest, _value_for(resolved, parameter.src.use_raw_data))
    return b"" if payload is None else raw_json(payload).encode()


# ---------------------------------------------------------------- rendering a trigger


@dataclass(frozen=True, slots=True)
class RenderedTrigger:
    """A trigger with its parameters applied: what a driver receives."""

    kind: str
    spec: StandardK8sTrigger | ArgoWorkflowTrigger | HttpTrigger | LogTrigger | KafkaTrigger
    template: TriggerTemplate


def fetch_resource(source: ArtifactLocation | None) -> dict[str, Any]:
    """``FetchKubernetesResource`` for the sources Triggerfish reads: inline object, YAML text, file."""
    if source is None:
        raise ParameterError("trigger source for k8s is empty")
    if source.resource is not None:
        return copy.deepcopy(source.resource)
    text: str
    if source.inline is not None:
        text = source.inline
    elif source.file is not None:
        try:
            text = Path(source.file.path).read_text()
        except OSError as exc:
            raise ParameterError(f"cannot read trigger source file {source.file.path!r}: {exc}") from None
    else:
        raise ParameterError("trigger source has no resource, inline or file")
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParameterError(f"trigger source is not valid YAML/JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise ParameterError("trigger source must be a single object")
    return loaded


def render_trigger(trigger: Trigger, events: Mapping[str, Event]) -> RenderedTrigger:
    """Apply template-level then resource-level parameters, as ``triggerOne`` in listener.go does."""
    assert trigger.template is not None
    template = trigger.template
    if trigger.parameters:
        document = apply_params(
            template.model_dump(by_alias=True, exclude_none=True), trigger.parameters, events
        )
        try:
            template = TriggerTemplate.model_validate(document)
        except ValidationError as exc:
            raise ParameterError(f"trigger template after applying parameters is invalid: {exc}") from None
    kind = template.kind
    if kind == "k8s" and template.k8s is not None:
        k8s = template.k8s
        resource = apply_params(fetch_resource(k8s.source), k8s.parameters, events)
        spec: StandardK8sTrigger | ArgoWorkflowTrigger | HttpTrigger | LogTrigger | KafkaTrigger = (
            k8s.model_copy(update={"source": ArtifactLocation(resource=resource)})
        )
    elif kind == "argoWorkflow" and template.argo_workflow is not None:
        workflow = template.argo_workflow
        resource = apply_params(fetch_resource(workflow.source), workflow.parameters, events)
        spec = workflow.model_copy(update={"source": ArtifactLocation(resource=resource)})
    elif kind == "http" and template.http is not None:
        http = template.http
        if http.parameters:
            document = http.model_dump(by_alias=True, exclude_none=True)
            document["method"] = document.get("method") or "POST"
            document = apply_params(document, http.parameters, events)
            try:
                http = HttpTrigger.model_validate(document)
            except ValidationError as exc:
                raise ParameterError(f"http trigger after applying parameters is invalid: {exc}") from None
        spec = http
    elif kind == "log" and template.log is not None:
        spec = template.log
    elif kind == "kafka" and template.kafka is not None:
        kafka = template.kafka
        if kafka.parameters:
            document = apply_params(
                kafka.model_dump(by_alias=True, exclude_none=True), kafka.parameters, events
            )
            try:
                kafka = KafkaTrigger.model_validate(document)
            except ValidationError as exc:
                raise ParameterError(f"kafka trigger after applying parameters is invalid: {exc}") from None
        spec = kafka
    else:
        raise ParameterError(f"trigger kind {kind!r} cannot be fired")
    return RenderedTrigger(kind, spec, template)
