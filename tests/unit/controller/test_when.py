"""``when`` conditions: govaluate semantics after substitution, expression tags, skipped and
errored nodes."""

from __future__ import annotations

import pytest

from workflow_runtime.controller.controller import Controller

from .helpers import run


def flip(when: str, result: str = "heads") -> str:
    return f"""
templates:
- name: main
  steps:
  - - {{name: flip, template: echo, arguments: {{parameters: [{{name: msg, value: "{result}"}}]}}}}
  - - {{name: guarded, template: echo, when: {when!r}}}
    - {{name: other, template: echo}}
"""


@pytest.mark.parametrize(
    ("when", "runs"),
    [
        ("{{steps.flip.outputs.result}} == heads", True),
        ("{{steps.flip.outputs.result}} == tails", False),
        ("'{{steps.flip.outputs.result}}' == 'heads'", True),
        ("{{steps.flip.outputs.result}} != heads", False),
        ("foo == foo", True),
        ("{{steps.flip.outputs.result}} =~ '^he'", True),
        ("{{steps.flip.outputs.result}} =~ 'ta.*'", False),
        ("5 > 3 && {{steps.flip.exitCode}} == 0", True),
        ("{{steps.flip.exitCode}} > 0 || false", False),
        ("'{{steps.flip.outputs.result}}' in ('tails', 'heads')", True),
        ("{{=steps.flip.outputs.result == 'heads'}}", True),
        ("{{=steps.flip.outputs.result == 'tails'}}", False),
        ("{{=len(steps.flip.outputs.result) > 3}}", True),
        ("{{steps.flip.status}} == Succeeded", True),
    ],
)
async def test_when(controller: Controller, when: str, runs: bool) -> None:
    r = await run(controller, flip(when))
    assert r.phase == "Succeeded", r.message
    node = r.node("wf[1].guarded")
    if runs:
        assert (node.type.value, node.phase.value) == ("Pod", "Succeeded")
    else:
        assert (node.type.value, node.phase.value) == ("Skipped", "Skipped")
    assert r.phase_of("wf[1].other") == "Succeeded"


async def test_skipped_message_shows_resolved_when(controller: Controller) -> None:
    r = await run(controller, flip("{{steps.flip.outputs.result}} == tails"))
    assert r.summary("wf[1].guarded") == ("Skipped", "Skipped", "when 'heads == tails' evaluated false")
    assert r.summary("wf[1]") == ("StepGroup", "Succeeded", "")
    assert r.node("wf[1].guarded").template_name == "echo"


async def test_expression_when_message_shows_expression_result(controller: Controller) -> None:
    r = await run(controller, flip("{{=steps.flip.outputs.result == 'tails'}}"))
    assert r.summary("wf[1].guarded") == ("Skipped", "Skipped", "when 'false' evaluated false")


# The invalid condition only appears after substitution (lint would reject a literal one).
INVALID = flip("{{steps.flip.outputs.result}} == heads", result="(heads")
INVALID_MESSAGE = "Invalid 'when' expression '(heads == heads': Unbalanced parenthesis"


async def test_invalid_when_errors_the_step_only(controller: Controller) -> None:
    r = await run(controller, INVALID)
    node_type, phase, message = r.summary("wf[1].guarded")
    assert (node_type, phase) == ("Skipped", "Error")
    assert "Unbalanced parenthesis" in message
    # §v4: a step that fails before it runs fails only itself; the rest of the group runs
    assert r.phase_of("wf[1].other") == "Succeeded"
    group_message = f"step group deemed errored due to child wf[1].guarded error: {message}"
    assert r.summary("wf[1]") == ("StepGroup", "Error", group_message)
    assert r.summary("wf") == ("Steps", "Failed", group_message)
    assert (r.phase, r.message) == ("Failed", group_message)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (INVALID, INVALID_MESSAGE),
        (flip("{{steps.flip.exitCode}} + 1"), "Expected boolean evaluation for '0 + 1'. Got 1"),
    ],
)
async def test_when_error_messages_are_argos(controller: Controller, text: str, message: str) -> None:
    r = await run(controller, text)
    assert r.summary("wf[1].guarded") == ("Skipped", "Error", message)


async def test_non_boolean_when_errors(controller: Controller) -> None:
    r = await run(controller, flip("{{steps.flip.exitCode}} + 1"))
    assert r.summary("wf[1].guarded")[:2] == ("Skipped", "Error")
    assert "Expected boolean evaluation for '0 + 1'. Got 1" in r.node("wf[1].guarded").message


async def test_dag_when_and_dependents_of_skipped_task(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  dag:
    tasks:
    - {name: A, template: echo, arguments: {parameters: [{name: msg, value: tails}]}}
    - {name: B, template: echo, depends: A, when: "{{tasks.A.outputs.result}} == heads"}
    - {name: C, template: echo, depends: B}
    - {name: D, template: echo, depends: B.Succeeded}
""",
    )
    assert r.summary("wf.B") == ("Skipped", "Skipped", "when 'tails == heads' evaluated false")
    assert r.phase_of("wf.C") == "Succeeded"
    assert r.summary("wf.D") == ("Skipped", "Omitted", "omitted: depends condition not met")
    assert r.phase == "Succeeded"


async def test_dag_invalid_when_makes_dag_error(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  dag:
    tasks:
    - {name: A, template: echo, arguments: {parameters: [{name: msg, value: "a =="}]}}
    - {name: B, template: echo, depends: A, when: "{{tasks.A.outputs.result}}"}
""",
    )
    assert r.summary("wf.B")[:2] == ("Skipped", "Error")
    assert "Unexpected end of expression" in r.node("wf.B").message
    assert r.phase_of("wf") == "Error"
    assert r.phase == "Error"


async def test_when_per_loop_item(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  steps:
  - - name: x
      template: echo
      arguments: {parameters: [{name: msg, value: "{{item.name}}"}]}
      withItems: [{name: first, type: ""}, {name: second, type: always}, {name: third, type: skip}]
      when: "'{{item.type}}' != 'skip'"
""",
    )
    assert r.phase_of("wf[0].x(0:name:first,type:)") == "Succeeded"
    assert r.phase_of("wf[0].x(1:name:second,type:always)") == "Succeeded"
    assert r.summary("wf[0].x(2:name:third,type:skip)") == (
        "Skipped",
        "Skipped",
        "when ''skip' != 'skip'' evaluated false",
    )
    assert r.summary("wf[0].x") == ("TaskGroup", "Succeeded", "")
