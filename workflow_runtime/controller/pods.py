"""Container and script templates: one step (Argo's pod) run through the executor."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triggerfish import metrics
from workflow_runtime.artifacts.collect import save_logs, save_outputs
from workflow_runtime.artifacts.context import StepArtifacts
from workflow_runtime.artifacts.repository import ArtifactError
from workflow_runtime.artifacts.resolve import stage_inputs
from workflow_runtime.controller import names
from workflow_runtime.controller.durations import parse_duration
from workflow_runtime.controller.invocation import Invocation
from workflow_runtime.controller.outputs import OutputErrorWithOutputs, pod_outputs
from workflow_runtime.executors.base import ExecutorError, StepExit, StepLost, StepSpec
from workflow_runtime.spec.template import Container, Template
from workflow_runtime.state import Node, NodePhase, NodeType

if TYPE_CHECKING:
    from workflow_runtime.controller.run import WorkflowRun

SCRIPT_PATH = "/argo/staging/script"
POD_DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


def parse_seconds(value: str | None) -> float | None:
    """``activeDeadlineSeconds`` / ``timeout``: plain seconds or a Go duration such as ``1m30s``."""
    if value is None or value == "":
        return None
    return parse_duration(value)


def step_spec(
    run: WorkflowRun,
    template: Template,
    step_key: str,
    node: Node,
    input_paths: dict[str, Path] | None = None,
) -> StepSpec:
    container: Container | None = template.script or template.container
    assert container is not None
    command = list(container.command or [])
    args = list(container.args or [])
    files: dict[str, bytes] = {}
    if template.script is not None:
        files[SCRIPT_PATH] = (template.script.source or "").encode()
        args = [*args, SCRIPT_PATH]
    env = {e.name: e.value or "" for e in container.env or []}
    env.setdefault("ARGO_NODE_ID", node.id)
    env.setdefault("ARGO_CONTAINER_NAME", "main")
    env.setdefault("ARGO_WORKFLOW_NAME", run.name)
    output_paths = []
    if template.outputs:
        output_paths += [
            p.value_from.path for p in template.outputs.parameters or [] if p.value_from and p.value_from.path
        ]
        output_paths += [a.path for a in template.outputs.artifacts or [] if a.path]
    return StepSpec(
        step_key=step_key,
        image=container.image or "",
        command=command,
        args=args,
        env=env,
        working_dir=container.working_dir,
        files=files,
        file_modes={SCRIPT_PATH: 0o755} if template.script is not None else {},
        input_paths=input_paths or {},
        output_paths=tuple(output_paths),
        resources={k: str(v) for k, v in ((container.resources or {}).get("limits") or {}).items()},
    )


def exit_message(result: StepExit) -> str:
    if result.reason == "OOMKilled":
        return f"main: OOMKilled (exit code {result.exit_code})"
    return result.message or f"main: Error (exit code {result.exit_code})"


async def execute_pod(run: WorkflowRun, inv: Invocation, template: Template) -> Node:
    """Run (or reattach to) one step and record its outcome and outputs on the node."""
    node = run.tree.by_name(inv.node_name)
    if node is not None and node.fulfilled:
        return node
    async with run.pod_slot():
        if node is None:
            node = run.init_executable(inv, NodeType.POD, NodePhase.PENDING, template)
        pod = names.pod_name(run.name, inv.node_name, template.name or "")
        step_key = f"{run.uid}/{pod}"
        if node.phase == NodePhase.PENDING and run.refuses_new_work(inv.on_exit):
            return run.tree.mark(node, NodePhase.FAILED, run.shutdown_message())
        artifacts = step_artifacts(run, template, pod, step_key)
        try:
            if node.phase == NodePhase.PENDING:
                declared = (template.inputs.artifacts or []) if template.inputs else []
                try:
                    inputs = await asyncio.to_thread(stage_inputs, declared, artifacts)
                except ArtifactError as exc:  # Argo's init container failed to load them
                    artifacts.cleanup()
                    return run.tree.mark(node, NodePhase.ERROR, f"init: Error (exit code 1): {exc}")
                await run.executor.start(step_spec(run, template, step_key, node, inputs))
                node.host_node_name = run.host_name
                run.tree.mark(node, NodePhase.RUNNING)
            result = await _wait(run, node, template, step_key, inv.on_exit)
        except StepLost:
            artifacts.cleanup()
            return run.tree.mark(node, NodePhase.ERROR, "pod deleted")
        except ExecutorError as exc:
            artifacts.cleanup()
            return run.tree.mark(node, NodePhase.ERROR, str(exc))
        return await _finish(run, node, template, step_key, result, inv.include_result, artifacts)


def step_artifacts(run: WorkflowRun, template: Template, pod: str, step_key: str) -> StepArtifacts:
    """The step's repository (the workflow's), key prefix and whether its logs are archived."""
    location = template.archive_location
    return run.settings.artifacts.for_step(
        run.spec.artifact_repository_ref,
        {**run.globals, "pod.name": pod},
        step_key,
        archive_logs=(run.spec.archive_logs, location.archive_logs if location else None),
    )


def _save_artifacts(
    run: WorkflowRun, template: Template, step_key: str, artifacts: StepArtifacts
) -> tuple[list[dict[str, Any]], str | None]:
    """Argo's wait container: output artifacts, then the logs when archived (blocking: a thread)."""
    try:
        declared = (template.outputs.artifacts or []) if template.outputs else []
        saved, problem = save_outputs(declared, run.executor, step_key, artifacts)
        if artifacts.archive_logs:
            try:
                saved.append(save_logs(run.executor, step_key, artifacts))
            except ArtifactError as exc:
                problem = problem or f"failed to save logs: {exc}"
        return saved, problem
    finally:
        artifacts.cleanup()


async def _wait(run: WorkflowRun, node: Node, template: Template, step_key: str, on_exit: bool) -> StepExit:
    """Wait for the step, killing it at its deadline or when the workflow is stopped."""
    loop = asyncio.get_running_loop()
    timers = []
    for limit in (parse_seconds(template.active_deadline_seconds), parse_seconds(template.timeout)):
        if limit is None:
            continue
        started = node.started_at.timestamp() if node.started_at else loop.time()
        remaining = max(0.0, started + limit - run.wall_time())
        timers.append(loop.call_later(remaining, run.kill_step, step_key, node, POD_DEADLINE_MESSAGE))
    run.running_steps[step_key] = node
    if run.refuses_new_work(on_exit):  # reattached after a restart to a workflow being stopped
        run.kill_step(step_key, node, run.kill_message())
    try:
        return await run.executor.wait(step_key)
    finally:
        run.running_steps.pop(step_key, None)
        for timer in timers:
            timer.cancel()


async def _finish(
    run: WorkflowRun,
    node: Node,
    template: Template,
    step_key: str,
    result: StepExit,
    include_result: bool,
    artifacts: StepArtifacts,
) -> Node:
    phase = NodePhase.SUCCEEDED if result.exit_code == 0 else NodePhase.FAILED
    message = "" if phase == NodePhase.SUCCEEDED else exit_message(result)
    kill_reason = run.kill_reasons.pop(step_key, None)
    if kill_reason is not None and phase != NodePhase.SUCCEEDED:
        message = kill_reason
    try:
        node.outputs = pod_outputs(template, run.executor, step_key, result.exit_code, include_result)
    except OutputErrorWithOutputs as exc:
        node.outputs = exc.outputs
        if phase == NodePhase.SUCCEEDED:
            phase, message = NodePhase.ERROR, str(exc)
    saved, problem = await asyncio.to_thread(_save_artifacts, run, template, step_key, artifacts)
    if saved:
        node.outputs["artifacts"] = saved
    if problem and phase == NodePhase.SUCCEEDED:
        phase, message = NodePhase.ERROR, f"wait: Error (exit code 1): {problem}"
    node.started_at = node.started_at or result.started_at
    run.publish_global_outputs(node.outputs)
    run.tree.mark(node, phase, message)
    metrics.STEP_DURATION.labels(phase.value).observe(
        max((result.finished_at - result.started_at).total_seconds(), 0.0)
    )
    run.schedule_cleanup(step_key)
    return node
