"""One template body: kind, inputs, retryStrategy, timeouts, leaf fields, outputs; and the call sites
(steps and tasks) shared by ``steps`` and ``dag`` templates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workflow_runtime.controller.durations import parse_duration
from workflow_runtime.spec.common import Parameter, RetryStrategy
from workflow_runtime.spec.template import Invocation, Template
from workflow_runtime.validation.core import Callee, TemplateContext
from workflow_runtime.validation.names import check_arguments, check_names, param_name_errors
from workflow_runtime.validation.scope import (
    Report,
    VarScope,
    check_expression_text,
    check_expressions,
    check_variables,
    check_when,
    is_parameter,
)

if TYPE_CHECKING:
    from workflow_runtime.validation.core import Validator

KINDS = ("container", "script", "steps", "dag", "suspend")
TYPE_NAMES = {
    "container": "Container",
    "script": "Script",
    "steps": "Steps",
    "dag": "DAG",
    "suspend": "Suspend",
}
LEAF_KINDS = ("container", "script")  # Template.IsLeaf (suspend is not a leaf)
KIND_CHOICES = "container, containerSet, steps, script, resource, dag, suspend, template, template ref"
VALUE_FROM_CHOICES = "path, jqFilter, jsonPath, parameter, raw"
RETRY_POLICIES = ("Always", "OnFailure", "OnError", "OnTransientError")


def template_kinds(template: Template) -> list[str]:
    return [kind for kind in KINDS if getattr(template, kind) is not None]


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def template_scope(v: Validator, template: Template, *, exit: bool) -> VarScope:
    """Globals plus the template's own inputs (validateInputs) and ``pod.name`` for pods."""
    scope = v.globals.copy()
    if exit:
        scope.add("workflow.failures")
    inputs = template.inputs
    params = (inputs.parameters or []) if inputs else []
    scope.add(*(f"inputs.parameters.{p.name}" for p in params))
    if params:
        scope.add("inputs.parameters")
    leaf = template.container is not None or template.script is not None
    for art in (inputs.artifacts or []) if inputs else []:
        scope.add(f"inputs.artifacts.{art.name}")
        if leaf:
            scope.add(f"inputs.artifacts.{art.name}.path")
    if leaf:
        scope.add("pod.name")
    return scope


def validate_template(v: Validator, callee: Callee, *, exit: bool) -> None:
    raw = callee.tset.template(callee.position)
    template = callee.template
    ctx = TemplateContext(
        callee.tset, callee.position, raw, template, exit, template_scope(v, template, exit=exit)
    )
    kinds = template_kinds(raw)
    if len(kinds) != 1:
        problem = "template type unspecified" if not kinds else "multiple template types specified"
        v.add(ctx.path, f"{ctx.argo} {problem}. choose one of: {KIND_CHOICES}")
        return
    kind = kinds[0]
    _check_inputs(v.add, ctx, kind)
    if raw.retry_strategy is not None:
        check_retry(v.add, raw.retry_strategy, f"{ctx.path}.retryStrategy", ctx.argo)
    _check_limits(v.add, ctx, kind)
    check_expressions(v.add, template.to_argo(), ctx.path, ctx.argo)
    outputs_scope = ctx.scope
    if kind == "steps":
        from workflow_runtime.validation.steps import validate_steps

        outputs_scope = validate_steps(v, ctx)
    elif kind == "dag":
        from workflow_runtime.validation.dag import validate_dag

        outputs_scope = validate_dag(v, ctx)
    else:
        _check_leaf(v, ctx, kind)
    _check_outputs(v.add, ctx, kind, outputs_scope)


def _check_inputs(report: Report, ctx: TemplateContext, kind: str) -> None:
    inputs = ctx.template.inputs
    if inputs is None:
        return
    path, argo = f"{ctx.path}.inputs", f"{ctx.argo}.inputs"
    params = inputs.parameters or []
    arts = inputs.artifacts or []
    check_names(report, [p.name for p in params], f"{path}.parameters", f"{argo}.parameters", params=True)
    check_names(report, [a.name for a in arts], f"{path}.artifacts", f"{argo}.artifacts", params=True)
    for index, art in enumerate(arts):
        at, ref = f"{path}.artifacts[{index}]", f"{argo}.artifacts.{art.name}"
        if art.path and kind not in LEAF_KINDS:
            report(f"{at}.path", f"{ref}.path only valid in container/script templates")
        if art.from_:
            report(f"{at}.from", f"{ref}.from not valid in inputs")
    for index, param in enumerate(params):
        _check_enum(report, param, f"{path}.parameters[{index}]", f"{argo}.parameters.{param.name}")


def _check_enum(report: Report, param: Parameter, at: str, ref: str) -> None:
    if param.enum is None:
        return
    if not param.enum:
        report(f"{at}.enum", f"{ref}.enum should contain at least one value")
        return
    for field, value in (("value", param.value), ("default", param.default)):
        if value is not None and value not in param.enum and not is_parameter(value):
            report(f"{at}.{field}", f"{ref}.{field} should be present in {ref}.enum list")


def check_retry(report: Report, strategy: RetryStrategy, path: str, where: str) -> None:
    """retryStrategy: policy (validateTemplateHolder), limit, backoff durations, expression."""
    policy = strategy.retry_policy
    if policy is not None and policy not in RETRY_POLICIES:
        report(f"{path}.retryPolicy", f"{where} {policy} is not a valid RetryPolicy")
    if strategy.limit is not None and not is_parameter(strategy.limit) and _int(strategy.limit) is None:
        report(f"{path}.limit", f"{where} retryStrategy.limit '{strategy.limit}' is not an integer")
    backoff = strategy.backoff
    if backoff is not None:
        for field, value in (
            ("duration", backoff.duration),
            ("maxDuration", backoff.max_duration),
            ("cap", backoff.cap),
        ):
            if value is None or is_parameter(value):
                continue
            try:
                parse_duration(value)
            except ValueError:
                report(
                    f"{path}.backoff.{field}",
                    f"{where} retryStrategy.backoff.{field} '{value}' is not a valid duration",
                )
        factor = backoff.factor
        if factor is not None and not is_parameter(factor) and _int(factor) is None:
            report(
                f"{path}.backoff.factor", f"{where} retryStrategy.backoff.factor '{factor}' is not an integer"
            )
    if strategy.expression:
        check_expression_text(
            report, f"{path}.expression", where, "retryStrategy.expression", strategy.expression
        )


def check_timeout(report: Report, timeout: str, path: str, where: str, name: str) -> None:
    """A Go duration; a bare integer is rejected (validateTemplate)."""
    if is_parameter(timeout):
        return
    valid = _int(timeout) is None
    if valid:
        try:
            parse_duration(timeout)
        except ValueError:
            valid = False
    if not valid:
        report(path, f"{where} {name} has invalid duration format in timeout.")


def _check_limits(report: Report, ctx: TemplateContext, kind: str) -> None:
    """timeout, activeDeadlineSeconds and parallelism, each valid only on some kinds."""
    raw = ctx.raw
    if raw.timeout:
        if kind not in LEAF_KINDS:
            report(
                f"{ctx.path}.timeout",
                f"{ctx.argo} {TYPE_NAMES[kind]} template doesn't support timeout field.",
            )
        else:
            check_timeout(report, raw.timeout, f"{ctx.path}.timeout", ctx.argo, ctx.name)
    deadline = raw.active_deadline_seconds
    if deadline is not None:
        at = f"{ctx.path}.activeDeadlineSeconds"
        if kind in ("steps", "dag"):
            report(at, f"{ctx.argo}.activeDeadlineSeconds is only valid for leaf templates")
        elif not is_parameter(deadline) and ((_int(deadline) or 0) <= 0):
            report(at, f"{ctx.argo}.activeDeadlineSeconds must be a positive integer > 0 or an argo variable")
    if raw.parallelism is not None and kind not in ("steps", "dag"):
        report(f"{ctx.path}.parallelism", f"{ctx.argo}.parallelism is only valid for steps and dag templates")


def _check_leaf(v: Validator, ctx: TemplateContext, kind: str) -> None:
    """validateLeaf: every variable of the whole template resolves; pods need an image."""
    body = ctx.template.to_argo()
    body.pop("outputs", None)
    check_variables(v.add, body, ctx.path, ctx.scope, f"{ctx.argo}:")
    if kind in LEAF_KINDS:
        container = getattr(ctx.template, kind)
        if not container.image and not v.image_default(ctx.tset, kind):
            v.add(f"{ctx.path}.{kind}.image", f"{ctx.argo}.{kind}.image may not be empty")


def _check_outputs(report: Report, ctx: TemplateContext, kind: str, scope: VarScope) -> None:
    """validateOutputs: names, variables, artifact paths, and where each parameter's value comes from."""
    outputs = ctx.template.outputs
    if outputs is None:
        return
    path, argo = f"{ctx.path}.outputs", f"{ctx.argo}.outputs"
    params = outputs.parameters or []
    arts = outputs.artifacts or []
    check_names(report, [p.name for p in params], f"{path}.parameters", f"{argo}.parameters ", params=True)
    check_names(report, [a.name for a in arts], f"{path}.artifacts", f"{argo}.artifacts ", params=True)
    check_variables(report, outputs.to_argo(), path, scope, argo)
    for index, art in enumerate(arts):
        at, ref = f"{path}.artifacts[{index}]", f"{argo}.artifacts.{art.name}"
        if art.path and kind not in LEAF_KINDS:
            report(f"{at}.path", f"{ref}.path only valid in container/script templates")
        if art.global_name and not is_parameter(art.global_name):
            for error in param_name_errors(art.global_name)[:1]:
                report(f"{at}.globalName", f"{ref}.globalName: {error}")
    for index, param in enumerate(params):
        _check_output_parameter(
            report, param, f"{path}.parameters[{index}]", f"{argo}.parameters.{param.name}", kind
        )


def _check_output_parameter(report: Report, param: Parameter, at: str, ref: str, kind: str) -> None:
    source = param.value_from
    if param.global_name and not is_parameter(param.global_name):
        for error in param_name_errors(param.global_name)[:1]:
            report(f"{at}.globalName", f"{ref}.globalName: {error}")
    if source is not None and param.value is not None:
        report(at, f"{ref} has both valueFrom and value specified. Choose one.")
        return
    if param.value is not None:
        return
    if source is None:
        report(at, f"{ref} does not have valueFrom or value specified")
        return
    types = sum(bool(x) for x in (source.path, source.parameter, source.expression)) + (
        source.supplied is not None
    )
    if types == 0:
        report(
            f"{at}.valueFrom",
            f"{ref} valueFrom type unspecified. choose one of: {VALUE_FROM_CHOICES}, expression",
        )
        return
    if types > 1:
        report(
            f"{at}.valueFrom",
            f"{ref} multiple valueFrom types specified. choose one of: {VALUE_FROM_CHOICES}",
        )
        return
    type_name = TYPE_NAMES[kind]
    if kind in LEAF_KINDS and not source.path:
        report(f"{at}.valueFrom", f"{ref}.path must be specified for {type_name} templates")
    elif kind in ("steps", "dag") and not source.parameter and not source.expression:
        report(
            f"{at}.valueFrom", f"{ref}.parameter or expression must be specified for {type_name} templates"
        )
    if source.expression:
        check_expression_text(
            report, f"{at}.valueFrom.expression", ref, "valueFrom.expression", source.expression
        )


# ---------------------------------------------------------------------- call sites


def loop_kind(call: Invocation) -> str:
    """Which loop a step/task has ("" for none; an empty withItems list is no loop)."""
    if call.with_items:
        return "items"
    if call.with_param:
        return "param"
    if call.with_sequence is not None:
        return "sequence"
    return ""


def check_call(v: Validator, ctx: TemplateContext, call: Invocation, path: str, where: str) -> Callee | None:
    """What steps and tasks share: loops, arguments, the callee, ``when``, ``onExit`` and hooks."""
    loops = sum((bool(call.with_items), bool(call.with_param), call.with_sequence is not None))
    if loops > 1:
        v.add(path, f"{where} only one of withItems, withParam, withSequence can be specified")
    sequence = call.with_sequence
    if sequence is not None and sequence.count is not None and sequence.end is not None:
        v.add(f"{path}.withSequence", f"{where} only one of count or end can be defined in withSequence")
    check_arguments(v.add, call.arguments, f"{path}.arguments", f"{where}.arguments.", allow_empty=False)
    callee = v.resolve(ctx.tset, call.template, call.template_ref, path, where)
    if callee is not None:
        v.check_supplied(callee, call.arguments, f"{path}.arguments", where)
        v.enqueue(callee, exit=ctx.exit)
    check_when(v.add, f"{path}.when", where, call.when)
    if call.on_exit:
        handler = v.resolve(ctx.tset, call.on_exit, None, f"{path}.onExit", where, field_paths=False)
        if handler is not None:
            v.check_hook_supplied(handler, None, f"{path}.onExit", where)
            v.enqueue(handler, exit=ctx.exit)
    for hook_name, hook in (call.hooks or {}).items():
        at, hook_where = f"{path}.hooks.{hook_name}", f"{where}.{hook_name}"
        if hook_name != "exit" and not hook.expression:
            v.add(f"{at}.expression", f"{hook_where} Expression required")
        if hook.expression:
            check_expression_text(v.add, f"{at}.expression", hook_where, "expression", hook.expression)
        target = v.resolve(ctx.tset, hook.template, hook.template_ref, at, hook_where)
        if target is not None:
            v.check_hook_supplied(target, hook.arguments, at, hook_where)
            v.enqueue(target, exit=ctx.exit)
    return callee
