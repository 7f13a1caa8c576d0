"""Arguments → inputs, and the substitution of variables into a template (Argo's ``ProcessArgs``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow_runtime.artifacts.repository import ArtifactError
from workflow_runtime.artifacts.resolve import bind_artifacts
from workflow_runtime.controller.loops import go_json
from workflow_runtime.spec.common import Arguments, Artifact, Inputs, Parameter
from workflow_runtime.spec.template import Template
from workflow_runtime.templating import Scope, TemplateError, render, render_value


class ArgumentError(ValueError):
    """Arguments do not satisfy the template's inputs (Argo: node Error, "... was not supplied")."""


def bind_inputs(template: Template, arguments: Arguments | None) -> list[Parameter]:
    """Each input parameter with its value: the argument if given, else ``value``/``default``."""
    supplied = {p.name: p for p in (arguments.parameters or [])} if arguments else {}
    bound: list[Parameter] = []
    for param in template.inputs.parameters or [] if template.inputs else []:
        value, value_from = param.value, param.value_from
        if value is None and param.default is not None:
            value = param.default
        arg = supplied.get(param.name)
        if arg is not None:
            if arg.value is not None:
                value = arg.value
            elif arg.value_from is not None:
                value_from = arg.value_from
        if value is None and value_from is None:
            raise ArgumentError(f"inputs.parameters.{param.name} was not supplied")
        bound.append(param.model_copy(update={"value": value, "value_from": value_from}))
    return bound


def input_variables(template: Template, inputs: list[Parameter]) -> dict[str, str]:
    """``inputs.parameters.*``, the bound ``inputs.artifacts.*`` (which ``from`` can pass on) and the
    ``*.path`` variables a template can reference about itself."""
    variables = {f"inputs.parameters.{p.name}": p.value for p in inputs if p.value is not None}
    variables["inputs.parameters"] = go_json([p.to_argo() for p in inputs])
    for art in template.inputs.artifacts or [] if template.inputs else []:
        if art.has_location_or_key():
            variables[f"inputs.artifacts.{art.name}"] = go_json(art.to_argo())
        if art.path:
            variables[f"inputs.artifacts.{art.name}.path"] = art.path
    if template.outputs:
        for art in template.outputs.artifacts or []:
            if art.path:
                variables[f"outputs.artifacts.{art.name}.path"] = art.path
        for param in template.outputs.parameters or []:
            if param.value_from and param.value_from.path:
                variables[f"outputs.parameters.{param.name}.path"] = param.value_from.path
    return variables


def _render_lenient(value: Any, scope: Scope) -> Any:
    """Render each string on its own; a string whose tags cannot be evaluated yet stays as written.

    Steps and tasks inside a steps/dag template are rendered again, with more variables, when each
    one runs; an expression that fails now (``jsonpath`` of a value a skipped task never uses)
    must only fail the step that actually runs it.
    """
    if isinstance(value, str):
        try:
            return render(value, scope, allow_unresolved=True)
        except TemplateError:
            return value
    if isinstance(value, dict):
        return {k: _render_lenient(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_lenient(v, scope) for v in value]
    return value


def _render(data: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """Leaf templates are rendered strictly (an error fails the node); nested steps/tasks leniently."""
    nested = {k: data[k] for k in ("steps", "dag") if k in data}
    rest = render_value({k: v for k, v in data.items() if k not in nested}, scope, allow_unresolved=True)
    return {**rest, **{k: _render_lenient(v, scope) for k, v in nested.items()}}


def process_template(
    template: Template, arguments: Arguments | None, variables: Mapping[str, Any]
) -> Template:
    """Bind arguments to inputs and substitute everything resolvable; other tags stay for later.

    Input values are resolved first, in order, each seeing the globals and the inputs before it
    (so ``value: "{{= inputs.parameters.a == 'x' }}"`` works); then globals and pod variables are
    replaced throughout, then the inputs. Raises TemplateError for an expression that fails.
    """
    bound = bind_inputs(template, arguments)
    try:
        artifacts: list[Artifact] | None = bind_artifacts(template, arguments) or None
    except ArtifactError as exc:
        raise ArgumentError(str(exc)) from None
    if "{{" not in template.model_dump_json() and not any(p.value and "{{" in p.value for p in bound):
        if not bound and not artifacts:  # nothing to substitute: the common case of a plain leaf template
            return template
        return template.model_copy(
            update={
                "inputs": (template.inputs or Inputs()).model_copy(
                    update={"parameters": bound or None, "artifacts": artifacts}
                )
            }
        )
    known: dict[str, Any] = dict(variables)
    resolved = []
    for param in bound:
        if param.value is not None:
            param = param.model_copy(
                update={"value": render(param.value, Scope(known), allow_unresolved=True)}
            )
            known[f"inputs.parameters.{param.name}"] = param.value
        resolved.append(param)
    inputs = (template.inputs or Inputs()).model_copy(
        update={"parameters": resolved or None, "artifacts": artifacts}
    )
    data = _render(template.model_copy(update={"inputs": inputs}).to_argo(), Scope(dict(variables)))
    with_globals = Template.model_validate(data)
    own = input_variables(with_globals, (with_globals.inputs.parameters or []) if with_globals.inputs else [])
    return Template.model_validate(_render(data, Scope(own)))
