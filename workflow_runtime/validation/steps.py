"""``steps`` templates (validate.go validateSteps).

A step sees the outputs of the steps in *earlier* groups only (Argo's lint also lets a step see
earlier steps of its own group, which can never resolve at runtime); its hooks also see the step
itself (``steps.<name>.status`` and, for exit hooks, its outputs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workflow_runtime.validation.names import field_name_errors
from workflow_runtime.validation.scope import VarScope, add_items, add_outputs, check_variables
from workflow_runtime.validation.templates import check_call, loop_kind

if TYPE_CHECKING:
    from workflow_runtime.validation.core import Callee, TemplateContext, Validator


def validate_steps(v: Validator, ctx: TemplateContext) -> VarScope:
    """Check every step; returns the scope the template's outputs are resolved in."""
    scope = ctx.scope.copy()
    seen: set[str] = set()
    for group_index, group in enumerate(ctx.raw.steps or []):
        finished: list[tuple[str, Callee | None, bool]] = []
        for step_index, step in enumerate(group):
            path = f"{ctx.path}.steps[{group_index}][{step_index}]"
            group_argo = f"{ctx.argo}.steps[{group_index}]"
            name = step.name or ""
            if not name:
                v.add(f"{path}.name", f"{group_argo}.name is required")
            elif name in seen:
                v.add(f"{path}.name", f"{group_argo}.name '{name}' is not unique")
            elif errors := field_name_errors(name):
                v.add(f"{path}.name", f"{group_argo}.name '{name}' is invalid: {';'.join(errors)}")
            seen.add(name)
            where = f"{group_argo}.{name}"
            callee = check_call(v, ctx, step, path, where)
            step_scope = scope.copy()
            add_items(step_scope, step.with_items, step.with_param, step.with_sequence is not None)
            body = step.to_argo()
            hooks = body.pop("hooks", None)
            check_variables(v.add, body, path, step_scope, f"{ctx.argo}.steps")
            if hooks:
                hook_scope = step_scope.copy()
                add_outputs(
                    hook_scope,
                    f"steps.{name}",
                    callee.template if callee else None,
                    aggregate=False,
                    status=True,
                )
                check_variables(v.add, hooks, f"{path}.hooks", hook_scope, f"{ctx.argo}.steps")
            finished.append((name, callee, loop_kind(step) != ""))
        for name, callee, looped in finished:
            if name:
                add_outputs(
                    scope, f"steps.{name}", callee.template if callee else None, aggregate=looped, status=True
                )
    return scope
