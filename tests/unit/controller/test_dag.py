"""DAG templates: depends logic, legacy dependencies, omitted tasks, branch phases, targets,
continueOn, output passing and scheduling order."""

from __future__ import annotations

import pytest

from tests.support.fake_executor import FakeExecutor
from workflow_runtime.controller.controller import Controller

from .helpers import ConcurrencyProbe, nid, run

OMITTED = "omitted: depends condition not met"

LEAVES = """
- name: missing-file
  outputs: {parameters: [{name: p, valueFrom: {path: /tmp/nothing}}]}
  container: {image: argosay, args: [echo, hi]}
"""


def dag(tasks: str, extra: str = "") -> str:
    body = "\n".join("      " + line for line in tasks.strip().splitlines())
    return f"templates:\n- name: main\n  dag:\n{extra}    tasks:\n{body}\n{LEAVES}"


async def test_dag_structure(controller: Controller) -> None:
    r = await run(
        controller,
        dag(
            """
- {name: A, template: echo}
- {name: B, template: echo, depends: A}
- {name: C, template: echo, depends: A}
- {name: D, template: echo, depends: B && C}
"""
        ),
    )
    assert r.phase == "Succeeded" and r.message == ""
    assert r.names == {"wf", "wf.A", "wf.B", "wf.C", "wf.D"}
    assert r.summary("wf") == ("DAG", "Succeeded", "")
    assert r.node("wf.A").id == "wf-3498999265"
    assert r.children("wf") == ["wf.A"]
    assert sorted(r.children("wf.A")) == ["wf.B", "wf.C"]
    assert r.children("wf.B") == ["wf.D"] and r.children("wf.C") == ["wf.D"]
    assert r.node("wf").outbound_nodes == [nid("wf.D")]
    assert {r.node(n).boundary_id for n in ("wf.A", "wf.B", "wf.D")} == {"wf"}
    assert [r.node(n).display_name for n in ("wf", "wf.A", "wf.D")] == ["wf", "A", "D"]


@pytest.mark.parametrize(
    ("a_template", "depends", "b_phase"),
    [
        ("echo", "A.Succeeded", "Succeeded"),
        ("echo", "A.Failed", "Omitted"),
        ("fail", "A.Failed", "Succeeded"),
        ("fail", "A", "Omitted"),
        ("fail", "A.Succeeded || A.Failed", "Succeeded"),
        ("fail", "!A.Succeeded", "Succeeded"),
        ("echo", "!A.Succeeded", "Omitted"),
        ("missing-file", "A.Errored", "Succeeded"),
        ("missing-file", "A.Failed", "Omitted"),
        ("skipped", "A.Skipped", "Succeeded"),
        ("skipped", "A", "Succeeded"),
        ("skipped", "A.Succeeded", "Omitted"),
    ],
)
async def test_depends_on_one_task(
    controller: Controller, a_template: str, depends: str, b_phase: str
) -> None:
    when = ', when: "false"' if a_template == "skipped" else ""
    template = "echo" if a_template == "skipped" else a_template
    r = await run(
        controller,
        dag(
            f"""
- {{name: A, template: {template}{when}}}
- {{name: B, template: echo, depends: "{depends}"}}
"""
        ),
    )
    node = r.node("wf.B")
    assert node.phase.value == b_phase
    if b_phase == "Omitted":
        assert (node.type.value, node.message) == ("Skipped", OMITTED)
        assert "wf.B" in r.children("wf.A")


@pytest.mark.parametrize(
    ("depends", "c_phase"),
    [
        ("A || B", "Succeeded"),
        ("A && B", "Omitted"),
        ("A.Failed && B.Succeeded", "Succeeded"),
        ("(A.Failed || A.Errored) && !B.Failed", "Succeeded"),
        ("A.Succeeded || B.Failed", "Omitted"),
    ],
)
async def test_depends_operators(controller: Controller, depends: str, c_phase: str) -> None:
    r = await run(
        controller,
        dag(
            f"""
- {{name: A, template: fail}}
- {{name: B, template: echo}}
- {{name: C, template: echo, depends: "{depends}"}}
"""
        ),
    )
    assert r.phase_of("wf.C") == c_phase


async def test_omitted_target_inherits_failed_branch(controller: Controller) -> None:
    r = await run(
        controller,
        dag(
            """
- {name: A, template: fail}
- {name: B, template: echo, depends: A}
- {name: C, template: echo, depends: B}
"""
        ),
    )
    failed = f"child '{nid('wf.A')}' failed"
    assert r.summary("wf.B") == ("Skipped", "Omitted", OMITTED)
    assert r.summary("wf.C") == ("Skipped", "Omitted", OMITTED)
    # §3 assessDAGPhase: an omitted target inherits its branch's Failed phase; v4.2 message
    assert r.summary("wf") == ("DAG", "Failed", failed)
    assert (r.phase, r.message) == ("Failed", failed)


async def test_failure_handled_by_depends_keeps_dag_succeeded(controller: Controller) -> None:
    r = await run(
        controller,
        dag(
            """
- {name: A, template: fail}
- {name: B, template: echo, depends: A.Failed}
- {name: C, template: echo, depends: A.Succeeded}
"""
        ),
    )
    # targets B (Succeeded) and C (Omitted, but its branch phase is... A Failed) → Failed
    assert r.phase_of("wf.B") == "Succeeded"
    assert r.phase_of("wf.C") == "Omitted"
    assert r.phase_of("wf") == "Failed"


async def test_only_handler_target_succeeds(controller: Controller) -> None:
    r = await run(
        controller,
        dag(
            """
- {name: A, template: fail}
- {name: B, template: echo, depends: A.Failed}
"""
        ),
    )
    assert r.phase_of("wf.A") == "Failed"
    assert r.phase_of("wf") == "Succeeded"
    assert r.phase == "Succeeded" and r.message == ""


@pytest.mark.parametrize(
    ("continue_on", "b_phase", "dag_phase"),
    [
        ("", "Omitted", "Failed"),
        ("continueOn: {failed: true}", "Succeeded", "Succeeded"),
        ("continueOn: {error: true}", "Omitted", "Failed"),
    ],
)
async def test_legacy_dependencies_and_continue_on(
    controller: Controller, continue_on: str, b_phase: str, dag_phase: str
) -> None:
    sep = ", " if continue_on else ""
    r = await run(
        controller,
        dag(
            f"""
- {{name: A, template: fail{sep}{continue_on}}}
- {{name: B, template: echo, dependencies: [A]}}
"""
        ),
    )
    assert r.phase_of("wf.B") == b_phase
    assert r.phase_of("wf") == dag_phase


async def test_continue_on_target_does_not_fail_dag(controller: Controller) -> None:
    r = await run(
        controller,
        dag(
            """
- {name: A, template: fail, continueOn: {failed: true}}
- {name: B, template: echo}
"""
        ),
    )
    assert r.phase_of("wf.A") == "Failed"
    assert r.phase == "Succeeded"


async def test_failed_dag_message_names_first_failed_task_in_declaration_order(
    controller: Controller,
) -> None:
    r = await run(
        controller,
        dag(
            """
- {name: Z, template: sleep, arguments: {parameters: [{name: s, value: "0.1"}]}}
- {name: X, template: fail, depends: Z}
- {name: Y, template: fail}
"""
        ),
    )
    failed = f"child '{nid('wf.X')}' failed"
    assert r.summary("wf") == ("DAG", "Failed", failed)
    assert r.message == failed


async def test_error_task_makes_dag_error(controller: Controller) -> None:
    r = await run(controller, dag("- {name: A, template: missing-file}"))
    assert r.phase_of("wf.A") == "Error"
    assert r.phase_of("wf") == "Error"
    assert r.phase == "Error"
    assert r.message == f"child '{nid('wf.A')}' failed"


async def test_targets_limit_what_runs(controller: Controller) -> None:
    r = await run(
        controller,
        dag(
            """
- {name: A, template: echo}
- {name: B, template: echo, depends: A}
- {name: C, template: echo}
- {name: D, template: echo, depends: B}
""",
            extra="    target: B\n",
        ),
    )
    assert r.names == {"wf", "wf.A", "wf.B"}
    assert r.node("wf").outbound_nodes == [nid("wf.B")]
    assert r.phase == "Succeeded"


async def test_fail_fast_default_waits_for_running_tasks(controller: Controller) -> None:
    r = await run(
        controller,
        dag(
            """
- {name: A, template: fail}
- {name: B, template: sleep, arguments: {parameters: [{name: s, value: "0.3"}]}}
"""
        ),
    )
    # the DAG only completes once every started task has finished; B is not killed
    assert r.summary("wf.B") == ("Pod", "Succeeded", "")
    assert r.phase_of("wf") == "Failed"
    dag_done, b_done = r.node("wf").finished_at, r.node("wf.B").finished_at
    assert dag_done is not None and b_done is not None and dag_done >= b_done


@pytest.mark.parametrize("kind", ["dag", "steps"])
async def test_template_fail_fast(controller: Controller, kind: str) -> None:
    if kind == "dag":
        body = """
  failFast: true
  dag:
    tasks:
    - {name: task1, template: fail}
    - {name: task2, template: sleep}
    - {name: task3, template: echo, depends: task2}
"""
        names = ("wf.task1", "wf.task2", "wf.task3")
    else:
        body = """
  failFast: true
  steps:
  - - {name: step1, template: fail}
    - {name: step2, template: sleep}
  - - {name: step3, template: echo}
"""
        names = ("wf[0].step1", "wf[0].step2", "wf[1].step3")
    r = await run(controller, f"templates:\n- name: main\n  parallelism: 5\n{body}")
    message = "template has failed or errored children and failFast enabled"
    assert r.phase_of(names[0]) == "Failed"
    assert r.phase_of(names[1]) == "Succeeded"
    assert names[2] not in r.names
    if kind == "steps":
        assert r.summary("wf[0]") == ("StepGroup", "Failed", message)
    assert r.node("wf").phase.value == "Failed" and r.node("wf").message == message
    assert (r.phase, r.message) == ("Failed", message)


async def test_task_outputs_pass_to_dependents(controller: Controller) -> None:
    r = await run(
        controller,
        dag(
            """
- {name: A, template: echo, arguments: {parameters: [{name: msg, value: from-a}]}}
- name: B
  template: gen
  depends: A
- name: C
  template: echo
  depends: B
  arguments:
    parameters:
    - name: msg
      value: "{{tasks.A.outputs.result}}/{{tasks.B.outputs.parameters.p}}/\\
        {{tasks.A.exitCode}}/{{tasks.A.status}}"
"""
        )
        + """
- name: gen
  outputs: {parameters: [{name: p, valueFrom: {path: /tmp/p}}]}
  container: {image: argosay, args: [echo, from-b, /tmp/p]}
""",
    )
    assert r.param("wf.C", "msg", "inputs") == "from-a/from-b/0/Succeeded"


async def test_dag_template_outputs(controller: Controller) -> None:
    r = await run(
        controller,
        """
        templates:
        - name: main
          steps:
          - - {name: inner, template: inner}
        - name: inner
          dag:
            tasks:
            - {name: A, template: echo, arguments: {parameters: [{name: msg, value: v}]}}
          outputs:
            parameters:
            - {name: out, globalName: g, valueFrom: {parameter: "{{tasks.A.outputs.result}}"}}
            - {name: ex, valueFrom: {expression: "tasks.A.outputs.result + tasks.A.outputs.result"}}
        """,
    )
    assert r.phase == "Succeeded", r.message
    assert r.param("wf[0].inner", "out") == "v"
    assert r.param("wf[0].inner", "ex") == "vv"
    assert r.run.outputs == {"parameters": [{"name": "g", "value": "v"}]}
    assert r.node("wf[0].inner.A").boundary_id == nid("wf[0].inner")


async def test_diamond_fan_in_waits_for_both_branches(controller: Controller) -> None:
    r = await run(
        controller,
        dag(
            """
- {name: A, template: echo}
- {name: B, template: sleep, depends: A, arguments: {parameters: [{name: s, value: "0.1"}]}}
- {name: C, template: sleep, depends: A, arguments: {parameters: [{name: s, value: "0.3"}]}}
- {name: D, template: echo, depends: B && C}
"""
        ),
    )
    d_start = r.node("wf.D").started_at
    b_done, c_done = r.node("wf.B").finished_at, r.node("wf.C").finished_at
    assert d_start is not None and b_done is not None and c_done is not None
    assert d_start >= c_done >= b_done


async def test_finished_task_starts_dependents_without_waiting_for_unrelated(
    controller: Controller, fake_executor: FakeExecutor
) -> None:
    probe = ConcurrencyProbe(fake_executor)
    r = await run(
        controller,
        dag(
            """
- {name: A, template: sleep, arguments: {parameters: [{name: s, value: "0.05"}]}}
- {name: B, template: sleep, depends: A, arguments: {parameters: [{name: s, value: "0.05"}]}}
- {name: C, template: sleep, arguments: {parameters: [{name: s, value: "0.6"}]}}
"""
        ),
    )
    b_start, b_done = r.node("wf.B").started_at, r.node("wf.B").finished_at
    c_done = r.node("wf.C").finished_at
    assert b_start is not None and b_done is not None and c_done is not None
    assert b_done < c_done
    assert probe.max_active == 2


async def test_hyphenated_task_names_in_depends(controller: Controller) -> None:
    r = await run(
        controller,
        dag(
            """
- {name: gen-a, template: fail}
- {name: gen-b, template: echo}
- {name: use-it, template: echo, depends: "gen-a.Failed && gen-b"}
"""
        ),
    )
    assert r.phase_of("wf.use-it") == "Succeeded"
