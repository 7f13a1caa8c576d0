"""Rendering a step or task against the outputs of earlier nodes, including Argo v4's "absent
optional" rule: an output of a Skipped/Omitted producer with no default has no value, and
referencing it is an error unless the reference is a whole argument whose input has a default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from triggerfish.expressions.errors import ExpressionError
from triggerfish.expressions.expr_lang import compile_expression
from workflow_runtime.state import Node, NodePhase
from workflow_runtime.templating import Scope, TemplateError, find_tags, render_value

ABSENT_ARGUMENT = "argument references an absent optional (skipped/omitted node output with no default)"


class AbsentReference(ValueError):
    """A reference to an absent optional output where no default can stand in."""


@dataclass(slots=True)
class RenderedCall:
    body: dict[str, Any]
    dropped_arguments: list[str] = field(default_factory=list)
    """Argument parameters removed because they referenced an absent output (input default applies)."""
    absent_in_when: list[str] = field(default_factory=list)
    absent_elsewhere: list[str] = field(default_factory=list)
    when_error: str | None = None
    error: str | None = None
    """Why substitution failed (e.g. an expression error); the step errors unless ``when`` skips it."""


def absent_variables(prefix: str, node: Node) -> dict[str, str]:
    """Variables of a skipped/omitted producer that have no value, with a description for errors."""
    if node.phase not in (NodePhase.SKIPPED, NodePhase.OMITTED):
        return {}
    out = {}
    for param in (node.outputs or {}).get("parameters") or []:
        if param.get("value") is None:
            out[f"{prefix}.outputs.parameters.{param['name']}"] = (
                f"'{node.display_name}' was {node.phase.value} and output parameter '{param['name']}' "
                "has no valueFrom.default"
            )
    return out


def _tag_references(text: str) -> set[str]:
    refs: set[str] = set()
    for tag in find_tags(text):
        if tag.kind == "expression":
            if "??" in tag.text:
                continue
            try:
                refs |= set(compile_expression(tag.text).references())
            except ExpressionError:
                continue
        else:
            refs.add(tag.text.strip())
    return refs


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _pure_reference(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    tags = find_tags(value)
    if len(tags) == 1 and tags[0].kind == "simple" and value.strip() == value[tags[0].start : tags[0].end]:
        return tags[0].text.strip()
    return None


def render_call(
    body: dict[str, Any], variables: Mapping[str, Any], absent: Mapping[str, str]
) -> RenderedCall:
    """Substitute resolvable tags in a step/task; classify references to absent outputs."""
    result = RenderedCall(body=body)
    if absent:
        body = dict(body)
        params = ((body.get("arguments") or {}).get("parameters")) or []
        kept = []
        for param in params:
            ref = _pure_reference(param.get("value"))
            if ref is not None and ref in absent:
                result.dropped_arguments.append(param["name"])
            else:
                kept.append(param)
        if result.dropped_arguments:
            body["arguments"] = {**body["arguments"], "parameters": kept}
        when_refs = _tag_references(body.get("when") or "")
        other = {k: v for k, v in body.items() if k != "when"}
        other_refs = {ref for text in _strings(other) for ref in _tag_references(text)}
        result.absent_in_when = [absent[r] for r in sorted(when_refs) if r in absent]
        result.absent_elsewhere = [absent[r] for r in sorted(other_refs) if r in absent]
    # Absent outputs are nil inside expressions, so ``{{= x ?? 'default'}}`` works (Argo v4).
    scope = Scope({**variables, **{name: None for name in absent}}) if absent else Scope(dict(variables))
    when = body.get("when")
    try:
        rendered_when = render_value(when, scope, allow_unresolved=True) if when else when
    except TemplateError as exc:
        rendered_when, result.when_error = when, str(exc)
    rest = {k: v for k, v in body.items() if k != "when"}
    try:
        rest = render_value(rest, scope, allow_unresolved=True)
    except TemplateError as exc:
        result.error = result.error or str(exc)
    result.body = {**rest, "when": rendered_when} if when is not None else rest
    return result


def absent_message(descriptions: list[str]) -> str:
    return "reference to an absent optional output: " + "; ".join(descriptions)
