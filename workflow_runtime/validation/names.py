"""Names (templates, steps, tasks, parameters, artifacts) and argument lists, as validate.go checks them."""

from __future__ import annotations

import re
from collections.abc import Sequence

from workflow_runtime.spec.common import Arguments, Parameter
from workflow_runtime.validation.scope import Report, is_parameter

FIELD_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
FIELD_NAME_MAX = 128
PARAM_NAME = re.compile(r"^[-a-zA-Z0-9_]+[-a-zA-Z0-9_]*$")

FIELD_NAME_ERROR = (
    "name must consist of alpha-numeric characters or '-', and must start with an alpha-numeric character"
    " (e.g. My-name1-2, 123-NAME)"
)
PARAM_NAME_ERROR = (
    "Parameter/Artifact name must consist of alpha-numeric characters, '_' or '-' e.g. my_param_1, MY-PARAM-1"
)


def field_name_errors(name: str) -> list[str]:
    """isValidWorkflowFieldName: template, step and task names."""
    errors: list[str] = []
    if len(name) > FIELD_NAME_MAX:
        errors.append(f"must be no more than {FIELD_NAME_MAX} characters")
    if not FIELD_NAME.match(name):
        errors.append(FIELD_NAME_ERROR)
    return errors


def param_name_errors(name: str) -> list[str]:
    """isValidParamOrArtifactName: parameter, artifact and globalName names."""
    return [] if PARAM_NAME.match(name) else [PARAM_NAME_ERROR]


def check_names(
    report: Report,
    names: Sequence[str | None],
    path: str,
    argo: str,
    *,
    params: bool,
) -> None:
    """validateWorkflowFieldNames over a list: each name required, valid and unique.

    ``path`` is the YAML path of the list (``spec.templates``), ``argo`` the prefix of Argo's
    message (``spec.templates``, ``templates.main.inputs.parameters``).
    """
    seen: set[str] = set()
    for index, name in enumerate(names):
        at = f"{path}[{index}].name"
        if not name:
            report(at, f"{argo}[{index}].name is required")
            continue
        errors = param_name_errors(name) if params else field_name_errors(name)
        if errors:
            report(at, f"{argo}[{index}].name: '{name}' is invalid: {';'.join(errors)}")
        elif name in seen:
            report(at, f"{argo}[{index}].name '{name}' is not unique")
        seen.add(name)


def check_arguments(
    report: Report,
    arguments: Arguments | None,
    path: str,
    argo: str,
    *,
    allow_empty: bool,
) -> None:
    """validateArguments: names, then a value (or valueFrom) per parameter, enums, artifact sources.

    ``argo`` ends with a dot, like Argo's prefixes (``spec.arguments.``,
    ``templates.main.steps[0].hello.arguments.``).
    """
    if arguments is None:
        return
    params = arguments.parameters or []
    arts = arguments.artifacts or []
    check_names(report, [p.name for p in params], f"{path}.parameters", f"{argo}parameters", params=True)
    check_names(report, [a.name for a in arts], f"{path}.artifacts", f"{argo}artifacts", params=True)
    for index, param in enumerate(params):
        _check_argument(report, param, f"{path}.parameters[{index}]", f"{argo}{param.name}", allow_empty)
    for index, art in enumerate(arts):
        at = f"{path}.artifacts[{index}]"
        ref = f"{argo}{art.name}"
        if not art.from_ and not art.from_expression and not art.has_location_or_key():
            report(at, f"{ref}.from, artifact location, or key is required")
        if art.from_ and art.from_expression:
            report(at, f"{ref} shouldn't have both `from` and `fromExpression` in Artifact")


def _check_argument(report: Report, param: Parameter, at: str, ref: str, allow_empty: bool) -> None:
    if param.value is None and param.value_from is None and not allow_empty:
        report(f"{at}.value", f"{ref}.value or {ref}.valueFrom is required")
    source = param.value_from
    if source is not None and (
        source.supplied is None or source.path or source.parameter or source.expression
    ):
        report(f"{at}.valueFrom", f"{ref}.valueFrom only allows: default, configMapKeyRef and supplied")
    if param.enum is None:
        return
    if not param.enum:
        report(f"{at}.enum", f"{ref}.enum should contain at least one value")
        return
    if param.value is None:
        if not allow_empty:
            report(f"{at}.value", f"{ref}.value is required")
        return
    if param.value not in param.enum and not is_parameter(param.value):
        report(f"{at}.value", f"{ref}.value should be present in {ref}.enum list")
