"""Exit handlers: the workflow's onExit / hooks.exit, workflow.status and workflow.failures, and
step/task-level onExit nodes."""

from __future__ import annotations

import json
import re

import pytest

from workflow_runtime.controller.controller import Controller
from workflow_runtime.controller.names import pod_name

from .helpers import nid, run

REPORT = """
- name: report
  inputs:
    parameters:
    - {name: status, value: "{{workflow.status}}"}
    - {name: failures, value: "{{workflow.failures}}"}
  container: {image: argosay, args: [echo, "{{inputs.parameters.status}}"]}
"""


def with_exit(entry: str, exit_template: str = "report", extra: str = "") -> str:
    return f"""
onExit: {exit_template}
templates:
- name: main
  steps:
  - - {{name: a, template: {entry}}}
{REPORT}{extra}"""


async def test_on_exit_after_success(controller: Controller) -> None:
    r = await run(controller, with_exit("echo"))
    assert r.phase == "Succeeded" and r.message == ""
    assert r.summary("wf.onExit") == ("Pod", "Succeeded", "")
    node = r.node("wf.onExit")
    assert node.id == "wf-403321795"
    assert node.node_flag == {"hooked": True}
    assert node.boundary_id in (None, "")
    # §2: the workflow-level exit node has no parent
    assert all(node.id not in n.children for n in r.run.tree)
    assert r.param("wf.onExit", "status", "inputs") == "Succeeded"
    assert r.param("wf.onExit", "failures", "inputs") == '"null"'
    entry_done = r.node("wf").finished_at
    assert entry_done is not None and node.started_at is not None and node.started_at >= entry_done


async def test_workflow_exit_node_display_name(controller: Controller) -> None:
    r = await run(controller, with_exit("echo"))
    # §1 displayName: no boundary node, so displayName = name (and IsExitNode needs '.onExit')
    assert r.node("wf.onExit").display_name == "wf.onExit"


async def test_on_exit_after_failure_sees_status_and_failures(controller: Controller) -> None:
    r = await run(controller, with_exit("fail"))
    failed = f"child '{nid('wf[0].a')}' failed"
    assert (r.phase, r.message) == ("Failed", failed)
    assert r.phase_of("wf.onExit") == "Succeeded"
    assert r.param("wf.onExit", "status", "inputs") == "Failed"
    raw = r.param("wf.onExit", "failures", "inputs")
    # §4: the stored value is Go-quoted JSON
    assert raw.startswith('"[{\\"displayName\\":')
    failures = json.loads(json.loads(raw))
    by_name = {f["displayName"]: f for f in failures}
    assert set(by_name) == {"wf", "[0]", "a"}
    pod = by_name["a"]
    assert {k: v for k, v in pod.items() if k != "finishedAt"} == {
        "displayName": "a",
        "message": "main: Error (exit code 1)",
        "templateName": "fail",
        "phase": "Failed",
        "podName": pod_name("wf", "wf[0].a", "fail"),
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", pod["finishedAt"])
    assert by_name["wf"]["podName"] == "wf"
    assert by_name["wf"]["templateName"] == "main"
    assert by_name["[0]"]["message"] == failed
    assert by_name["[0]"]["podName"] == pod_name("wf", "wf[0]", "")


async def test_failures_field_order(controller: Controller) -> None:
    r = await run(controller, with_exit("fail"))
    failures = json.loads(r.param("wf.onExit", "failures", "inputs"))
    # failedNodeStatus field order: displayName, message, templateName, phase, podName, finishedAt
    assert re.search(r'^\[\{"displayName":"[^"]*","message":"[^"]*","templateName":', failures)


@pytest.mark.parametrize(
    ("entry", "exit_template", "phase", "message"),
    [
        ("echo", "fail", "Failed", "main: Error (exit code 1)"),
        ("echo", "exit-steps", "Failed", "child '{exit_step}' failed"),
        ("echo", "broken", "Error", "{broken}"),
        ("fail", "fail", "Failed", "child '{entry_step}' failed"),
    ],
)
async def test_on_exit_outcome_and_workflow_phase(
    controller: Controller, entry: str, exit_template: str, phase: str, message: str
) -> None:
    extra = """
- name: exit-steps
  steps:
  - - {name: x, template: fail}
- name: broken
  outputs: {parameters: [{name: p, valueFrom: {path: /tmp/nothing}}]}
  container: {image: argosay, args: [echo, hi]}
"""
    r = await run(controller, with_exit(entry, exit_template, extra))
    expected = message.format(
        exit_step=nid("wf.onExit[0].x"),
        entry_step=nid("wf[0].a"),
        broken=r.node("wf.onExit").message,
    )
    assert (r.phase, r.message) == (phase, expected)
    if exit_template == "exit-steps":
        # nodes inside the workflow-level exit handler have it as boundary
        assert r.node("wf.onExit[0].x").boundary_id == nid("wf.onExit")
        assert r.node("wf.onExit[0]").display_name == "[0]"


async def test_hooks_exit_with_arguments(controller: Controller) -> None:
    r = await run(
        controller,
        """
arguments: {parameters: [{name: msg, value: from-spec}]}
hooks:
  exit:
    template: echo
    arguments: {parameters: [{name: msg, value: "from-hook {{workflow.status}}"}]}
templates:
- name: main
  steps:
  - - {name: a, template: echo}
""",
    )
    assert r.param("wf.onExit", "msg", "inputs") == "from-hook Succeeded"


async def test_on_exit_gets_workflow_arguments(controller: Controller) -> None:
    r = await run(
        controller,
        """
arguments: {parameters: [{name: msg, value: from-spec}]}
onExit: echo
templates:
- name: main
  inputs: {parameters: [{name: msg}]}
  steps:
  - - {name: a, template: echo, arguments: {parameters: [{name: msg, value: "{{inputs.parameters.msg}}"}]}}
""",
    )
    assert r.param("wf.onExit", "msg", "inputs") == "from-spec"
    assert r.param("wf[0].a", "msg", "inputs") == "from-spec"


@pytest.mark.parametrize("field", ["onExit: cleanup", "hooks: {exit: {template: cleanup}}"])
async def test_step_level_exit_hook(controller: Controller, field: str) -> None:
    r = await run(
        controller,
        f"""
templates:
- name: main
  steps:
  - - {{name: a, template: fail, continueOn: {{failed: true}}, {field}}}
    - {{name: s, template: echo, when: "false", {field}}}
  - - {{name: b, template: echo}}
- name: cleanup
  container: {{image: argosay, args: [sleep, "0.1"]}}
""",
    )
    hook = r.node("wf[0].a.onExit")
    assert r.summary("wf[0].a.onExit") == ("Pod", "Succeeded", "")
    assert hook.display_name == "a.onExit"
    assert hook.boundary_id == "wf"
    assert hook.node_flag == {"hooked": True}
    assert "wf[0].a.onExit" in r.children("wf[0].a")
    # a skipped step runs no exit hook
    assert "wf[0].s.onExit" not in r.names
    # the next group waits for the exit hook
    b_start, hook_done = r.node("wf[1].b").started_at, hook.finished_at
    assert b_start is not None and hook_done is not None and b_start >= hook_done
    assert r.phase == "Succeeded"


async def test_failed_step_exit_hook_does_not_change_phases(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  steps:
  - - {name: a, template: echo, onExit: fail}
""",
    )
    assert r.phase_of("wf[0].a.onExit") == "Failed"
    assert r.phase_of("wf[0]") == "Succeeded"
    assert r.phase == "Succeeded"


async def test_step_exit_hook_arguments_see_step_outputs(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  steps:
  - - name: a
      template: gen
      hooks:
        exit:
          template: echo
          arguments: {parameters: [{name: msg, value: "{{steps.a.outputs.parameters.p}}-{{steps.a.status}}"}]}
- name: gen
  outputs: {parameters: [{name: p, valueFrom: {path: /tmp/p}}]}
  container: {image: argosay, args: [echo, made, /tmp/p]}
""",
    )
    assert r.param("wf[0].a.onExit", "msg", "inputs") == "made-Succeeded"


async def test_dag_task_exit_hook_blocks_dependents(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  dag:
    tasks:
    - {name: A, template: echo, onExit: slow}
    - {name: B, template: echo, depends: A}
- name: slow
  container: {image: argosay, args: [sleep, "0.15"]}
""",
    )
    hook = r.node("wf.A.onExit")
    assert hook.display_name == "A.onExit" and hook.boundary_id == "wf"
    assert "wf.A.onExit" in r.children("wf.A")
    b_start = r.node("wf.B").started_at
    assert b_start is not None and hook.finished_at is not None and b_start >= hook.finished_at


async def test_lifecycle_hooks_run(controller: Controller) -> None:
    r = await run(
        controller,
        """
hooks:
  started: {expression: 'workflow.status == "Running"', template: echo}
templates:
- name: main
  steps:
  - - name: a
      template: sleep
      hooks:
        running: {expression: 'steps.a.status == "Running"', template: echo}
""",
    )
    # §9: wf.hooks.<name> hangs under the root; step hooks under the step node, hooked
    assert r.phase_of("wf.hooks.started") == "Succeeded"
    assert "wf.hooks.started" in r.children("wf")
    assert r.phase_of("wf[0].a.hooks.running") == "Succeeded"
    assert "wf[0].a.hooks.running" in r.children("wf[0].a")
    assert r.node("wf[0].a.hooks.running").node_flag == {"hooked": True}
