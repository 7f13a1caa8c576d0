"""The variables a template can see: workflow-level globals, and a node's results under a prefix."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from workflow_runtime.controller.loops import go_json
from workflow_runtime.spec.common import ObjectMeta
from workflow_runtime.spec.workflow import WorkflowSpec
from workflow_runtime.state import Node, NodePhase, NodeType

_STRFTIME_CODES = "aAbBcCdDeFgGhHIjklLmMnNpPrRsStTuUvVwWxXyYzZ"
_SEPARATOR = "\x1f"
_ALL_PARTS = _SEPARATOR.join(f"%{code}" for code in _STRFTIME_CODES)


def rfc3339(value: datetime) -> str:
    """Second-precision UTC timestamp, as Kubernetes prints times."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def creation_time_variables(created: datetime) -> dict[str, str]:
    """``workflow.creationTimestamp`` and its strftime parts (``workflow.creationTimestamp.Y``…)."""
    out = {
        "workflow.creationTimestamp": rfc3339(created),
        "workflow.creationTimestamp.RFC3339": rfc3339(created),
    }
    try:  # one strftime call for all the parts: a call each was a tenth of a submission's CPU
        parts = created.strftime(_ALL_PARTS).split(_SEPARATOR)
    except ValueError:  # a code this platform refuses: each on its own, skipping those
        parts = []
    if len(parts) == len(_STRFTIME_CODES):
        named = zip(_STRFTIME_CODES, parts, strict=True)
        out.update({f"workflow.creationTimestamp.{code}": part for code, part in named})
    else:
        for code in _STRFTIME_CODES:
            try:
                out[f"workflow.creationTimestamp.{code}"] = created.strftime(f"%{code}")
            except ValueError:
                continue
    out["workflow.creationTimestamp.s"] = str(int(created.timestamp()))
    return out


def global_variables(
    metadata: ObjectMeta, spec: WorkflowSpec, uid: str, namespace: str, created: datetime
) -> dict[str, str]:
    """The ``workflow.*`` variables fixed at the start of a run."""
    name = metadata.name or ""
    variables = {
        "workflow.name": name,
        "workflow.namespace": namespace,
        "workflow.uid": uid,
        "workflow.mainEntrypoint": spec.entrypoint or "",
        "workflow.serviceAccountName": str(spec.service_account_name or "default"),
        **creation_time_variables(created),
    }
    if spec.priority is not None:
        variables["workflow.priority"] = str(spec.priority)
    params = (spec.arguments.parameters or []) if spec.arguments else []
    for param in params:
        if param.value is not None:
            variables[f"workflow.parameters.{param.name}"] = param.value
    variables["workflow.parameters.json"] = go_json([p.to_argo() for p in params])
    scheduled = (metadata.annotations or {}).get("workflows.argoproj.io/scheduled-time")
    if scheduled:
        variables["workflow.scheduledTime"] = scheduled
    for kind, mapping in (("labels", metadata.labels), ("annotations", metadata.annotations)):
        for key, value in (mapping or {}).items():
            variables[f"workflow.{kind}.{key}"] = value
        variables[f"workflow.{kind}.json"] = go_json(mapping or {})
    return variables


def node_variables(prefix: str, node: Node, nodes: dict[str, Node]) -> dict[str, str]:
    """Argo's ``buildLocalScope``: ``<prefix>.id|status|startedAt|finishedAt|exitCode|outputs.*``.

    For a Retry node the outputs are those of its last attempt.
    """
    if node.type == NodeType.RETRY and node.children:
        last = nodes[node.children[-1]]
        source = last
    else:
        source = node
    variables = {f"{prefix}.id": node.id, f"{prefix}.status": node.phase.value}
    if source.started_at:
        variables[f"{prefix}.startedAt"] = rfc3339(source.started_at)
    if source.finished_at:
        variables[f"{prefix}.finishedAt"] = rfc3339(source.finished_at)
    if source.host_node_name:
        variables[f"{prefix}.hostNodeName"] = source.host_node_name
    variables.update(output_variables(prefix, source.outputs))
    return variables


def output_variables(prefix: str, outputs: dict[str, Any] | None) -> dict[str, str]:
    if not outputs:
        return {}
    variables: dict[str, str] = {}
    if prefix != "workflow":
        if outputs.get("result") is not None:
            variables[f"{prefix}.outputs.result"] = outputs["result"]
        if outputs.get("exitCode") is not None:
            variables[f"{prefix}.exitCode"] = outputs["exitCode"]
    for param in outputs.get("parameters") or []:
        if param.get("value") is not None:
            variables[f"{prefix}.outputs.parameters.{param['name']}"] = param["value"]
    for art in outputs.get("artifacts") or []:
        variables[f"{prefix}.outputs.artifacts.{art['name']}"] = go_json(art)
    return variables


def _aggregate_values(values: list[str]) -> str:
    """Argo's ``aggregatedJsonValueList``: decoded values when every one is a JSON object or array,
    else the values as strings (so numbers stay ``"1"``)."""
    try:
        decoded = [json.loads(value) for value in values]
    except ValueError:
        return go_json(values)
    if all(isinstance(item, dict | list) for item in decoded):
        return go_json(decoded)
    return go_json(values)


class AggregationError(ValueError):
    """A looped step's result is not JSON, so the fan-in list cannot be built (Argo: node Error)."""


def _decode_result(result: str) -> Any:
    try:
        return json.loads(result)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(result):
            raise AggregationError("unexpected end of JSON input") from None
        raise AggregationError(
            f"invalid character {result[exc.pos]!r} looking for beginning of value"
        ) from None


def aggregate_variables(prefix: str, children: Iterable[Node]) -> dict[str, str]:
    """Fan-in of expanded children: ``<prefix>.outputs.parameters`` (list of maps), per-parameter
    lists, and ``<prefix>.outputs.result`` (list of results, JSON-decoded where possible)."""
    params: list[dict[str, str]] = []
    per_name: dict[str, list[str]] = {}
    results: list[Any] = []
    for child in children:
        if child.node_flag and child.node_flag.get("hooked"):
            continue
        if child.outputs is None or child.phase != NodePhase.SUCCEEDED:
            continue
        child_params = child.outputs.get("parameters") or []
        if child_params:
            entry = {}
            for param in child_params:
                value = param.get("value") or ""
                entry[param["name"]] = value
                per_name.setdefault(param["name"], []).append(value)
            params.append(entry)
        result = child.outputs.get("result")
        if result is not None:
            results.append(_decode_result(result))
    variables = {
        f"{prefix}.outputs.result": go_json(results),
        f"{prefix}.outputs.parameters": go_json(params),
    }
    for name, values in per_name.items():
        variables[f"{prefix}.outputs.parameters.{name}"] = _aggregate_values(values)
    return variables
