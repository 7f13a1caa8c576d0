"""Running one step or DAG task: rendering, ``when``, loop expansion into a TaskGroup, the call
itself, and its exit hook. Steps and DAGs share this, as Argo v4 runs both on one engine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from triggerfish.expressions.errors import ExpressionError
from triggerfish.expressions.govaluate import evaluate_when
from workflow_runtime.artifacts.resolve import expressions_as_references
from workflow_runtime.controller import names
from workflow_runtime.controller.hooks import lifecycle_hooks, watch_hooks
from workflow_runtime.controller.invocation import Invocation
from workflow_runtime.controller.loops import (
    Expansion,
    LoopError,
    expand_items,
    expand_sequence,
    parse_with_param,
)
from workflow_runtime.controller.references import (
    ABSENT_ARGUMENT,
    RenderedCall,
    absent_message,
    render_call,
)
from workflow_runtime.controller.templates import Call, TemplateNotFound, TemplateScope
from workflow_runtime.controller.variables import node_variables
from workflow_runtime.spec.template import DAGTask, WorkflowStep
from workflow_runtime.state import Node, NodePhase, NodeType
from workflow_runtime.templating import Scope, TemplateError, render_value

if TYPE_CHECKING:
    from workflow_runtime.controller.run import WorkflowRun

FAIL_FAST_MESSAGE = "template has failed or errored children and failFast enabled"


class ChildGate:
    """Admission of a Steps/DAG node's children: template ``parallelism`` and template ``failFast``."""

    def __init__(self, parallelism: int | None, fail_fast: bool) -> None:
        self._slots = asyncio.Semaphore(parallelism) if parallelism else None
        self._fail_fast = fail_fast
        self.tripped = False

    @contextlib.asynccontextmanager
    async def admit(self) -> AsyncIterator[bool]:
        """Yields whether the child may start (False once failFast has tripped)."""
        if self._slots is None:
            yield not self.tripped
            return
        async with self._slots:
            yield not self.tripped

    def record(self, node: Node) -> None:
        if self._fail_fast and node.phase.failed_or_error and node.type != NodeType.TASK_GROUP:
            self.tripped = True


@dataclass(frozen=True, slots=True)
class Child:
    """A step or task about to run inside a Steps/DAG node."""

    name: str
    node_name: str
    body: dict[str, Any]
    model: type[WorkflowStep] | type[DAGTask]
    prefix: str  # "steps" | "tasks"
    boundary: Node
    scope: TemplateScope
    parents: tuple[str, ...]
    on_exit: bool
    result_wanted: bool = False
    """Whether the calling template reads this step's ``outputs.result`` (only then is it kept)."""


def _skip(
    run: WorkflowRun,
    child: Child,
    node_name: str,
    phase: NodePhase,
    message: str,
    parents: tuple[str, ...],
    call: Call | None,
) -> Node:
    """A Skipped-type node (skipped, omitted, or errored before running)."""
    node = run.tree.init_node(
        node_name,
        NodeType.SKIPPED,
        phase,
        boundary_id=child.boundary.id,
        template_name=call.template if call else None,
        template_ref=call.template_ref.to_argo() if call and call.template_ref else None,
        template_scope=child.scope.label,
        message=message,
    )
    if phase in (NodePhase.SKIPPED, NodePhase.OMITTED) and call is not None:
        node.outputs = declared_outputs(run, call, child.scope)
    for parent in parents:
        run.tree.add_child(run.tree.get(parent), node)
    return node


def declared_outputs(run: WorkflowRun, call: Call, scope: TemplateScope) -> dict[str, Any] | None:
    """Outputs a skipped/omitted producer exposes: declared parameters, valued by their default."""
    try:
        template, _ = run.resolver.resolve(call, scope)
    except TemplateNotFound:
        return None
    params = []
    for param in (template.outputs.parameters or []) if template.outputs else []:
        entry: dict[str, Any] = {"name": param.name}
        if param.value_from is not None and param.value_from.default is not None:
            entry["value"] = param.value_from.default
        params.append(entry)
    return {"parameters": params} if params else None


def skip_child(run: WorkflowRun, child: Child, phase: NodePhase, message: str) -> Node:
    """A step/task that will not run: Omitted by its ``depends``, or Error before it could start."""
    call = Call(template=child.body.get("template"))
    if child.body.get("templateRef"):
        call = Call(template_ref=child.model.model_validate(child.body).template_ref)
    return _skip(run, child, child.node_name, phase, message, child.parents, call)


def _call_of(spec: WorkflowStep | DAGTask) -> Call:
    return Call(template=spec.template, template_ref=spec.template_ref, arguments=spec.arguments)


def _loop_items(spec: WorkflowStep | DAGTask, base: str) -> list[Expansion] | None:
    if spec.with_items:
        return expand_items(base, spec.with_items)
    if spec.with_param is not None:
        return expand_items(base, parse_with_param(spec.with_param))
    if spec.with_sequence is not None:
        return expand_items(base, list(expand_sequence(spec.with_sequence)))
    return None


def _when_is_false(when: str | None) -> bool:
    if not when:
        return False
    try:
        return not evaluate_when(when)
    except ExpressionError:
        return False


async def run_child(
    run: WorkflowRun, child: Child, variables: Mapping[str, Any], absent: Mapping[str, str], gate: ChildGate
) -> Node | None:
    """Run a step/task to completion. Returns its node, or None if failFast kept it from starting."""
    existing = run.tree.by_name(child.node_name)
    if existing is not None and existing.fulfilled:
        return existing
    rendered = render_call(expressions_as_references(child.body), variables, absent)
    try:
        spec = child.model.model_validate(rendered.body)
    except ValidationError as exc:
        return _skip(run, child, child.node_name, NodePhase.ERROR, str(exc), child.parents, None)
    call = _call_of(spec)
    try:
        expansions = _loop_items(spec, child.node_name)
    except (LoopError, ValueError) as exc:
        if (rendered.absent_elsewhere or rendered.error) and _when_is_false(spec.when):
            return _skip(
                run,
                child,
                child.node_name,
                NodePhase.SKIPPED,
                f"when '{spec.when}' evaluated false",
                child.parents,
                call,
            )
        message = (
            absent_message(rendered.absent_elsewhere)
            if rendered.absent_elsewhere
            else rendered.error or str(exc)
        )
        return _skip(run, child, child.node_name, NodePhase.ERROR, message, child.parents, call)
    if expansions is None:
        return await _run_single(run, child, spec, rendered, child.node_name, child.parents, gate, variables)
    if not expansions:
        return _skip(
            run, child, child.node_name, NodePhase.SKIPPED, "Skipped, empty params", child.parents, call
        )
    return await _run_group(run, child, spec, rendered, expansions, gate, variables)


async def _run_group(
    run: WorkflowRun,
    child: Child,
    spec: WorkflowStep | DAGTask,
    rendered: RenderedCall,
    expansions: list[Expansion],
    gate: ChildGate,
    variables: Mapping[str, Any],
) -> Node:
    group = run.tree.by_name(child.node_name) or run.tree.init_node(
        child.node_name,
        NodeType.TASK_GROUP,
        NodePhase.RUNNING,
        boundary_id=child.boundary.id,
        template_name=spec.template,
        template_scope=child.scope.label,
    )
    for parent in child.parents:
        run.tree.add_child(run.tree.get(parent), group)
    base = spec.model_dump(
        by_alias=True, exclude_none=True, exclude={"with_items", "with_param", "with_sequence"}
    )

    async def run_item(expansion: Expansion) -> Node | None:
        item_rendered = render_call(base, expansion.variables, {})
        body = {**item_rendered.body, "name": names.display_name(expansion.name)}
        item = child.model.model_validate(body)
        item_rendered.dropped_arguments = rendered.dropped_arguments
        return await _run_single(
            run, child, item, item_rendered, expansion.name, (group.id,), gate, variables
        )

    items = [node for node in await asyncio.gather(*(run_item(e) for e in expansions)) if node is not None]
    failed = [n for n in items if n.phase.failed_or_error]
    if not failed:
        return run.tree.mark(group, NodePhase.SUCCEEDED)
    phase = NodePhase.ERROR if any(n.phase == NodePhase.ERROR for n in failed) else NodePhase.FAILED
    return run.tree.mark(group, phase, "")


async def _run_single(
    run: WorkflowRun,
    child: Child,
    spec: WorkflowStep | DAGTask,
    rendered: RenderedCall,
    node_name: str,
    parents: tuple[str, ...],
    gate: ChildGate,
    variables: Mapping[str, Any],
) -> Node | None:
    existing = run.tree.by_name(node_name)
    if existing is not None and existing.fulfilled:
        return existing
    call = _call_of(spec)
    if existing is None:
        problem = _pre_run_problem(run, child, spec, rendered, call)
        if problem is not None:
            phase, message = problem
            return _skip(run, child, node_name, phase, message, parents, call)
    inv = Invocation(
        node_name=node_name,
        call=call,
        scope=child.scope,
        boundary_id=child.boundary.id,
        arguments=spec.arguments,
        on_exit=child.on_exit,
        display_name=names.display_name(node_name),
        parents=parents,
        extra_variables={f"{child.prefix}.name": names.display_name(node_name)},
        include_result=child.result_wanted,
    )
    async with gate.admit() as admitted:
        if not admitted and existing is None:
            return None
        node = await _execute_with_hooks(run, child, spec, inv, variables)
    gate.record(node)
    await run_exit_hook(run, child, spec, node, variables)
    return node


async def _execute_with_hooks(
    run: WorkflowRun,
    child: Child,
    spec: WorkflowStep | DAGTask,
    inv: Invocation,
    variables: Mapping[str, Any],
) -> Node:
    """Run the call; its lifecycle hooks watch ``<prefix>.<name>.status`` meanwhile."""
    hooks = lifecycle_hooks(spec.hooks)
    if not hooks:
        return await run.execute(inv)
    execution = asyncio.ensure_future(run.execute(inv))
    prefix = f"{child.prefix}.{spec.name}"

    def environment() -> dict[str, Any]:
        node = run.tree.by_name(inv.node_name)
        own = node_variables(prefix, node, run.tree.nodes) if node is not None else {}
        return {**variables, **own}

    def node_id() -> str | None:
        node = run.tree.by_name(inv.node_name)
        return node.id if node is not None else None

    await asyncio.gather(
        execution,
        watch_hooks(
            run,
            inv.node_name,
            hooks,
            environment,
            execution.done,
            scope=child.scope,
            boundary_id=child.boundary.id,
            parent_id=node_id,
            arguments=run.spec.arguments,
        ),
    )
    return execution.result()


def _pre_run_problem(
    run: WorkflowRun, child: Child, spec: WorkflowStep | DAGTask, rendered: RenderedCall, call: Call
) -> tuple[NodePhase, str] | None:
    """Why a step/task must not run: ``when`` false (Skipped) or an error (Error)."""
    if spec.when:
        if rendered.absent_in_when:
            return NodePhase.ERROR, absent_message(rendered.absent_in_when)
        if rendered.when_error:
            return NodePhase.ERROR, rendered.when_error
        try:
            proceed = evaluate_when(spec.when)
        except ExpressionError as exc:
            return NodePhase.ERROR, exc.reason
        if not proceed:
            return NodePhase.SKIPPED, f"when '{spec.when}' evaluated false"
    if rendered.absent_elsewhere:
        return NodePhase.ERROR, absent_message(rendered.absent_elsewhere)
    if rendered.error:
        return NodePhase.ERROR, rendered.error
    if rendered.dropped_arguments:
        try:
            template, _ = run.resolver.resolve(call, child.scope)
        except TemplateNotFound:
            return None
        inputs = {p.name: p for p in (template.inputs.parameters or [])} if template.inputs else {}
        for name in rendered.dropped_arguments:
            param = inputs.get(name)
            if param is not None and param.default is None and param.value is None:
                return NodePhase.ERROR, f"inputs.parameters.{name}: {ABSENT_ARGUMENT}"
    return None


async def run_exit_hook(
    run: WorkflowRun, child: Child, spec: WorkflowStep | DAGTask, node: Node, variables: Mapping[str, Any]
) -> Node | None:
    """A step/task's ``onExit`` / ``hooks.exit``: runs once the node Succeeded, Failed or Errored."""
    hook = (spec.hooks or {}).get("exit")
    if hook is not None:
        call = Call(template=hook.template, template_ref=hook.template_ref, arguments=hook.arguments)
    elif spec.on_exit:
        call = Call(template=spec.on_exit)
    else:
        return None
    if node.phase not in (NodePhase.SUCCEEDED, NodePhase.FAILED, NodePhase.ERROR):
        return None
    if run.shutdown == "Terminate":
        return None
    own = node_variables(f"{child.prefix}.{spec.name}", node, run.tree.nodes)
    arguments = call.arguments if call.arguments and call.arguments.parameters else run.spec.arguments
    if arguments is not None:
        with contextlib.suppress(TemplateError):  # unresolvable tags stay literal, as in Argo
            data = render_value(arguments.to_argo(), Scope({**variables, **own}), allow_unresolved=True)
            arguments = type(arguments).model_validate(data)
    inv = Invocation(
        node_name=names.exit_handler_name(node.name),
        call=call,
        scope=child.scope,
        boundary_id=child.boundary.id,
        arguments=arguments,
        on_exit=True,
        display_name=f"{node.display_name}.onExit",
        node_flag={"hooked": True},
        parents=(node.id,),
    )
    return await run.execute(inv)
