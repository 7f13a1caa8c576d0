"""``suspend`` templates: wait for a duration or for ``resume``; supplied outputs come from ``set``."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from workflow_runtime.controller.durations import parse_duration
from workflow_runtime.controller.invocation import Invocation
from workflow_runtime.spec.template import Template
from workflow_runtime.state import Node, NodePhase, NodeType

if TYPE_CHECKING:
    from workflow_runtime.controller.run import WorkflowRun


def _supplied_outputs(template: Template) -> dict[str, Any] | None:
    params = []
    for param in (template.outputs.parameters or []) if template.outputs else []:
        if param.value_from is not None and param.value_from.supplied is not None:
            params.append(param.to_argo())
    return {"parameters": params} if params else None


def _fill_defaults(node: Node) -> str | None:
    """Supplied outputs not set by the user take their default; returns an error if one has none."""
    for param in (node.outputs or {}).get("parameters") or []:
        if param.get("value") is not None:
            continue
        default = (param.get("valueFrom") or {}).get("default")
        if default is None:
            return (
                f"raw output parameter '{param['name']}' has not been set and does not have a default value"
            )
        param["value"] = default
        param.pop("valueFrom", None)
    return None


async def execute_suspend(run: WorkflowRun, inv: Invocation, template: Template) -> Node:
    node = run.tree.by_name(inv.node_name)
    if node is None:
        node = run.init_executable(inv, NodeType.SUSPEND, NodePhase.PENDING, template)
    if node.phase == NodePhase.PENDING:  # new, or created while it waited for a lock
        node.outputs = _supplied_outputs(template)
        run.tree.mark(node, NodePhase.RUNNING)
    if node.fulfilled:
        return node
    event = run.suspend_event(node.id)
    if run.shutdown or (run.deadline_exceeded and not inv.on_exit):
        event.set()  # stopped (or out of time) before this node started waiting
    duration = template.suspend.duration if template.suspend else None
    try:
        if duration:
            started = node.started_at.timestamp() if node.started_at else run.wall_time()
            remaining = max(0.0, started + parse_duration(duration) - run.wall_time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=remaining)
        else:
            await event.wait()
    finally:
        run.release_suspend(node.id)
    verdict = run.suspend_verdict(node.id)
    if verdict is not None:
        return run.tree.mark(node, verdict[0], verdict[1])
    if run.shutdown:
        return run.tree.mark(node, NodePhase.FAILED, f"Stopped with strategy '{run.shutdown}'")
    if run.deadline_exceeded and not inv.on_exit:
        return run.tree.mark(node, NodePhase.FAILED, "Step exceeded its deadline")
    problem = _fill_defaults(node)
    if problem is not None:
        return run.tree.mark(node, NodePhase.ERROR, problem)
    run.publish_global_outputs(node.outputs)
    return run.tree.mark(node, NodePhase.SUCCEEDED, node.message or None)
