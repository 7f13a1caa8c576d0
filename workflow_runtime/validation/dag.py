"""``dag`` templates (validate.go validateDAG): task names, dependencies, cycles, targets, scopes.

A task sees ``tasks.<x>.*`` only for its transitive dependencies (Argo's lint also admits other
tasks' outputs, which at runtime may not exist yet when the task starts).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from triggerfish.expressions.errors import ExpressionError
from workflow_runtime.depends import parse_depends
from workflow_runtime.spec.template import DAGTask, Template
from workflow_runtime.validation.names import check_names
from workflow_runtime.validation.scope import (
    VarScope,
    add_items,
    add_outputs,
    check_variables,
    is_parameter,
)
from workflow_runtime.validation.templates import check_call, loop_kind

if TYPE_CHECKING:
    from workflow_runtime.validation.core import Callee, TemplateContext, Validator

# common/ancestry.go: a dependency with an items-based result (``A.AnySucceeded``).
_ITEMS_RESULT = re.compile(r"(?<![-a-zA-Z0-9])([a-zA-Z0-9][-a-zA-Z0-9]*?)\.(AnySucceeded|AllFailed)\b")

DependencyRef = tuple[str, str]  # (task name, YAML path of the field naming it)


def _dependencies(v: Validator, task: DAGTask, at: str, where: str) -> list[DependencyRef]:
    """The tasks ``task`` waits for, from ``depends`` (parsed) or the legacy ``dependencies``."""
    if task.depends:
        try:
            names = parse_depends(task.depends).task_names
        except ExpressionError as exc:
            reason = exc.reason
            if not reason.startswith("task result "):
                where_at = "" if exc.position is None else f" at {exc.position}"
                reason = f"invalid 'depends' expression '{task.depends}': {reason}{where_at}"
            v.add(f"{at}.depends", f"{where} {reason}")
            return []
        return [(name, f"{at}.depends") for name in sorted(names)]
    return [(name, f"{at}.dependencies[{i}]") for i, name in enumerate(task.dependencies or [])]


def _cycles(deps: dict[str, list[str]], order: list[str]) -> list[list[str]]:
    """Each distinct dependency cycle once, as a path ``[a, b, a]`` (iterative DFS)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    found: list[list[str]] = []
    reported: set[frozenset[str]] = set()
    for root in order:
        if root in state:
            continue
        path = [root]
        iters = [iter(deps.get(root, []))]
        state[root] = 1
        while iters:
            child = next(iters[-1], None)
            if child is None:
                iters.pop()
                state[path.pop()] = 2
                continue
            if state.get(child) == 1:
                cycle = [*path[path.index(child) :], child]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    found.append(cycle)
            elif child not in state:
                state[child] = 1
                path.append(child)
                iters.append(iter(deps.get(child, [])))
    return found


def _ancestors(name: str, deps: dict[str, list[str]]) -> set[str]:
    """common.GetTaskAncestry: every task ``name`` transitively depends on."""
    seen: set[str] = set()
    stack = list(deps.get(name, []))
    while stack:
        dep = stack.pop()
        if dep not in seen:
            seen.add(dep)
            stack.extend(deps.get(dep, []))
    seen.discard(name)
    return seen


def _template(callee: Callee | None) -> Template | None:
    return callee.template if callee is not None else None


def validate_dag(v: Validator, ctx: TemplateContext) -> VarScope:
    """Check every task; returns the scope the template's outputs are resolved in."""
    assert ctx.raw.dag is not None
    dag = ctx.raw.dag
    tasks = dag.tasks
    path, argo = f"{ctx.path}.dag", ctx.argo
    if not tasks:
        v.add(f"{path}.tasks", f"{argo} must have at least one task")
        return ctx.scope
    check_names(v.add, [t.name for t in tasks], f"{path}.tasks", f"{argo}.tasks", params=False)
    by_name: dict[str, DAGTask] = {}
    for task in tasks:
        by_name.setdefault(task.name, task)
    using_depends = any(t.depends for t in tasks)

    deps: dict[str, list[str]] = {}
    closing_field: dict[str, str] = {}
    for index, task in enumerate(tasks):
        at, where = f"{path}.tasks[{index}]", f"{argo}.tasks.{task.name}"
        if (using_depends or task.dependencies) and task.name[:1].isdigit():
            v.add(
                f"{at}.name",
                f"{where} name cannot begin with a digit when using either 'depends' or 'dependencies'",
            )
        if using_depends and task.dependencies:
            v.add(
                f"{at}.dependencies",
                f"{argo} cannot use both 'depends' and 'dependencies' in the same DAG template",
            )
        if using_depends and task.continue_on is not None:
            v.add(
                f"{at}.continueOn",
                f"{argo} cannot use 'continueOn' when using 'depends'. "
                "Instead use 'dep-task.Failed'/'dep-task.Errored'",
            )
        refs = _dependencies(v, task, at, where)
        for dep, field in refs:
            if dep not in by_name:
                v.add(field, f"{where} dependency '{dep}' not defined")
        if task.name not in deps:
            deps[task.name] = [dep for dep, _ in refs if dep in by_name]
            closing_field[task.name] = f"{at}.depends" if task.depends else f"{at}.dependencies"
        for match in _ITEMS_RESULT.finditer(task.depends or ""):
            dep_task = by_name.get(match.group(1))
            if dep_task is not None and not loop_kind(dep_task):
                v.add(
                    f"{at}.depends",
                    f"{where} dependency '{match.group(1)}' uses an items-based condition such as "
                    ".AnySucceeded or .AllFailed but does not contain any items",
                )

    for cycle in _cycles(deps, list(by_name)):
        v.add(closing_field[cycle[-2]], f"{argo}.tasks dependency cycle detected: {'->'.join(cycle)}")

    if dag.target:
        check_variables(v.add, dag.target, f"{path}.target", ctx.scope, f"{argo}.targets")
        for target in dag.target.split(" "):
            if target and not is_parameter(target) and target not in by_name:
                v.add(f"{path}.target", f"{argo}.targets: target '{target}' is not defined")

    callees: dict[str, Callee | None] = {}
    for index, task in enumerate(tasks):
        callee = check_call(v, ctx, task, f"{path}.tasks[{index}]", f"{argo}.tasks.{task.name}")
        callees.setdefault(task.name, callee)

    for index, task in enumerate(tasks):
        at, where = f"{path}.tasks[{index}]", f"{argo}.tasks.{task.name}"
        ancestry = _ancestors(task.name, deps)
        scope = ctx.scope.copy()
        for ancestor in ancestry:
            add_outputs(
                scope,
                f"tasks.{ancestor}",
                _template(callees.get(ancestor)),
                aggregate=bool(loop_kind(by_name[ancestor])),
                status=True,
            )
        add_items(scope, task.with_items, task.with_param, task.with_sequence is not None)
        skip = _missing_dependencies(v, task, at, where, ancestry)
        body = task.to_argo()
        hooks = body.pop("hooks", None)
        check_variables(v.add, body, at, scope, where, skip)
        if hooks:
            add_outputs(
                scope, f"tasks.{task.name}", _template(callees.get(task.name)), aggregate=False, status=True
            )
            check_variables(v.add, hooks, f"{at}.hooks", scope, where)

    outputs_scope = ctx.scope.copy()
    for name, task in by_name.items():
        add_outputs(
            outputs_scope,
            f"tasks.{name}",
            _template(callees.get(name)),
            aggregate=bool(loop_kind(task)),
            status=True,
        )
    return outputs_scope


def _missing_dependencies(v: Validator, task: DAGTask, at: str, where: str, ancestry: set[str]) -> set[str]:
    """validateDAGTaskArgumentDependency: an argument ``{{tasks.x...`` needs ``x`` as a dependency.

    Returns the paths reported, so the variable check does not report them again.
    """
    reported: set[str] = set()
    args = task.arguments
    if args is None:
        return reported
    for index, param in enumerate(args.parameters or []):
        value = param.value or ""
        if value.startswith("{{tasks.") and "." in value[8:]:
            ref = value.split(".")[1]
            if ref not in ancestry:
                field = f"{at}.arguments.parameters[{index}].value"
                v.add(field, f"{where} missing dependency '{ref}' for parameter '{param.name}'")
                reported.add(field)
    for index, art in enumerate(args.artifacts or []):
        source = art.from_ or ""
        if source.startswith("{{tasks.") and "." in source[8:]:
            ref = source.split(".")[1]
            if ref not in ancestry:
                field = f"{at}.arguments.artifacts[{index}].from"
                v.add(field, f"{where} missing dependency '{ref}' for artifact '{art.name}'")
                reported.add(field)
    return reported
