"""Retry, resubmit (plain and memoized), node set and node field selectors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fake_executor import FakeExecutor, Outcome, echo_behaviour
from workflow_runtime.controller.controller import Controller, InvalidOperation
from workflow_runtime.controller.selectors import SelectorError, parse_node_selector
from workflow_runtime.executors.base import StepSpec
from workflow_runtime.state import Node, NodePhase, NodeType

from .helpers import finish, node_in_phase, run, start, until

FLAKY = """
templates:
- name: main
  dag:
    tasks:
    - {name: a, template: echo, arguments: {parameters: [{name: msg, value: A}]}}
    - {name: b, template: flaky, depends: a}
    - {name: c, template: echo, depends: b, arguments: {parameters: [{name: msg, value: C}]}}
- name: flaky
  container: {image: argosay, args: [flaky]}
"""


class Switch:
    """A behaviour where the ``flaky`` step fails until ``healed``; counts every start by argv."""

    def __init__(self) -> None:
        self.healed = False
        self.starts: list[str] = []

    def __call__(self, spec: StepSpec) -> Outcome:
        words = [*spec.command, *spec.args]
        self.starts.append(" ".join(words))
        if words == ["flaky"]:
            return Outcome(exit_code=0 if self.healed else 1)
        return echo_behaviour(spec)


@pytest.fixture
def switch(fake_executor: FakeExecutor) -> Switch:
    behaviour = Switch()
    fake_executor.behaviour = behaviour
    return behaviour


async def test_retry_reruns_the_failed_step_and_what_it_left_undone(
    controller: Controller, switch: Switch
) -> None:
    first = await run(controller, FLAKY)
    assert first.phase == "Failed"
    assert first.phase_of("wf.c") == "Omitted"
    switch.healed = True
    await controller.retry(first.record.uid)
    again = await finish(controller, first.record)
    assert again.phase == "Succeeded" and again.message == ""
    assert [again.phase_of(n) for n in ("wf.a", "wf.b", "wf.c")] == ["Succeeded"] * 3
    assert switch.starts.count("echo A") == 1  # the successful step is not run again
    assert switch.starts.count("flaky") == 2 and switch.starts.count("echo C") == 1


async def test_retry_of_a_running_or_successful_workflow_is_refused(
    controller: Controller, switch: Switch
) -> None:
    switch.healed = True
    done = await run(controller, FLAKY)
    with pytest.raises(InvalidOperation, match="must be Failed/Error to retry"):
        await controller.retry(done.record.uid)


async def test_retry_restart_successful_reruns_selected_steps_and_later_ones(
    controller: Controller, switch: Switch
) -> None:
    first = await run(controller, FLAKY)
    switch.healed = True
    await controller.retry(first.record.uid, restart_successful=True, node_field_selector="displayName=a")
    again = await finish(controller, first.record)
    assert again.phase == "Succeeded"
    assert switch.starts.count("echo A") == 2  # restarted on purpose


async def test_retry_with_parameters_changes_workflow_parameters(
    controller: Controller, switch: Switch
) -> None:
    text = """
arguments: {parameters: [{name: who, value: first}]}
templates:
- name: main
  steps:
  - - {name: a, template: echo, arguments: {parameters: [{name: msg, value: "{{workflow.parameters.who}}"}]}}
  - - {name: b, template: flaky}
- name: flaky
  container: {image: argosay, args: [flaky]}
"""
    first = await run(controller, text)
    switch.healed = True
    await controller.retry(first.record.uid, parameters={"who": "second"})
    again = await finish(controller, first.record)
    assert again.phase == "Succeeded"
    assert again.run.globals["workflow.parameters.who"] == "second"


async def test_resubmit_creates_a_new_workflow(controller: Controller, switch: Switch) -> None:
    first = await run(controller, FLAKY)
    switch.healed = True
    record = await controller.resubmit(first.record.uid)
    assert record.name != first.record.name and record.name.startswith("wf-")
    assert record.labels["workflows.argoproj.io/resubmitted-from-workflow"] == "wf"
    again = await finish(controller, record)
    assert again.phase == "Succeeded"
    assert switch.starts.count("echo A") == 2  # not memoized: everything runs again


async def test_memoized_resubmit_reuses_successful_nodes(controller: Controller, switch: Switch) -> None:
    first = await run(controller, FLAKY)
    switch.healed = True
    record = await controller.resubmit(first.record.uid, memoized=True)
    again = await finish(controller, record)
    assert again.phase == "Succeeded"
    assert switch.starts.count("echo A") == 1  # reused, not run again
    reused = again.node(f"{record.name}.a")
    assert reused.phase == NodePhase.SUCCEEDED and reused.boundary_id == record.name
    assert again.node(record.name).phase == NodePhase.SUCCEEDED


async def test_memoized_resubmit_needs_a_failed_workflow(controller: Controller, switch: Switch) -> None:
    switch.healed = True
    done = await run(controller, FLAKY)
    with pytest.raises(InvalidOperation, match="memoized"):
        await controller.resubmit(done.record.uid, memoized=True)


APPROVAL = """
templates:
- name: main
  steps:
  - - {name: approve, template: approve}
  - - name: use
      template: echo
      arguments: {parameters: [{name: msg, value: "{{steps.approve.outputs.parameters.answer}}"}]}
- name: approve
  suspend: {}
  outputs:
    parameters:
    - name: answer
      valueFrom: {supplied: {}}
"""


async def test_node_set_supplies_outputs_and_ends_the_suspend_node(controller: Controller) -> None:
    record, wf_run = await start(controller, APPROVAL)
    await until(node_in_phase(wf_run, "wf[0].approve", "Running"))
    with pytest.raises(InvalidOperation, match="not expecting output parameter 'nope'"):
        controller.set_nodes(
            record.uid, node_field_selector="displayName=approve", output_parameters={"nope": "x"}
        )
    count = controller.set_nodes(
        record.uid,
        node_field_selector="displayName=approve",
        phase="Succeeded",
        message="approved by tests",
        output_parameters={"answer": "yes"},
    )
    assert count == 1
    done = await finish(controller, record)
    assert done.phase == "Succeeded"
    assert done.summary("wf[0].approve") == ("Suspend", "Succeeded", "approved by tests")
    assert _inputs(done.node("wf[1].use")) == {"msg": "yes"}


async def test_resume_and_stop_with_node_field_selectors(controller: Controller) -> None:
    text = """
templates:
- name: main
  steps:
  - - {name: one, template: wait}
    - {name: two, template: wait}
- name: wait
  suspend: {}
"""
    record, wf_run = await start(controller, text)
    await until(lambda: len(wf_run.active_suspend_nodes()) == 2)
    with pytest.raises(InvalidOperation, match="no suspend nodes matching nodeFieldSelector"):
        controller.resume(record.uid, node_field_selector="displayName=three")
    assert controller.resume(record.uid, node_field_selector="displayName=one") == 1
    assert controller.stop_nodes(record.uid, "displayName=two", message="rejected") == 1
    done = await finish(controller, record)
    assert done.summary("wf[0].one")[1] == "Succeeded"
    assert done.summary("wf[0].two") == ("Suspend", "Failed", "rejected")
    assert done.phase == "Failed"


def _inputs(node: Node) -> dict[str, Any]:
    return {p["name"]: p.get("value") for p in (node.inputs or {}).get("parameters") or []}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("displayName=approve", True),
        ("displayName!=approve", False),
        ("templateName=approve,phase=Running", True),
        ("inputs.parameters.who.value=me", True),
        ("inputs.parameters.who.value=you", False),
        ("templateRef.name=lib", False),
    ],
)
def test_node_field_selectors(selector: str, matches: bool) -> None:
    node = Node(
        id="wf-1",
        name="wf[0].approve",
        display_name="approve",
        type=NodeType.SUSPEND,
        phase=NodePhase.RUNNING,
        template_name="approve",
        inputs={"parameters": [{"name": "who", "value": "me"}]},
    )
    assert parse_node_selector(selector)(node) is matches


@pytest.mark.parametrize("selector", ["", "displayName", "colour=red"])
def test_bad_node_field_selectors_are_reported(selector: str) -> None:
    with pytest.raises(SelectorError):
        parse_node_selector(selector)
