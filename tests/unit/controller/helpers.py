"""Shared helpers for the controller tests: build workflows from YAML, run them over the fake
executor, and look at the resulting node tree by node name."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from tests.support.fake_executor import FakeExecutor, Outcome, echo_behaviour
from triggerfish.store.workflows import WorkflowRecord
from workflow_runtime.controller import names
from workflow_runtime.controller.controller import Controller, SubmitOptions
from workflow_runtime.controller.names import node_id
from workflow_runtime.controller.run import WorkflowRun
from workflow_runtime.executors.base import StepSpec
from workflow_runtime.state import Node, WorkflowPhase

WF = "wf"

ECHO = """
- name: echo
  inputs: {parameters: [{name: msg, default: hello}]}
  container: {image: argosay, args: [echo, "{{inputs.parameters.msg}}"]}
- name: fail
  container: {image: argosay, args: [fail]}
- name: exit
  inputs: {parameters: [{name: code}]}
  container: {image: argosay, args: [exit, "{{inputs.parameters.code}}"]}
- name: sleep
  inputs: {parameters: [{name: s, default: "0.2"}]}
  container: {image: argosay, args: [sleep, "{{inputs.parameters.s}}"]}
"""
"""Leaf templates most tests call: ``echo`` (stdout = msg), ``fail`` (exit 1), ``exit`` (exit code),
``sleep`` (seconds)."""


def nid(name: str) -> str:
    """The Argo node ID of a node of workflow ``wf``."""
    return node_id(WF, name)


def manifest(text: str, *, leaves: bool = True, name: str = WF) -> dict[str, Any]:
    """A Workflow from the YAML of its ``spec`` (``templates`` gets the shared leaf templates)."""
    spec = yaml.safe_load(text)
    spec.setdefault("entrypoint", "main")
    if leaves:
        own = {t["name"] for t in spec.get("templates", [])}
        spec["templates"] = [
            *spec.get("templates", []),
            *(t for t in yaml.safe_load(ECHO) if t["name"] not in own),
        ]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": spec,
    }


@dataclass
class Result:
    record: WorkflowRecord
    run: WorkflowRun
    phase: WorkflowPhase

    @property
    def message(self) -> str:
        return self.run.message

    @property
    def names(self) -> set[str]:
        return {n.name for n in self.run.tree}

    def node(self, name: str) -> Node:
        node = self.run.tree.by_name(name)
        assert node is not None, f"no node {name!r}; nodes: {sorted(self.names)}"
        return node

    def phase_of(self, name: str) -> str:
        return self.node(name).phase.value

    def summary(self, name: str) -> tuple[str, str, str]:
        """(type, phase, message) of a node."""
        node = self.node(name)
        return node.type.value, node.phase.value, node.message

    def children(self, name: str) -> list[str]:
        """Names of a node's children, in order."""
        return [self.run.tree.get(c).name for c in self.node(name).children]

    def param(self, name: str, param: str, where: str = "outputs") -> Any:
        data = getattr(self.node(name), where) or {}
        for entry in data.get("parameters") or []:
            if entry["name"] == param:
                return entry.get("value")
        raise AssertionError(f"{name} has no {where} parameter {param!r}: {data}")

    def result(self, name: str) -> Any:
        """``outputs.result`` as recorded (Argo keeps it only when the caller references it)."""
        return (self.node(name).outputs or {}).get("result")

    def printed(self, name: str) -> str | None:
        """What a step wrote to stdout (one trailing newline trimmed), whether or not it was recorded."""
        node = self.node(name)
        template = node.template_name or (node.template_ref or {}).get("template", "")
        pod = names.pod_name(self.run.name, node.name, template)
        data = self.run.executor.read_log(f"{self.run.uid}/{pod}", "stdout")
        text = data.decode()
        return text[:-1] if text.endswith("\n") else text


async def start(
    controller: Controller, text: str | dict[str, Any], options: SubmitOptions | None = None, **kw: Any
) -> tuple[WorkflowRecord, WorkflowRun]:
    doc = manifest(text, **kw) if isinstance(text, str) else text
    record = await controller.submit(doc, options)
    return record, controller.runs[record.uid]


async def run(
    controller: Controller,
    text: str | dict[str, Any],
    options: SubmitOptions | None = None,
    timeout: float = 10.0,
    **kw: Any,
) -> Result:
    record, wf_run = await start(controller, text, options, **kw)
    phase = await asyncio.wait_for(controller.wait(record.uid), timeout)
    return Result(record, wf_run, phase)


async def finish(controller: Controller, record: WorkflowRecord, timeout: float = 10.0) -> Result:
    phase = await asyncio.wait_for(controller.wait(record.uid), timeout)
    return Result(record, controller.runs[record.uid], phase)


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.005)


def node_in_phase(wf_run: WorkflowRun, name: str, *phases: str) -> Callable[[], bool]:
    def check() -> bool:
        node = wf_run.tree.by_name(name)
        return node is not None and node.phase.value in phases

    return check


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote`` for ASCII text (what ``workflow.failures`` holds)."""
    return json.dumps(text)


class ConcurrencyProbe:
    """Tracks how many steps of the fake executor run at once."""

    def __init__(self, executor: FakeExecutor) -> None:
        self.executor = executor
        self.active = 0
        self.max_active = 0
        original = executor.start

        async def start(spec: StepSpec) -> None:
            known = spec.step_key in executor.specs
            await original(spec)
            if known:
                return
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            executor.exits[spec.step_key].add_done_callback(self._done)

        executor.start = start  # type: ignore[method-assign]

    def _done(self, _: object) -> None:
        self.active -= 1


def keyed_behaviour(outcomes: dict[str, Outcome]) -> Callable[[StepSpec], Outcome]:
    """A behaviour whose outcome is chosen by the first argument word (falls back to echo)."""

    def behave(spec: StepSpec) -> Outcome:
        words = [*spec.command, *spec.args]
        for word in words:
            if word in outcomes:
                return outcomes[word]
        return echo_behaviour(spec)

    return behave


def started_pods(executor: FakeExecutor) -> list[str]:
    """Pod names the executor was asked to start (step keys are ``<uid>/<pod>``)."""
    return [key.split("/", 1)[1] for key in executor.started]
