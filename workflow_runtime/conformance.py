"""Run Argo's own test workflows (``shared/conformance/argo-workflows``) and compare the outcomes
with ``expectations.yaml``: final phase, asserted node phases, inputs, outputs and messages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workflow_runtime.capabilities import SUPPORTED_NEEDS
from workflow_runtime.controller.controller import Controller, SubmitOptions
from workflow_runtime.controller.run import WorkflowRun
from workflow_runtime.spec.errors import ManifestError
from workflow_runtime.spec.loader import load_workflow_kind, parse_documents
from workflow_runtime.spec.workflow import Workflow
from workflow_runtime.state import Node, NodePhase, NodeType
from workflow_runtime.validation import validate_template_manifest, validate_workflow

CASE_TIMEOUT = 180.0

Action = Callable[[WorkflowRun], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    path: Path
    expectation: Mapping[str, Any]

    @property
    def needs(self) -> frozenset[str]:
        return frozenset(self.expectation.get("needs") or [])


@dataclass(slots=True)
class Result:
    case: Case
    status: str  # passed | failed | not-run | unscored
    detail: str = ""
    phase: str = ""
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def load_cases(root: Path) -> list[Case]:
    data = yaml.safe_load((root / "expectations.yaml").read_text())
    return [Case(name, root / name, spec) for name, spec in data["files"].items()]


def skip_reason(case: Case, supported: frozenset[str]) -> str | None:
    """Why a case is not run (None when it is)."""
    expectation = case.expectation
    missing = sorted(case.needs - supported)
    if missing:
        return "needs " + ", ".join(missing)
    if expectation.get("expect") in ("rejected", "lint-error"):
        return None
    phase = expectation.get("phase")
    if phase in ("n/a", "skip"):
        return "not a runnable workflow (prerequisite of another case)"
    return None


# -------------------------------------------------------------------------------- actions


async def _until(run: WorkflowRun, condition: Callable[[], bool]) -> bool:
    """Wait for a condition on the run's nodes; False if the workflow finished first."""
    while not condition():
        if run.phase.completed:
            return False
        await run.changed()
    return True


def _pod_running(run: WorkflowRun) -> bool:
    return any(n.type == NodeType.POD and n.phase == NodePhase.RUNNING for n in run.tree)


def shutdown_when_running(strategy: str) -> Action:
    async def act(run: WorkflowRun) -> None:
        if await _until(run, lambda: _pod_running(run)):
            run.stop(strategy)

    return act


async def terminate_during_exit_handler(run: WorkflowRun) -> None:
    def exit_handler_running() -> bool:
        return run.tree.by_name(f"{run.name}.onExit") is not None and _pod_running(run)

    if await _until(run, exit_handler_running):
        run.stop("Terminate")


async def resume_suspended(run: WorkflowRun) -> None:
    """Play the user who runs ``argo resume`` whenever the workflow waits for approval."""
    while not run.phase.completed:
        if run.active_suspend_nodes():
            run.resume()
        await run.changed()


ACTIONS: dict[str, Action] = {
    "functional/stop-terminate.yaml": shutdown_when_running("Terminate"),
    "functional/stop-terminate-2.yaml": shutdown_when_running("Stop"),
    "functional/workflow-exit-handler-sleep.yaml": terminate_during_exit_handler,
    "functional/suspend-dag-template.yaml": resume_suspended,
    "functional/suspend-template.yaml": resume_suspended,
}


# -------------------------------------------------------------------------------- checks


def _by_display(nodes: Iterable[Node], display: str) -> list[Node]:
    return [n for n in nodes if n.display_name == display]


def check_nodes(case: Case, nodes: list[Node]) -> list[str]:
    problems = []
    expectation = case.expectation
    for display, phases in (expectation.get("nodes") or {}).items():
        found = _by_display(nodes, display)
        allowed = set(str(phases).split("|"))
        if not found:
            problems.append(f"node {display!r} missing")
        elif not any(n.phase.value in allowed for n in found):
            problems.append(
                f"node {display!r} is {found[0].phase.value}, expected {phases} ({found[0].message})"
            )
    for key, label in (("node_inputs", "inputs"), ("node_outputs", "outputs")):
        for display, params in (expectation.get(key) or {}).items():
            found = _by_display(nodes, display)
            if not found:
                problems.append(f"node {display!r} missing")
                continue
            values = {
                p["name"]: p.get("value") for p in ((getattr(found[0], label) or {}).get("parameters") or [])
            }
            for name, expected in params.items():
                if values.get(name) != expected:
                    problems.append(
                        f"node {display!r} {label} {name}={values.get(name)!r}, expected {expected!r}"
                    )
    return problems


def check_outcome(case: Case, phase: str, message: str, nodes: list[Node]) -> list[str]:
    expectation = case.expectation
    problems = []
    accepted = set(expectation.get("accept") or [expectation.get("phase")])
    if phase not in accepted:
        problems.append(f"phase {phase}, expected {' or '.join(sorted(accepted))} ({message})")
    wanted = expectation.get("message")
    if wanted and wanted.split(" (or ")[0] not in message:
        problems.append(f"message {message!r} lacks {wanted!r}")
    return problems + check_nodes(case, nodes)


# -------------------------------------------------------------------------------- running


def _documents(case: Case) -> list[Any]:
    return [load_workflow_kind(doc, case.name) for doc in parse_documents(case.path.read_text(), case.name)]


def lint_case(case: Case) -> Result:
    """``expect: rejected | lint-error``: the manifest must be refused, with Argo's message if given."""
    started = time.monotonic()
    messages: list[str] = []
    try:
        for manifest in _documents(case):
            if isinstance(manifest, Workflow):
                issues = validate_workflow(manifest)
            else:
                issues = validate_template_manifest(manifest.spec)
            messages += [str(issue) for issue in issues]
    except ManifestError as exc:
        messages += [str(issue) for issue in exc.issues]
    seconds = time.monotonic() - started
    wanted = case.expectation.get("message")
    if not messages:
        return Result(case, "failed", "accepted, but Argo rejects it", seconds=seconds)
    if wanted and not any(wanted in m for m in messages):
        return Result(case, "failed", f"rejected, but without {wanted!r}: {messages}", seconds=seconds)
    return Result(case, "passed", messages[0], "rejected", seconds)


async def run_case(controller: Controller, case: Case, root: Path, namespace: str = "default") -> Result:
    started = time.monotonic()
    for required in case.expectation.get("requires") or []:
        for manifest in _documents(Case(required, root / required, {})):
            scope = "" if manifest.kind == "ClusterWorkflowTemplate" else namespace
            await controller.resources.put(
                manifest.kind, scope, manifest.metadata.name or "", manifest.to_argo()
            )
    workflows = [m for m in _documents(case) if isinstance(m, Workflow)]
    if len(workflows) != 1:
        return Result(case, "failed", f"expected one Workflow, found {len(workflows)}")
    try:
        record = await controller.submit(workflows[0], SubmitOptions(namespace=namespace))
    except ManifestError as exc:
        # Argo's controller fails a workflow whose spec does not validate: Failed, "invalid spec: ...".
        message = f"invalid spec: {exc}"
        problems = check_outcome(case, "Failed", message, [])
        return Result(
            case,
            "failed" if problems else "passed",
            "; ".join(problems) or message,
            "Failed",
            time.monotonic() - started,
            problems,
        )
    run = controller.runs[record.uid]
    action = ACTIONS.get(case.name)
    helper = asyncio.ensure_future(action(run)) if action else None
    try:
        phase = await asyncio.wait_for(controller.wait(record.uid), CASE_TIMEOUT)
    except TimeoutError:
        run.stop("Terminate")
        await controller.wait(record.uid)
        return Result(
            case,
            "failed",
            f"did not finish within {CASE_TIMEOUT:.0f}s",
            run.phase.value,
            time.monotonic() - started,
        )
    finally:
        if helper is not None:
            helper.cancel()
    nodes = list(run.tree)
    problems = check_outcome(case, phase.value, run.message, nodes)
    status = "passed" if not problems else "failed"
    if case.expectation.get("phase") == "unknown":
        status = "unscored"
    return Result(
        case, status, "; ".join(problems) or run.message, phase.value, time.monotonic() - started, problems
    )


async def run_corpus(
    controller: Controller,
    root: Path,
    *,
    supported: frozenset[str] = SUPPORTED_NEEDS,
    only: Callable[[Case], bool] | None = None,
    concurrency: int = 8,
) -> list[Result]:
    """Run every case ``supported`` allows (at most ``concurrency`` at a time)."""
    slots = asyncio.Semaphore(concurrency)

    async def one(case: Case) -> Result:
        reason = skip_reason(case, supported)
        if reason is not None:
            return Result(case, "not-run", reason)
        if case.expectation.get("expect") in ("rejected", "lint-error"):
            return lint_case(case)
        async with slots:
            return await run_case(controller, case, root)

    cases = [c for c in load_cases(root) if only is None or only(c)]
    return list(await asyncio.gather(*(one(case) for case in cases)))


def summary(results: list[Result]) -> str:
    counts = {
        status: sum(1 for r in results if r.status == status)
        for status in ("passed", "failed", "not-run", "unscored")
    }
    return (
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['not-run']} not run, "
        f"{counts['unscored']} run but not scored (phase unknown upstream)"
    )
