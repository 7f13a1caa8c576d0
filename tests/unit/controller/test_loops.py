"""Loops: withItems / withParam / withSequence expansion, node names, TaskGroups, empty loops,
aggregated outputs and parallelism."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.fake_executor import FakeExecutor
from workflow_runtime.controller.controller import Controller

from .helpers import ConcurrencyProbe, nid, run

SAY = """
- name: say
  inputs: {parameters: [{name: msg}, {name: s, default: "0"}]}
  outputs: {parameters: [{name: p, valueFrom: {path: /tmp/p}}]}
  container: {image: argosay, args: [say, "{{inputs.parameters.msg}}", "{{inputs.parameters.s}}", /tmp/p]}
- name: print
  inputs: {parameters: [{name: msg}, {name: s, default: "0"}]}
  container: {image: argosay, args: [say, "{{inputs.parameters.msg}}", "{{inputs.parameters.s}}"]}
"""


def steps_loop(loop: str, msg: str = "{{item}}") -> str:
    return f"""
templates:
- name: main
  steps:
  - - name: x
      template: echo
      arguments: {{parameters: [{{name: msg, value: "{msg}"}}]}}
      {loop}
"""


def dag_loop(loop: str, msg: str = "{{item}}") -> str:
    return f"""
templates:
- name: main
  dag:
    tasks:
    - name: x
      template: echo
      arguments: {{parameters: [{{name: msg, value: '{msg}'}}]}}
      {loop}
"""


@pytest.mark.parametrize(
    ("items", "names", "values"),
    [
        (["a", "b"], ["x(0:a)", "x(1:b)"], ["a", "b"]),
        ([1, 2.5], ["x(0:1)", "x(1:2.5)"], ["1", "2.5"]),
        ([True], ["x(0:true)"], ["true"]),
        (["f(x)"], ["x(0:fx)"], ["f(x)"]),
        ([{"l": "w", "k": "v"}], ["x(0:k:v,l:w)"], ['{"k":"v","l":"w"}']),
        ([{"name": "first", "type": ""}], ["x(0:name:first,type:)"], ['{"name":"first","type":""}']),
        ([{"a": {"b": 1}}], ['x(0:a:{"b":1})'], ['{"a":{"b":1}}']),
        ([[1, 2]], ["x(0:[1 2])"], ["[1,2]"]),
        ([["a", "b"]], ["x(0:[a b])"], ['["a","b"]']),
    ],
)
async def test_with_items_node_names_and_item_values(
    controller: Controller, items: list[Any], names: list[str], values: list[str]
) -> None:
    r = await run(controller, dag_loop(f"withItems: {json.dumps(items)}"))
    assert r.phase == "Succeeded", r.message
    assert r.summary("wf.x") == ("TaskGroup", "Succeeded", "")
    assert r.children("wf.x") == [f"wf.{n}" for n in names]
    assert [r.node(f"wf.{n}").display_name for n in names] == names
    assert [r.param(f"wf.{n}", "msg", "inputs") for n in names] == values
    assert {r.node(f"wf.{n}").boundary_id for n in names} == {"wf"}


async def test_map_item_fields(controller: Controller) -> None:
    r = await run(
        controller,
        steps_loop('withItems: [{os: debian, v: 9}, {os: ubuntu, v: "20.04"}]', "{{item.os}}-{{item.v}}"),
    )
    assert r.param("wf[0].x(0:os:debian,v:9)", "msg", "inputs") == "debian-9"
    assert r.param("wf[0].x(1:os:ubuntu,v:20.04)", "msg", "inputs") == "ubuntu-20.04"


async def test_steps_loop_gets_task_group(controller: Controller) -> None:
    r = await run(controller, steps_loop("withItems: [a, b]"))
    # §1 [v4.2]: an expanded step gets a TaskGroup S[i].<step> with the items under it
    assert r.children("wf[0]") == ["wf[0].x"]
    assert r.summary("wf[0].x") == ("TaskGroup", "Succeeded", "")
    assert r.children("wf[0].x") == ["wf[0].x(0:a)", "wf[0].x(1:b)"]
    assert r.node("wf[0].x(0:a)").display_name == "x(0:a)"
    assert r.node("wf").outbound_nodes == [nid("wf[0].x(0:a)"), nid("wf[0].x(1:b)")]


async def test_empty_with_items_runs_step_once(controller: Controller) -> None:
    r = await run(controller, steps_loop("withItems: []", "once"))
    # §6: withItems: [] counts as no loop
    assert r.summary("wf[0].x") == ("Pod", "Succeeded", "")
    assert r.param("wf[0].x", "msg", "inputs") == "once"


@pytest.mark.parametrize(
    ("sequence", "values"),
    [
        ({"count": "3"}, ["0", "1", "2"]),
        ({"count": 2, "start": "5"}, ["5", "6"]),
        ({"start": "1", "end": "3"}, ["1", "2", "3"]),
        ({"start": "5", "end": "3"}, ["5", "4", "3"]),
        ({"start": "8", "end": "10", "format": "%02d"}, ["08", "09", "10"]),
        ({"count": "2", "format": "id-%d"}, ["id-0", "id-1"]),
    ],
)
async def test_with_sequence(controller: Controller, sequence: dict[str, Any], values: list[str]) -> None:
    r = await run(controller, dag_loop(f"withSequence: {json.dumps(sequence)}"))
    names = [f"wf.x({i}:{v})" for i, v in enumerate(values)]
    assert r.children("wf.x") == names
    assert [r.param(n, "msg", "inputs") for n in names] == values


@pytest.mark.parametrize(
    ("kind", "loop"),
    [
        ("steps", "withParam: '{{steps.gen.outputs.result}}'"),
        ("steps", "withSequence: {count: '0'}"),
        ("dag", "withParam: '{{tasks.gen.outputs.result}}'"),
        ("dag", "withSequence: {count: '0'}"),
    ],
)
async def test_empty_loop_is_skipped(controller: Controller, kind: str, loop: str) -> None:
    if kind == "steps":
        text = f"""
templates:
- name: main
  steps:
  - - {{name: gen, template: echo, arguments: {{parameters: [{{name: msg, value: "[]"}}]}}}}
  - - {{name: sleep, template: echo, {loop}}}
"""
        node, count = "wf[1].sleep", 5
    else:
        text = f"""
templates:
- name: main
  dag:
    tasks:
    - {{name: gen, template: echo, arguments: {{parameters: [{{name: msg, value: "[]"}}]}}}}
    - {{name: sleep, template: echo, depends: gen, {loop}}}
"""
        node, count = "wf.sleep", 3
    r = await run(controller, text)
    # conformance loops-empty-param / dag-empty-param
    assert r.summary(node) == ("Skipped", "Skipped", "Skipped, empty params")
    assert len(r.names) == count
    assert r.phase == "Succeeded"


async def test_with_param_from_previous_output(controller: Controller) -> None:
    items = json.dumps(["a", {"k": "v"}, 3, [1, 2]])
    r = await run(
        controller,
        f"""
templates:
- name: main
  steps:
  - - {{name: gen, template: echo, arguments: {{parameters: [{{name: msg, value: '{items}'}}]}}}}
  - - name: x
      template: echo
      arguments: {{parameters: [{{name: msg, value: "{{{{item}}}}"}}]}}
      withParam: "{{{{steps.gen.outputs.result}}}}"
""",
    )
    names = ["wf[1].x(0:a)", "wf[1].x(1:k:v)", "wf[1].x(2:3)", "wf[1].x(3:[1 2])"]
    assert r.children("wf[1].x") == names
    assert [r.param(n, "msg", "inputs") for n in names] == ["a", '{"k":"v"}', "3", "[1,2]"]


async def test_with_param_not_a_list_errors(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  steps:
  - - {name: gen, template: echo, arguments: {parameters: [{name: msg, value: not-json}]}}
  - - {name: x, template: echo, withParam: "{{steps.gen.outputs.result}}"}
""",
    )
    node_type, phase, message = r.summary("wf[1].x")
    assert (node_type, phase) == ("Skipped", "Error")
    assert message.startswith("withParam value could not be parsed as a JSON list: not-json: ")
    assert r.summary("wf[1]")[:2] == ("StepGroup", "Error")
    assert r.node("wf[1]").message == f"step group deemed errored due to child wf[1].x error: {message}"
    assert r.phase == "Failed"


AGGREGATE = (
    """
templates:
- name: main
  steps:
  - - name: x
      template: say
      arguments: {parameters: [{name: msg, value: "{{item.v}}"}, {name: s, value: "{{item.s}}"}]}
      withItems: [{v: "3", s: "0.15"}, {v: "1", s: "0"}, {v: "2", s: "0.05"}]
    - name: r
      template: print
      arguments: {parameters: [{name: msg, value: "{{item.v}}"}, {name: s, value: "{{item.s}}"}]}
      withItems: [{v: '"c"', s: "0.15"}, {v: "1", s: "0"}, {v: '{"k":2}', s: "0.05"}]
  - - name: show
      template: echo
      arguments:
        parameters:
        - name: msg
          value: "{{steps.x.outputs.parameters}}|{{steps.x.outputs.parameters.p}}|{{steps.r.outputs.result}}"
"""
    + SAY
)


async def test_aggregated_outputs_in_item_order(controller: Controller) -> None:
    r = await run(controller, AGGREGATE)
    assert r.phase == "Succeeded", r.message
    params, _, results = r.param("wf[1].show", "msg", "inputs").split("|")
    assert json.loads(params) == [{"p": "3"}, {"p": "1"}, {"p": "2"}]
    assert json.loads(results) == ["c", 1, {"k": 2}]


async def test_aggregated_parameter_values_stay_strings(controller: Controller) -> None:
    r = await run(controller, AGGREGATE)
    per_name = r.param("wf[1].show", "msg", "inputs").split("|")[1]
    # §6 / conformance parameter-aggregation-*-with-retry: ["1","2","3"]
    assert per_name == '["3","1","2"]'


async def test_aggregated_json_object_parameters_are_decoded(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  dag:
    tasks:
    - name: x
      template: say
      arguments: {parameters: [{name: msg, value: "{{item}}"}]}
      withItems: ['{"a":1}', '[2]']
    - name: show
      template: echo
      depends: x
      arguments: {parameters: [{name: msg, value: "{{tasks.x.outputs.parameters.p}}"}]}
"""
        + SAY,
    )
    assert r.param("wf.show", "msg", "inputs") == '[{"a":1},[2]]'


async def test_failed_items_fail_task_group_and_are_left_out_of_aggregates(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  dag:
    tasks:
    - name: x
      template: exit
      arguments: {parameters: [{name: code, value: "{{item}}"}]}
      withItems: ["0", "1", "0"]
""",
    )
    assert r.summary("wf.x") == ("TaskGroup", "Failed", "")
    assert r.phase_of("wf.x(1:1)") == "Failed"
    assert r.phase_of("wf") == "Failed"
    # a TaskGroup resolves to its first failed item (v4.2)
    assert r.message == f"child '{nid('wf.x(1:1)')}' failed"


@pytest.mark.parametrize(("where", "limit"), [("template", 2), ("workflow", 1)])
async def test_parallelism_limits_concurrent_pods(
    controller: Controller, fake_executor: FakeExecutor, where: str, limit: int
) -> None:
    probe = ConcurrencyProbe(fake_executor)
    template_level = f"  parallelism: {limit}\n" if where == "template" else ""
    workflow_level = f"parallelism: {limit}\n" if where == "workflow" else ""
    r = await run(
        controller,
        f"""
{workflow_level}templates:
- name: main
{template_level}  steps:
  - - name: x
      template: sleep
      arguments: {{parameters: [{{name: s, value: "0.05"}}]}}
      withSequence: {{count: "5"}}
""",
    )
    assert r.phase == "Succeeded"
    assert len(fake_executor.started) == 5
    assert probe.max_active == limit


async def test_template_parallelism_counts_direct_children_only(
    controller: Controller, fake_executor: FakeExecutor
) -> None:
    probe = ConcurrencyProbe(fake_executor)
    r = await run(
        controller,
        """
templates:
- name: main
  parallelism: 1
  steps:
  - - {name: inner, template: inner}
- name: inner
  steps:
  - - name: x
      template: sleep
      arguments: {parameters: [{name: s, value: "0.1"}]}
      withItems: [a, b, c]
""",
    )
    assert r.phase == "Succeeded"
    assert probe.max_active == 3


async def test_non_json_result_aggregation_errors(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  steps:
  - - {name: x, template: echo, withItems: [plain-text]}
  - - {name: y, template: echo, arguments: {parameters: [{name: msg, value: "{{steps.x.outputs.result}}"}]}}
""",
    )
    # §6: outputs.result items must be valid JSON, else the aggregation errors → node Error
    assert r.phase_of("wf") == "Error"
    assert "invalid character" in r.node("wf").message


async def test_failed_step_item_named_in_group_message(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  steps:
  - - name: x
      template: exit
      arguments: {parameters: [{name: code, value: "{{item}}"}]}
      withItems: ["0", "1", "2"]
""",
    )
    failed = f"child '{nid('wf[0].x(1:1)')}' failed"
    assert r.summary("wf[0].x") == ("TaskGroup", "Failed", "")
    assert r.summary("wf[0]") == ("StepGroup", "Failed", failed)
    assert (r.phase, r.message) == ("Failed", failed)


async def test_expanded_step_id_and_status_read_step_group(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  steps:
  - - {name: x, template: echo, withItems: [a]}
  - - {name: y, template: echo, arguments: {parameters: [{name: msg, value: "{{steps.x.id}}"}]}}
""",
    )
    # v4.2: "steps.X.status/id for an expanded step still read the StepGroup node"
    assert r.param("wf[1].y", "msg", "inputs") == nid("wf[0]")


async def test_expanded_task_id_reads_task_group(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  dag:
    tasks:
    - {name: x, template: echo, withItems: [a]}
    - {name: y, template: echo, depends: x, arguments: {parameters: [{name: msg, value: "{{tasks.x.id}}"}]}}
""",
    )
    assert r.param("wf.y", "msg", "inputs") == nid("wf.x")
