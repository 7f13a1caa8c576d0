"""Outputs of Skipped/Omitted producers (brief §12, Argo v4.0.7+ "absent optional")."""

from __future__ import annotations

import pytest

from workflow_runtime.controller.controller import Controller

from .helpers import run

ABSENT_ARGUMENT = (
    "inputs.parameters.in: argument references an absent optional"
    " (skipped/omitted node output with no default)"
)


def leaves(producer_default: str | None = None, consumer_default: str | None = None) -> str:
    pdefault = f", default: {producer_default!r}" if producer_default is not None else ""
    cdefault = f", default: {consumer_default!r}" if consumer_default is not None else ""
    return f"""
- name: produce
  outputs: {{parameters: [{{name: out, valueFrom: {{path: /tmp/out{pdefault}}}}}]}}
  container: {{image: argosay, args: [echo, real-value, /tmp/out]}}
- name: consume
  inputs: {{parameters: [{{name: in{cdefault}}}]}}
  container: {{image: argosay, args: [echo, "got {{{{inputs.parameters.in}}}}"]}}
"""


def steps_wf(
    value: str = "{{steps.producer.outputs.parameters.out}}", extra: str = "", **kw: str | None
) -> str:
    return f"""
templates:
- name: main
  steps:
  - - {{name: producer, template: produce, when: "false"}}
  - - name: consumer
      template: consume
      arguments: {{parameters: [{{name: in, value: {value!r}}}]}}
      {extra}
{leaves(**kw)}"""


def dag_wf(
    value: str = "{{tasks.producer.outputs.parameters.out}}",
    producer: str = 'when: "false"',
    extra: str = "",
    **kw: str | None,
) -> str:
    return f"""
templates:
- name: main
  dag:
    tasks:
    - {{name: gate, template: echo}}
    - {{name: producer, template: produce, {producer}}}
    - name: consumer
      template: consume
      depends: "producer.Succeeded || producer.Skipped || producer.Omitted"
      arguments: {{parameters: [{{name: in, value: {value!r}}}]}}
      {extra}
{leaves(**kw)}"""


@pytest.mark.parametrize("kind", ["steps", "dag"])
@pytest.mark.parametrize(
    ("producer_default", "consumer_default", "expected"),
    [
        ("hello-from-producer", None, "hello-from-producer"),
        ("hello-from-producer", "fallback-from-input", "hello-from-producer"),
        (None, "fallback-from-input", "fallback-from-input"),
    ],
)
async def test_defaults_stand_in_for_skipped_output(
    controller: Controller,
    kind: str,
    producer_default: str | None,
    consumer_default: str | None,
    expected: str,
) -> None:
    make = steps_wf if kind == "steps" else dag_wf
    r = await run(controller, make(producer_default=producer_default, consumer_default=consumer_default))
    producer, consumer = (
        ("wf[0].producer", "wf[1].consumer") if kind == "steps" else ("wf.producer", "wf.consumer")
    )
    assert r.summary(producer)[:2] == ("Skipped", "Skipped")
    assert r.summary(consumer) == ("Pod", "Succeeded", "")
    assert r.param(consumer, "in", "inputs") == expected
    assert r.phase == "Succeeded"


async def test_steps_reference_without_defaults_errors(controller: Controller) -> None:
    r = await run(controller, steps_wf())
    assert r.summary("wf[1].consumer") == ("Skipped", "Error", ABSENT_ARGUMENT)
    assert r.summary("wf[1]")[:2] == ("StepGroup", "Error")
    assert (
        r.node("wf[1]").message
        == f"step group deemed errored due to child wf[1].consumer error: {ABSENT_ARGUMENT}"
    )
    # Steps: the group is Error, the Steps node Failed → the workflow is Failed
    assert r.phase_of("wf") == "Failed"
    assert r.phase == "Failed"


@pytest.mark.parametrize(
    ("producer", "phase"), [('when: "false"', "Skipped"), ("depends: gate.Failed", "Omitted")]
)
async def test_dag_reference_without_defaults_errors(
    controller: Controller, producer: str, phase: str
) -> None:
    r = await run(controller, dag_wf(producer=producer))
    assert r.phase_of("wf.producer") == phase
    assert r.summary("wf.consumer") == ("Skipped", "Error", ABSENT_ARGUMENT)
    # DAG → workflow Error
    assert r.phase_of("wf") == "Error"
    assert r.phase == "Error"


@pytest.mark.parametrize(
    ("value", "phase", "result"),
    [
        pytest.param("{{=tasks.producer.outputs.parameters.out ?? 'nil-safe'}}", "Succeeded", "nil-safe"),
        ("prefix-{{tasks.producer.outputs.parameters.out}}", "Error", None),
        ("{{=tasks.producer.outputs.parameters.out}}", "Error", None),
    ],
)
async def test_absent_in_composite_and_expression_arguments(
    controller: Controller, value: str, phase: str, result: str | None
) -> None:
    r = await run(controller, dag_wf(value=value, consumer_default="unused"))
    assert r.phase_of("wf.consumer") == phase
    if result is not None:
        assert r.param("wf.consumer", "in", "inputs") == result
    else:
        assert "absent optional" in r.node("wf.consumer").message


async def test_when_referencing_absent_output_errors(controller: Controller) -> None:
    r = await run(
        controller,
        dag_wf(value="x", extra='when: "{{tasks.producer.outputs.parameters.out}} == x"'),
    )
    assert r.summary("wf.consumer")[:2] == ("Skipped", "Error")
    assert "absent optional" in r.node("wf.consumer").message


async def test_consumer_with_false_when_tolerates_absent(controller: Controller) -> None:
    r = await run(controller, steps_wf(extra='when: "false"'))
    assert r.summary("wf[1].consumer") == ("Skipped", "Skipped", "when 'false' evaluated false")
    assert r.phase == "Succeeded"


async def test_with_param_over_absent_output(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  steps:
  - - {name: producer, template: produce, when: "false"}
  - - name: consumer
      template: consume
      withParam: "{{steps.producer.outputs.parameters.out}}"
      arguments: {parameters: [{name: in, value: "{{item}}"}]}
"""
        + leaves(),
    )
    assert r.summary("wf[1].consumer")[:2] == ("Skipped", "Error")
    assert "absent optional" in r.node("wf[1].consumer").message
    assert r.phase == "Failed"


async def test_with_param_over_producer_default(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  dag:
    tasks:
    - {name: producer, template: produce, when: "false"}
    - name: consumer
      template: consume
      depends: "producer.Succeeded || producer.Skipped"
      withParam: "{{tasks.producer.outputs.parameters.out}}"
      arguments: {parameters: [{name: in, value: "{{item}}"}]}
"""
        + leaves(producer_default='["a","b"]'),
    )
    assert r.param("wf.consumer(0:a)", "in", "inputs") == "a"
    assert r.param("wf.consumer(1:b)", "in", "inputs") == "b"
    assert r.phase == "Succeeded"
