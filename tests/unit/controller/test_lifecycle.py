"""Stop, terminate, suspend templates, resume, supplied outputs, and workflow-level suspend."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.fake_executor import FakeExecutor
from workflow_runtime.controller.controller import Controller, InvalidOperation

from .helpers import finish, node_in_phase, run, start, started_pods, until

LONG = """
onExit: echo
templates:
- name: main
  steps:
  - - {name: A, template: sleep, arguments: {parameters: [{name: s, value: "30"}]}, onExit: echo}
  - - {name: B, template: echo}
"""


@pytest.mark.parametrize("strategy", ["Stop", "Terminate"])
async def test_stop_and_terminate_kill_running_steps(
    controller: Controller, fake_executor: FakeExecutor, strategy: str
) -> None:
    record, wf_run = await start(controller, LONG)
    await until(node_in_phase(wf_run, "wf[0].A", "Running"))
    controller.stop(record.uid, strategy)
    r = await finish(controller, record)
    # exec_control.go: two spaces after the colon
    assert r.summary("wf[0].A") == ("Pod", "Failed", f"workflow shutdown with strategy:  {strategy}")
    assert len(fake_executor.killed) == 1
    assert "wf[1]" not in r.names and "wf[1].B" not in r.names
    assert r.phase_of("wf[0]") == "Failed"
    assert (r.phase, r.message) == ("Failed", f"Stopped with strategy '{strategy}'")
    if strategy == "Stop":
        # Stop still runs the step's and the workflow's exit handlers
        assert r.phase_of("wf[0].A.onExit") == "Succeeded"
        assert r.phase_of("wf.onExit") == "Succeeded"
    else:
        assert "wf[0].A.onExit" not in r.names and "wf.onExit" not in r.names
    stored = await controller.workflows.get_by_uid(record.uid)
    assert stored is not None and stored.phase == "Failed"
    assert stored.status.get("shutdown") == strategy


async def test_stop_dag_branches(controller: Controller) -> None:
    record, wf_run = await start(
        controller,
        """
templates:
- name: main
  dag:
    tasks:
    - {name: A, template: sleep, arguments: {parameters: [{name: s, value: "30"}]}}
    - {name: B, template: echo, depends: A}
    - {name: C, template: echo}
""",
    )
    await until(node_in_phase(wf_run, "wf.A", "Running"))
    await until(node_in_phase(wf_run, "wf.C", "Succeeded"))
    controller.stop(record.uid)
    r = await finish(controller, record)
    assert r.phase_of("wf.A") == "Failed"
    assert r.summary("wf.B") == ("Skipped", "Omitted", "omitted: depends condition not met")
    assert r.phase_of("wf") == "Failed"
    assert (r.phase, r.message) == ("Failed", "Stopped with strategy 'Stop'")


async def test_stopping_a_finished_workflow_is_refused(controller: Controller) -> None:
    r = await run(controller, "templates: [{name: main, container: {image: argosay, args: [echo, hi]}}]")
    with pytest.raises(InvalidOperation):
        controller.stop(r.record.uid)


SUSPEND = """
templates:
- name: main
  steps:
  - - {name: approve, template: approve}
  - - name: use
      template: echo
      arguments: {parameters: [{name: msg, value: "{{steps.approve.outputs.parameters.answer}}"}]}
- name: approve
  suspend: {DURATION}
  outputs:
    parameters:
    - name: answer
      valueFrom: {supplied: {}DEFAULT}
"""


def suspend_spec(duration: str = "", default: str | None = "approved") -> str:
    return SUSPEND.replace("{DURATION}", f"{{duration: {duration!r}}}" if duration else "{}").replace(
        "DEFAULT", f", default: {default}" if default is not None else ""
    )


async def test_suspend_with_duration_resumes_by_itself(controller: Controller) -> None:
    r = await run(controller, suspend_spec("200ms"))
    node = r.node("wf[0].approve")
    assert (node.type.value, node.phase.value) == ("Suspend", "Succeeded")
    assert node.started_at is not None and node.finished_at is not None
    assert (node.finished_at - node.started_at).total_seconds() >= 0.19
    # supplied outputs take their default when the suspend ends
    assert r.param("wf[0].approve", "answer") == "approved"
    assert r.param("wf[1].use", "msg", "inputs") == "approved"
    assert r.phase == "Succeeded"


async def test_manual_suspend_waits_for_resume(controller: Controller, fake_executor: FakeExecutor) -> None:
    record, wf_run = await start(controller, suspend_spec())
    await until(node_in_phase(wf_run, "wf[0].approve", "Running"))
    await asyncio.sleep(0.1)
    assert wf_run.tree.by_name("wf[1]") is None
    assert wf_run.phase == "Running"
    assert controller.resume(record.uid) == 1
    r = await finish(controller, record)
    assert r.summary("wf[0].approve")[:2] == ("Suspend", "Succeeded")
    assert r.param("wf[1].use", "msg", "inputs") == "approved"
    assert r.phase == "Succeeded"


async def test_resume_message_is_recorded(controller: Controller) -> None:
    record, wf_run = await start(controller, suspend_spec())
    await until(node_in_phase(wf_run, "wf[0].approve", "Running"))
    controller.resume(record.uid, message="Resumed by: admin")
    r = await finish(controller, record)
    assert r.node("wf[0].approve").message == "Resumed by: admin"


async def test_supplied_output_set_before_resume(controller: Controller) -> None:
    record, wf_run = await start(controller, suspend_spec(default=None))
    await until(node_in_phase(wf_run, "wf[0].approve", "Running"))
    node = wf_run.tree.by_name("wf[0].approve")
    assert node is not None
    wf_run.supply_outputs(node.id, {"answer": "no"})
    controller.resume(record.uid)
    r = await finish(controller, record)
    assert r.param("wf[1].use", "msg", "inputs") == "no"


async def test_supplied_output_without_default_errors_on_resume(controller: Controller) -> None:
    record, wf_run = await start(controller, suspend_spec(default=None))
    await until(node_in_phase(wf_run, "wf[0].approve", "Running"))
    controller.resume(record.uid)
    r = await finish(controller, record)
    assert r.summary("wf[0].approve") == (
        "Suspend",
        "Error",
        "raw output parameter 'answer' has not been set and does not have a default value",
    )
    assert r.phase == "Failed"


async def test_stop_fails_active_suspend_node(controller: Controller) -> None:
    record, wf_run = await start(controller, suspend_spec())
    await until(node_in_phase(wf_run, "wf[0].approve", "Running"))
    controller.stop(record.uid)
    r = await finish(controller, record)
    assert r.summary("wf[0].approve") == ("Suspend", "Failed", "Stopped with strategy 'Stop'")
    assert (r.phase, r.message) == ("Failed", "Stopped with strategy 'Stop'")


async def test_workflow_suspend_holds_back_new_steps(
    controller: Controller, fake_executor: FakeExecutor
) -> None:
    record, wf_run = await start(
        controller,
        """
templates:
- name: main
  steps:
  - - {name: A, template: sleep, arguments: {parameters: [{name: s, value: "0.1"}]}}
  - - {name: B, template: echo}
""",
    )
    await until(node_in_phase(wf_run, "wf[0].A", "Running"))
    controller.suspend(record.uid)
    # the running step continues, but nothing new starts
    await until(node_in_phase(wf_run, "wf[0].A", "Succeeded"))
    await asyncio.sleep(0.15)
    assert len(fake_executor.started) == 1
    assert wf_run.phase == "Running"
    stored = await controller.workflows.get_by_uid(record.uid)
    assert stored is not None and stored.status.get("suspended") is True
    controller.resume(record.uid)
    r = await finish(controller, record)
    assert r.phase == "Succeeded"
    assert r.phase_of("wf[1].B") == "Succeeded"


async def test_submitted_suspended_starts_nothing_until_resumed(
    controller: Controller, fake_executor: FakeExecutor
) -> None:
    record, _ = await start(
        controller,
        """
suspend: true
templates:
- name: main
  steps:
  - - {name: A, template: echo}
""",
    )
    await asyncio.sleep(0.1)
    assert fake_executor.started == []
    controller.resume(record.uid)
    r = await finish(controller, record)
    assert r.phase == "Succeeded"
    assert started_pods(fake_executor) == [r.node("wf[0].A").id.replace("wf-", "wf-echo-", 1)]
