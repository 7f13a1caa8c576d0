"""``dag`` templates: each task is a coroutine that waits for exactly the tasks it depends on, so a
finishing task starts its dependents at once."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from triggerfish.expressions.errors import ExpressionError
from workflow_runtime.controller.children import FAIL_FAST_MESSAGE, Child, ChildGate, run_child, skip_child
from workflow_runtime.controller.invocation import Invocation
from workflow_runtime.controller.outputs import OutputError, template_outputs
from workflow_runtime.controller.scope import (
    first_failure,
    references_result,
    result_variables,
    template_text,
)
from workflow_runtime.controller.variables import AggregationError
from workflow_runtime.depends import (
    DependencyState,
    DependsExpression,
    dependencies_to_depends,
    parse_depends,
)
from workflow_runtime.spec.template import DAGTask, Template
from workflow_runtime.state import Node, NodePhase, NodeType
from workflow_runtime.templating import Scope

if TYPE_CHECKING:
    from workflow_runtime.controller.run import WorkflowRun


def depends_logic(task: DAGTask) -> str:
    """The task's dependency condition: ``depends``, or the legacy ``dependencies`` list as one."""
    if task.depends is not None:
        return task.depends
    return dependencies_to_depends(task.dependencies or [])


def _state(node: Node | None, task: DAGTask, run: WorkflowRun) -> DependencyState:
    cont = task.continue_on
    children: tuple[str, ...] = ()
    if node is not None and node.type == NodeType.TASK_GROUP:
        children = tuple(run.tree.get(c).phase.value for c in node.children)
    return DependencyState(
        phase=node.phase.value if node is not None else "",
        children_phases=children,
        continue_on_failed=bool(cont and cont.failed),
        continue_on_error=bool(cont and cont.error),
    )


def _leaves(tasks: dict[str, DAGTask], deps: dict[str, frozenset[str]]) -> list[str]:
    used = {d for names in deps.values() for d in names}
    return sorted(name for name in tasks if name not in used)


def _needed(targets: list[str], deps: dict[str, frozenset[str]]) -> list[str]:
    seen: list[str] = []
    stack = list(targets)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.append(name)
        stack.extend(deps.get(name, ()))
    return seen


class _DagRun:
    def __init__(self, run: WorkflowRun, inv: Invocation, template: Template, node: Node) -> None:
        assert template.dag is not None
        self.run, self.inv, self.template, self.node = run, inv, template, node
        self.tasks = {t.name: t for t in template.dag.tasks}
        self.logic: dict[str, DependsExpression | None] = {}
        self.deps: dict[str, frozenset[str]] = {}
        self.errors: dict[str, str] = {}
        for name, task in self.tasks.items():
            text = depends_logic(task)
            try:
                parsed = parse_depends(text) if text.strip() else None
            except ExpressionError as exc:
                self.errors[name] = f"unable to evaluate expression '{text}': {exc}"
                parsed = None
            self.logic[name] = parsed
            self.deps[name] = parsed.task_names & set(self.tasks) if parsed else frozenset()
        target = template.dag.target
        self.targets = target.split() if target else _leaves(self.tasks, self.deps)
        self.gate = ChildGate(template.parallelism, bool(template.fail_fast))
        self.done = {name: asyncio.Event() for name in self.tasks}
        self.text = template_text(template)
        self.results: dict[str, Node | None] = {}
        self._task_variables: dict[str, Any] = {}
        self._absent: dict[str, str] = {}
        self._aggregation_errors: dict[str, str] = {}

    def node_name(self, task: str) -> str:
        return f"{self.inv.node_name}.{task}"

    def variables(self) -> tuple[dict[str, Any], dict[str, str]]:
        """Globals plus ``tasks.X.*`` of every finished task (kept up to date as tasks finish)."""
        if self._aggregation_errors:
            raise AggregationError(next(iter(self._aggregation_errors.values())))
        return {**self.run.globals, **self._task_variables}, self._absent

    async def run_task(self, name: str) -> None:
        try:
            result = self.results[name] = await self._run_task(name)
            if result is not None:
                try:
                    more, missing = result_variables(f"tasks.{name}", result, self.run.tree)
                except AggregationError as exc:
                    self._aggregation_errors[name] = str(exc)
                else:
                    self._task_variables.update(more)
                    self._absent.update(missing)
        finally:
            self.done[name].set()

    async def _run_task(self, name: str) -> Node | None:
        deps = self.deps[name]
        for dep in deps:
            await self.done[dep].wait()
        dep_nodes = [self.results.get(dep) for dep in sorted(deps)]
        parents = tuple(o for n in dep_nodes if n is not None for o in self.run.tree.outbound_nodes(n.id))
        child = Child(
            name=name,
            node_name=self.node_name(name),
            body=self.tasks[name].model_dump(by_alias=True, exclude_none=True),
            model=DAGTask,
            prefix="tasks",
            boundary=self.node,
            scope=self.inv.scope,
            parents=parents or (self.node.id,),
            on_exit=self.inv.on_exit,
            result_wanted=references_result(self.text, "tasks", name),
        )
        try:
            variables, absent = self.variables()
        except AggregationError as exc:
            return skip_child(self.run, child, NodePhase.ERROR, str(exc))
        existing = self.run.tree.by_name(child.node_name)
        if existing is None:
            if name in self.errors:
                return skip_child(self.run, child, NodePhase.ERROR, self.errors[name])
            if any(n is None for n in dep_nodes):
                return None  # a dependency never started (failFast): neither does this task
            logic = self.logic[name]
            states = {dep: _state(self.results.get(dep), self.tasks[dep], self.run) for dep in deps}
            if logic is not None and not logic.evaluate(states):
                return skip_child(self.run, child, NodePhase.OMITTED, "omitted: depends condition not met")
        return await run_child(self.run, child, variables, absent, self.gate)

    def branch_phase(self, name: str, memo: dict[str, NodePhase | None]) -> NodePhase | None:
        """Argo's branch phase: a node's own completed phase, else inherited from its dependencies
        (Failed/Error preferred), so an omitted target reports why its branch stopped."""
        if name in memo:
            return memo[name]
        node = self.results.get(name)
        phase: NodePhase | None
        if node is None:
            phase = None
        elif node.phase in (NodePhase.SUCCEEDED, NodePhase.FAILED, NodePhase.ERROR):
            phase = node.phase
        else:
            inherited = [self.branch_phase(d, memo) for d in sorted(self.deps[name])]
            bad = [p for p in inherited if p is not None and p.failed_or_error]
            phase = bad[0] if bad else NodePhase.SUCCEEDED
        memo[name] = phase
        return phase

    def assess(self) -> tuple[NodePhase, str]:
        if self.gate.tripped:
            return NodePhase.FAILED, FAIL_FAST_MESSAGE
        assert self.template.dag is not None
        fail_fast = self.template.dag.fail_fast is not False
        memo: dict[str, NodePhase | None] = {}
        result = NodePhase.SUCCEEDED
        for target in self.targets:
            phase = self.branch_phase(target, memo)
            if phase is None or not phase.failed_or_error:
                continue
            task = self.tasks.get(target)
            cont = task.continue_on if task else None
            if cont and (
                (phase == NodePhase.FAILED and cont.failed) or (phase == NodePhase.ERROR and cont.error)
            ):
                continue
            result = phase
            if fail_fast:
                break
        if result == NodePhase.SUCCEEDED:
            return result, ""
        for name in self.tasks:  # message names the first failed task in declaration order
            node = self.results.get(name)
            if node is not None and node.phase.failed_or_error:
                return result, f"child '{first_failure(node, self.run.tree).id}' failed"
        return result, ""


async def execute_dag(run: WorkflowRun, inv: Invocation, template: Template) -> Node:
    node = run.tree.by_name(inv.node_name) or run.init_executable(
        inv, NodeType.DAG, NodePhase.RUNNING, template
    )
    dag = _DagRun(run, inv, template, node)
    unknown = [t for t in dag.targets if t not in dag.tasks]
    if unknown:
        return run.tree.mark(node, NodePhase.ERROR, f"target '{unknown[0]}' does not exist")
    await asyncio.gather(*(dag.run_task(name) for name in _needed(dag.targets, dag.deps)))
    node.outbound_nodes = [
        o for t in dag.targets if (n := dag.results.get(t)) is not None for o in run.tree.outbound_nodes(n.id)
    ]
    phase, message = dag.assess()
    if phase != NodePhase.SUCCEEDED:
        return run.tree.mark(node, phase, message)
    try:
        variables, _ = dag.variables()
        node.outputs = template_outputs(template, Scope(variables))
    except (OutputError, AggregationError) as exc:
        return run.tree.mark(node, NodePhase.ERROR, str(exc))
    run.publish_global_outputs(node.outputs)
    return run.tree.mark(node, NodePhase.SUCCEEDED)
