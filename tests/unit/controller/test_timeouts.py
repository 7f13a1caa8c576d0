"""Deadlines: the workflow's activeDeadlineSeconds and a template's activeDeadlineSeconds/timeout."""

from __future__ import annotations

from tests.support.fake_executor import FakeExecutor
from workflow_runtime.controller.controller import Controller

from .helpers import nid, run


async def test_workflow_deadline_fails_running_steps_and_runs_on_exit(
    controller: Controller, fake_executor: FakeExecutor
) -> None:
    r = await run(
        controller,
        """
activeDeadlineSeconds: 1
onExit: report
templates:
- name: main
  steps:
  - - {name: A, template: sleep, arguments: {parameters: [{name: s, value: "30"}]}}
    - {name: S, template: wait}
  - - {name: B, template: echo}
- name: wait
  suspend: {}
- name: report
  container: {image: argosay, args: [echo, "{{workflow.status}}"]}
""",
    )
    assert r.summary("wf[0].A") == ("Pod", "Failed", "Step exceeded its deadline")
    # §8/§10: an active suspend node not in an exit handler fails at the deadline too
    assert r.summary("wf[0].S") == ("Suspend", "Failed", "Step exceeded its deadline")
    assert len(fake_executor.killed) == 1
    failed = f"child '{nid('wf[0].A')}' failed"
    assert r.summary("wf[0]") == ("StepGroup", "Failed", failed)
    assert "wf[1]" not in r.names
    # the workflow message is the entry's; the exit handler still runs after the deadline
    assert (r.phase, r.message) == ("Failed", failed)
    assert r.summary("wf.onExit") == ("Pod", "Succeeded", "")
    assert r.printed("wf.onExit") == "Failed"


async def test_template_deadline_and_timeout_kill_the_pod(
    controller: Controller, fake_executor: FakeExecutor
) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  steps:
  - - {name: ads, template: ads}
    - {name: timeout, template: timeout}
    - {name: quick, template: quick}
- name: ads
  activeDeadlineSeconds: 1
  container: {image: argosay, args: [sleep, "30"]}
- name: timeout
  timeout: 1s
  container: {image: argosay, args: [sleep, "30"]}
- name: quick
  activeDeadlineSeconds: 1
  container: {image: argosay, args: [sleep, "0.1"]}
""",
    )
    message = "Pod was active on the node longer than the specified deadline"
    assert r.summary("wf[0].ads") == ("Pod", "Failed", message)
    assert r.summary("wf[0].timeout") == ("Pod", "Failed", message)
    assert r.summary("wf[0].quick") == ("Pod", "Succeeded", "")
    assert sorted(fake_executor.killed) == sorted(
        k for k in fake_executor.started if not k.endswith(r.node("wf[0].quick").id.split("-", 1)[1])
    )
    assert r.phase == "Failed"
    assert r.message == f"child '{nid('wf[0].ads')}' failed"
