"""``steps`` templates: groups run one after another, the steps of a group in parallel."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from workflow_runtime.controller import names
from workflow_runtime.controller.children import FAIL_FAST_MESSAGE, Child, ChildGate, run_child
from workflow_runtime.controller.invocation import Invocation
from workflow_runtime.controller.outputs import OutputError, template_outputs
from workflow_runtime.controller.scope import (
    first_failure,
    references_result,
    result_variables,
    template_text,
)
from workflow_runtime.controller.variables import AggregationError
from workflow_runtime.spec.template import Template, WorkflowStep
from workflow_runtime.state import Node, NodePhase, NodeType
from workflow_runtime.templating import Scope

if TYPE_CHECKING:
    from workflow_runtime.controller.run import WorkflowRun


def _continues(step: WorkflowStep, phase: NodePhase) -> bool:
    if step.continue_on is None:
        return False
    if phase == NodePhase.FAILED:
        return bool(step.continue_on.failed)
    return phase == NodePhase.ERROR and bool(step.continue_on.error)


def _link_group(run: WorkflowRun, steps_node: Node, group: Node, index: int) -> None:
    """Group 0 hangs under the Steps node; group i under the outbound nodes of group i-1."""
    if index == 0:
        run.tree.add_child(steps_node, group)
        return
    previous = run.tree.by_name(names.step_group_name(steps_node.name, index - 1))
    assert previous is not None
    if not previous.children:
        run.tree.add_child(previous, group)
        return
    for child_id in previous.children:
        for outbound in run.tree.outbound_nodes(child_id):
            run.tree.add_child(run.tree.get(outbound), group)


def _outbound(run: WorkflowRun, group: Node) -> list[str]:
    return [o for child in group.children for o in run.tree.outbound_nodes(child)]


async def execute_steps(run: WorkflowRun, inv: Invocation, template: Template) -> Node:
    node = run.tree.by_name(inv.node_name) or run.init_executable(
        inv, NodeType.STEPS, NodePhase.RUNNING, template
    )
    gate = ChildGate(template.parallelism, bool(template.fail_fast))
    scope_vars: dict[str, Any] = {}
    absent: dict[str, str] = {}
    text = template_text(template)
    last_group: Node | None = None
    for index, steps in enumerate(template.steps or []):
        group_name = names.step_group_name(inv.node_name, index)
        group = run.tree.by_name(group_name)
        if group is None:
            group = run.tree.init_node(
                group_name,
                NodeType.STEP_GROUP,
                NodePhase.RUNNING,
                boundary_id=node.id,
                template_scope=inv.scope.label,
                display_name=f"[{index}]",
            )
            _link_group(run, node, group, index)
        last_group = group
        if not group.fulfilled:
            variables = {**run.globals, **scope_vars}
            group = await _execute_group(run, inv, node, group, steps, variables, absent, gate, text)
        if group.phase.failed_or_error:
            node.outbound_nodes = _outbound(run, group)
            return run.tree.mark(node, NodePhase.FAILED, group.message)
        for step in steps:
            child = run.tree.by_name(names.child_name(group_name, step.name or ""))
            if child is None:
                continue
            try:
                more, missing = result_variables(f"steps.{step.name}", child, run.tree, group)
            except AggregationError as exc:
                return run.tree.mark(node, NodePhase.ERROR, str(exc))
            scope_vars.update(more)
            absent.update(missing)
    if last_group is not None:
        node.outbound_nodes = _outbound(run, last_group)
    try:
        node.outputs = template_outputs(template, Scope({**run.globals, **scope_vars}))
    except OutputError as exc:
        return run.tree.mark(node, NodePhase.ERROR, str(exc))
    run.publish_global_outputs(node.outputs)
    return run.tree.mark(node, NodePhase.SUCCEEDED)


async def _execute_group(
    run: WorkflowRun,
    inv: Invocation,
    steps_node: Node,
    group: Node,
    steps: list[WorkflowStep],
    variables: dict[str, Any],
    absent: dict[str, str],
    gate: ChildGate,
    text: str,
) -> Node:
    children = [
        Child(
            name=step.name or "",
            node_name=names.child_name(group.name, step.name or ""),
            body=step.model_dump(by_alias=True, exclude_none=True),
            model=WorkflowStep,
            prefix="steps",
            boundary=steps_node,
            scope=inv.scope,
            parents=(group.id,),
            on_exit=inv.on_exit,
            result_wanted=references_result(text, "steps", step.name or ""),
        )
        for step in steps
    ]
    results = await asyncio.gather(*(run_child(run, c, variables, absent, gate) for c in children))
    if gate.tripped:
        return run.tree.mark(group, NodePhase.FAILED, FAIL_FAST_MESSAGE)
    for step, child in zip(steps, results, strict=True):
        if child is None or not child.phase.failed_or_error or _continues(step, child.phase):
            continue
        if child.phase == NodePhase.ERROR:
            reason = child.message or child.phase.value
            return run.tree.mark(
                group, NodePhase.ERROR, f"step group deemed errored due to child {child.name} error: {reason}"
            )
        return run.tree.mark(group, NodePhase.FAILED, f"child '{first_failure(child, run.tree).id}' failed")
    return run.tree.mark(group, NodePhase.SUCCEEDED)
