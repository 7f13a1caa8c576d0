"""Steps templates: groups in sequence, steps of a group in parallel, node structure, passing
outputs between steps, continueOn, failure propagation, template outputs and globalName."""

from __future__ import annotations

import pytest

from tests.support.fake_executor import FakeExecutor
from workflow_runtime.controller.controller import Controller

from .helpers import ConcurrencyProbe, nid, run


async def test_groups_run_in_sequence_and_build_argo_tree(controller: Controller) -> None:
    r = await run(
        controller,
        """
        templates:
        - name: main
          steps:
          - - {name: a, template: echo, arguments: {parameters: [{name: msg, value: one}]}}
          - - {name: b, template: echo}
            - {name: c, template: echo}
        """,
    )
    assert r.phase == "Succeeded" and r.message == ""
    assert r.names == {"wf", "wf[0]", "wf[0].a", "wf[1]", "wf[1].b", "wf[1].c"}
    assert [r.summary(n)[:2] for n in ("wf", "wf[0]", "wf[0].a", "wf[1]", "wf[1].b")] == [
        ("Steps", "Succeeded"),
        ("StepGroup", "Succeeded"),
        ("Pod", "Succeeded"),
        ("StepGroup", "Succeeded"),
        ("Pod", "Succeeded"),
    ]
    # §2 edges: group 0 under the Steps node, group i under the outbound nodes of group i-1.
    assert r.children("wf") == ["wf[0]"]
    assert r.children("wf[0]") == ["wf[0].a"]
    assert r.children("wf[0].a") == ["wf[1]"]
    assert r.children("wf[1]") == ["wf[1].b", "wf[1].c"]
    assert sorted(r.node("wf").outbound_nodes or []) == sorted([nid("wf[1].b"), nid("wf[1].c")])
    # §1 IDs, display names; §2 boundaries.
    assert r.node("wf").id == "wf"
    assert r.node("wf[0].a").id == "wf-3986212215"
    assert [r.node(n).display_name for n in ("wf", "wf[0]", "wf[0].a", "wf[1]")] == ["wf", "[0]", "a", "[1]"]
    assert r.node("wf").boundary_id in (None, "")
    assert {r.node(n).boundary_id for n in r.names - {"wf"}} == {"wf"}
    assert r.node("wf[0].a").template_name == "echo"
    assert r.node("wf[0].a").inputs == {"parameters": [{"name": "msg", "default": "hello", "value": "one"}]}
    # group 1 only starts once group 0 finished
    a_done = r.node("wf[0].a").finished_at
    assert a_done is not None
    assert all((r.node(n).started_at or a_done) >= a_done for n in ("wf[1]", "wf[1].b", "wf[1].c"))


async def test_steps_of_a_group_run_in_parallel(controller: Controller, fake_executor: FakeExecutor) -> None:
    probe = ConcurrencyProbe(fake_executor)
    r = await run(
        controller,
        """
        templates:
        - name: main
          steps:
          - - {name: a, template: sleep}
            - {name: b, template: sleep}
            - {name: c, template: sleep}
        """,
    )
    assert r.phase == "Succeeded"
    assert probe.max_active == 3


async def test_step_outputs_feed_later_steps(controller: Controller) -> None:
    r = await run(
        controller,
        """
        templates:
        - name: main
          steps:
          - - {name: gen, template: gen}
            - name: code
              template: exit
              arguments: {parameters: [{name: code, value: "3"}]}
              continueOn: {failed: true}
          - - name: use
              template: echo
              arguments:
                parameters:
                - name: msg
                  value: "{{steps.gen.outputs.result}}|{{steps.gen.outputs.parameters.p}}|\\
                    {{steps.gen.exitCode}}|{{steps.code.exitCode}}|{{steps.code.status}}|{{steps.gen.id}}"
        - name: gen
          outputs: {parameters: [{name: p, valueFrom: {path: /tmp/p}}]}
          script: {image: argosay, command: [echo], args: [from-file, /tmp/p], source: ""}
        """,
    )
    assert r.phase == "Succeeded", r.message
    assert r.param("wf[1].use", "msg", "inputs") == f"|from-file|0|3|Failed|{nid('wf[0].gen')}"


async def test_result_passes_stdout_without_trailing_newline(controller: Controller) -> None:
    r = await run(
        controller,
        """
        templates:
        - name: main
          steps:
          - - {name: a, template: echo, arguments: {parameters: [{name: msg, value: "x y"}]}}
          - - name: b
              template: echo
              arguments: {parameters: [{name: msg, value: "<{{steps.a.outputs.result}}>"}]}
        """,
    )
    assert r.result("wf[0].a") == "x y"
    assert r.printed("wf[1].b") == "<x y>"


async def test_failing_step_fails_group_steps_and_workflow(controller: Controller) -> None:
    r = await run(
        controller,
        """
        templates:
        - name: main
          steps:
          - - {name: a, template: fail}
            - {name: b, template: echo}
          - - {name: c, template: echo}
        """,
    )
    failed = f"child '{nid('wf[0].a')}' failed"
    assert r.summary("wf[0].a") == ("Pod", "Failed", "main: Error (exit code 1)")
    assert r.summary("wf[0].b") == ("Pod", "Succeeded", "")
    assert r.summary("wf[0]") == ("StepGroup", "Failed", failed)
    assert r.summary("wf") == ("Steps", "Failed", failed)
    assert (r.phase, r.message) == ("Failed", failed)
    # v3: the groups after a failed group are never created
    assert "wf[1]" not in r.names and "wf[1].c" not in r.names


@pytest.mark.parametrize(
    ("continue_on", "template", "phase", "group_phase", "wf_phase"),
    [
        ("{failed: true}", "fail", "Failed", "Succeeded", "Succeeded"),
        ("{error: true}", "fail", "Failed", "Failed", "Failed"),
        ("{error: true}", "missing-file", "Error", "Succeeded", "Succeeded"),
        ("{failed: true}", "missing-file", "Error", "Error", "Failed"),
        ("{failed: true, error: true}", "missing-file", "Error", "Succeeded", "Succeeded"),
    ],
)
async def test_continue_on(
    controller: Controller, continue_on: str, template: str, phase: str, group_phase: str, wf_phase: str
) -> None:
    r = await run(
        controller,
        f"""
        templates:
        - name: main
          steps:
          - - {{name: a, template: {template}, continueOn: {continue_on}}}
          - - {{name: b, template: echo}}
        - name: missing-file
          outputs: {{parameters: [{{name: p, valueFrom: {{path: /tmp/nothing}}}}]}}
          container: {{image: argosay, args: [echo, hi]}}
        """,
    )
    assert r.phase_of("wf[0].a") == phase
    assert r.phase_of("wf[0]") == group_phase
    assert r.phase == wf_phase
    assert ("wf[1].b" in r.names) == (group_phase == "Succeeded")
    if group_phase == "Error":
        # §3 v4: an Error child makes the group Error with this text; the Steps node is Failed
        message = r.node("wf[0]").message
        assert message.startswith("step group deemed errored due to child wf[0].a error: ")
        assert r.summary("wf") == ("Steps", "Failed", message)
        assert r.message == message


async def test_error_step_message_names_missing_output_file(controller: Controller) -> None:
    r = await run(
        controller,
        """
        templates:
        - name: main
          steps:
          - - {name: a, template: missing-file}
        - name: missing-file
          outputs: {parameters: [{name: p, valueFrom: {path: /tmp/nothing}}]}
          container: {image: argosay, args: [echo, hi]}
        """,
    )
    node_type, phase, message = r.summary("wf[0].a")
    assert (node_type, phase) == ("Pod", "Error")
    assert message.startswith("wait: Error (exit code 1)") and "/tmp/nothing" in message


async def test_template_outputs_from_parameter_and_expression_and_global_name(
    controller: Controller,
) -> None:
    r = await run(
        controller,
        """
        templates:
        - name: main
          steps:
          - - {name: inner, template: inner}
          - - name: read
              template: echo
              arguments: {parameters: [{name: msg, value: "{{workflow.outputs.parameters.g}}"}]}
          outputs:
            parameters:
            - {name: fwd, valueFrom: {parameter: "{{steps.inner.outputs.parameters.out}}"}}
        - name: inner
          steps:
          - - {name: a, template: echo, arguments: {parameters: [{name: msg, value: hi}]}}
            - {name: skipped, template: echo, when: "false"}
          outputs:
            parameters:
            - name: out
              globalName: g
              valueFrom: {parameter: "{{steps.a.outputs.result}}"}
            - name: ex
              valueFrom: {expression: "steps.a.outputs.result + '!'"}
            - name: missing
              valueFrom: {parameter: "{{steps.skipped.outputs.result}}", default: dflt}
        """,
    )
    assert r.phase == "Succeeded", r.message
    assert r.param("wf[0].inner", "out") == "hi"
    assert r.param("wf[0].inner", "ex") == "hi!"
    assert r.param("wf[0].inner", "missing") == "dflt"
    assert r.param("wf", "fwd") == "hi"
    assert r.run.outputs == {"parameters": [{"name": "g", "value": "hi"}]}
    assert r.param("wf[1].read", "msg", "inputs") == "hi"


async def test_pod_output_global_name_is_exported(controller: Controller) -> None:
    r = await run(
        controller,
        """
        templates:
        - name: main
          steps:
          - - {name: a, template: gen}
        - name: gen
          outputs: {parameters: [{name: p, globalName: exported, valueFrom: {path: /tmp/p}}]}
          container: {image: argosay, args: [echo, value-1, /tmp/p]}
        """,
    )
    assert r.run.outputs == {"parameters": [{"name": "exported", "value": "value-1"}]}
    stored = await controller.workflows.get_by_uid(r.record.uid)
    assert stored is not None and stored.status["outputs"] == r.run.outputs


UNRESOLVABLE_OUTPUT = """
templates:
- name: main
  steps:
  - - {name: a, template: echo, when: "false"}
  outputs:
    parameters:
    - {name: x, valueFrom: {parameter: "{{steps.a.outputs.result}}"}}
"""


async def test_unresolvable_template_output_errors_steps_node(controller: Controller) -> None:
    r = await run(controller, UNRESOLVABLE_OUTPUT)
    # §11: a miss without default is an error and the Steps node becomes Error
    assert r.phase_of("wf[0].a") == "Skipped"
    assert r.phase_of("wf") == "Error"
    assert r.phase == "Error"


async def test_unresolvable_template_output_message(controller: Controller) -> None:
    r = await run(controller, UNRESOLVABLE_OUTPUT)
    # v4 template.ResolveVar: errors.Errorf("Unable to resolve: %q", tag), tag without braces
    assert r.node("wf").message == 'Unable to resolve: "steps.a.outputs.result"'
    assert r.message == 'Unable to resolve: "steps.a.outputs.result"'


async def test_nested_steps_template_node_names(controller: Controller) -> None:
    r = await run(
        controller,
        """
        templates:
        - name: main
          steps:
          - - {name: outer, template: inner}
        - name: inner
          steps:
          - - {name: leaf, template: echo}
        """,
    )
    assert r.summary("wf[0].outer") == ("Steps", "Succeeded", "")
    assert r.node("wf[0].outer[0]").boundary_id == nid("wf[0].outer")
    assert r.node("wf[0].outer[0].leaf").boundary_id == nid("wf[0].outer")
    assert r.node("wf[0].outer[0].leaf").display_name == "leaf"
    assert r.node("wf[0].outer[0]").display_name == "[0]"
    assert r.node("wf").outbound_nodes == [nid("wf[0].outer[0].leaf")]


async def test_expression_tags_in_arguments(controller: Controller) -> None:
    r = await run(
        controller,
        """
        templates:
        - name: main
          steps:
          - - {name: a, template: echo, arguments: {parameters: [{name: msg, value: "21"}]}}
          - - name: b
              template: echo
              arguments:
                parameters:
                - {name: msg, value: "{{=asInt(steps.a.outputs.result) * 2}}|{{=steps['a'].outputs.result}}"}
        """,
    )
    assert r.param("wf[1].b", "msg", "inputs") == "42|21"


async def test_result_captured_only_when_referenced(controller: Controller) -> None:
    r = await run(
        controller,
        """
        templates:
        - name: main
          steps:
          - - {name: a, template: echo}
            - {name: b, template: echo}
          - - name: c
              template: echo
              arguments: {parameters: [{name: msg, value: "{{steps.a.outputs.result}}"}]}
        """,
    )
    # §11 includeScriptOutput: only steps whose result the parent template references keep it
    assert r.result("wf[0].a") == "hello"
    assert r.result("wf[0].b") is None
    assert r.result("wf[1].c") is None
