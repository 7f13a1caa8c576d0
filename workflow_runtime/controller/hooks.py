"""Lifecycle hooks (``hooks.<name>`` with an ``expression``), at workflow and at step/task level.

A hook's expression is evaluated again whenever the run changes; the first time it holds, the
hook's template runs once as node ``<node>.hooks.<name>``. The hooked node (or the workflow) is only
finished when the hooks it started are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from triggerfish.expressions.errors import ExpressionError
from triggerfish.expressions.expr_lang import compile_expression
from workflow_runtime.controller import names
from workflow_runtime.controller.invocation import Invocation
from workflow_runtime.controller.templates import Call, TemplateScope
from workflow_runtime.spec.common import Arguments, LifecycleHook
from workflow_runtime.state import Node, NodePhase
from workflow_runtime.templating import Scope

if TYPE_CHECKING:
    from workflow_runtime.controller.run import WorkflowRun

Environment = Callable[[], Mapping[str, Any]]


def lifecycle_hooks(hooks: Mapping[str, LifecycleHook] | None) -> dict[str, LifecycleHook]:
    return {name: hook for name, hook in (hooks or {}).items() if name != "exit"}


def _holds(expression: str, env: Mapping[str, Any]) -> bool | str:
    """True/False, or the error text when the expression cannot be evaluated."""
    try:
        value = compile_expression(expression).evaluate(Scope(dict(env)).env)
    except ExpressionError as exc:
        return exc.reason
    return value is True


async def watch_hooks(
    run: WorkflowRun,
    owner: str,
    hooks: Mapping[str, LifecycleHook],
    environment: Environment,
    finished: Callable[[], bool],
    *,
    scope: TemplateScope,
    boundary_id: str | None,
    parent_id: Callable[[], str | None],
    arguments: Arguments | None,
) -> None:
    """Start each hook the first time its expression holds; return when ``finished()`` and every
    started hook is done. ``owner`` is the node name the hook nodes are named after."""
    started: dict[str, asyncio.Task[Node]] = {}
    version: int | None = None
    while True:
        done = finished()
        env = environment()
        for name, hook in hooks.items():
            if name in started:
                continue
            node_name = names.hook_name(owner, name)
            verdict = True if run.tree.by_name(node_name) else _holds(hook.expression or "", env)
            if verdict is False:
                continue
            parent = parent_id()
            inv = Invocation(
                node_name=node_name,
                call=Call(template=hook.template, template_ref=hook.template_ref),
                scope=scope,
                boundary_id=boundary_id,
                arguments=hook.arguments if hook.arguments and hook.arguments.parameters else arguments,
                display_name=names.display_name(owner) + f".hooks.{name}" if boundary_id else node_name,
                node_flag={"hooked": True},
                parents=(parent,) if parent else (),
            )
            if isinstance(verdict, str):
                run.error_node(inv, f"failed to evaluate hook expression '{hook.expression}': {verdict}")
                started[name] = asyncio.ensure_future(_done(run, node_name))
            else:
                started[name] = asyncio.ensure_future(run.execute(inv))
        if done:
            break
        version = await run.changed(version)
    if started:
        await asyncio.gather(*started.values())


async def _done(run: WorkflowRun, node_name: str) -> Node:
    node = run.tree.by_name(node_name)
    assert node is not None
    return node


def workflow_environment(run: WorkflowRun) -> Mapping[str, Any]:
    """Globals with ``workflow.status`` as it stands now ("Running" until the entry node ends)."""
    entry = run.tree.by_name(run.name)
    status = "Running"
    if entry is not None and entry.fulfilled:
        status = (
            "Succeeded"
            if entry.phase in (NodePhase.SUCCEEDED, NodePhase.SKIPPED, NodePhase.OMITTED)
            else (entry.phase.value)
        )
    return {**run.globals, "workflow.status": status}
