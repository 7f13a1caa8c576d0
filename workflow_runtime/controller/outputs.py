"""Outputs of a finished step: ``result``, ``exitCode`` and parameters read from the step's files,
plus the outputs of steps/dag templates computed from their children (``valueFrom.parameter`` /
``valueFrom.expression``)."""

from __future__ import annotations

from typing import Any

from triggerfish.expressions.errors import ExpressionError
from triggerfish.expressions.expr_lang import compile_expression
from triggerfish.expressions.gofmt import go_format
from workflow_runtime.artifacts.repository import ArtifactError
from workflow_runtime.artifacts.resolve import UnresolvedArtifact, artifact_from, reference
from workflow_runtime.executors.base import Executor
from workflow_runtime.spec.common import Artifact
from workflow_runtime.spec.template import Template
from workflow_runtime.templating import Scope

RESULT_LIMIT = 256 * 1024
"""Argo keeps at most 256 KiB of stdout as ``outputs.result``."""


class OutputError(ValueError):
    """An output cannot be produced (missing file and no default, unresolvable reference)."""


def trim_newline(text: str) -> str:
    """Argo trims exactly one trailing newline from results and parameter files."""
    return text[:-1] if text.endswith("\n") else text


def step_result(executor: Executor, step_key: str) -> str:
    data = executor.read_log(step_key, "stdout", tail_bytes=RESULT_LIMIT)
    return trim_newline(data.decode("utf-8", errors="replace"))


def pod_outputs(
    template: Template, executor: Executor, step_key: str, exit_code: int, include_result: bool
) -> dict[str, Any]:
    """Argo's wait-container work: result, exit code and file-based output parameters.

    Raises :class:`OutputError` for a missing parameter file without a default; the outputs
    gathered so far are attached to the error so the node can still show them.
    """
    outputs: dict[str, Any] = {"exitCode": str(exit_code)}
    if include_result:
        outputs["result"] = step_result(executor, step_key)
    params: list[dict[str, Any]] = []
    problem: str | None = None
    for param in (template.outputs.parameters or []) if template.outputs else []:
        entry = param.to_argo()
        source = param.value_from
        if source is None or not source.path:
            if param.value is not None:
                params.append(entry)
            continue
        data = executor.read_file(step_key, source.path)
        if data is not None:
            entry["value"] = trim_newline(data.decode("utf-8", errors="replace"))
        elif source.default is not None:
            entry["value"] = source.default
        elif problem is None:
            problem = f"wait: Error (exit code 1): open {source.path}: no such file or directory"
        params.append(entry)
    if params:
        outputs["parameters"] = params
    if problem:
        raise OutputErrorWithOutputs(problem, outputs)
    return outputs


class OutputErrorWithOutputs(OutputError):
    def __init__(self, message: str, outputs: dict[str, Any]) -> None:
        super().__init__(message)
        self.outputs = outputs


def _resolve_reference(reference: str, scope: Scope) -> str:
    name = reference.strip()
    if name.startswith("{{") and name.endswith("}}"):
        name = name[2:-2].strip()
    value = scope.get(name)
    if value is None:
        raise OutputError(f'Unable to resolve: "{name}"')
    return str(value)


def template_outputs(template: Template, scope: Scope) -> dict[str, Any] | None:
    """Outputs of a steps/dag template from its children's results (Argo's
    ``getTemplateOutputsFromScope``); a reference that cannot be resolved falls back to
    ``valueFrom.default`` or fails (an optional artifact is left out instead)."""
    if not template.outputs or not (template.outputs.parameters or template.outputs.artifacts):
        return None
    outputs: dict[str, Any] = {}
    params = []
    for param in template.outputs.parameters or []:
        source = param.value_from
        if source is None:
            raise OutputError(f"output parameter '{param.name}' must have a valueFrom specified")
        try:
            if source.expression:
                value = go_format(compile_expression(source.expression).evaluate(scope.env))
            elif source.parameter:
                value = _resolve_reference(source.parameter, scope)
            else:
                value = ""
        except (OutputError, ExpressionError) as exc:
            if source.default is None:
                raise OutputError(str(exc)) from exc
            value = source.default
        entry = param.to_argo()
        entry.pop("valueFrom", None)
        entry["value"] = value
        params.append(entry)
    if params:
        outputs["parameters"] = params
    declared = template.outputs.artifacts or []
    artifacts = [art for art in (_template_artifact(a, scope) for a in declared) if art]
    if artifacts:
        outputs["artifacts"] = artifacts
    return outputs or None


def _template_artifact(declared: Artifact, scope: Scope) -> dict[str, Any] | None:
    """An output artifact of a steps/dag template: the artifact its ``from`` names, renamed."""
    text = reference(declared)
    if text is None:
        return None
    try:
        found = artifact_from(text, scope)
    except UnresolvedArtifact as exc:
        if declared.optional:
            return None
        raise OutputError(f"unable to resolve outputs from scope: {exc}") from None
    except ArtifactError as exc:
        raise OutputError(str(exc)) from None
    entry = found.to_argo()
    entry["name"] = declared.name
    entry.pop("globalName", None)
    if declared.global_name:
        entry["globalName"] = declared.global_name
    return entry
