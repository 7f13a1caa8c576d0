"""retryStrategy: attempts, limit, policies, backoff, expression, {{retries}}, outputs, and the
workflow-level strategy."""

from __future__ import annotations

import itertools
import json

import pytest

from tests.support.fake_executor import FakeExecutor
from workflow_runtime.controller.controller import Controller
from workflow_runtime.controller.names import pod_name

from .helpers import nid, run, started_pods

FLAKY = """
- name: flaky
  inputs: {parameters: [{name: codes}]}
  retryStrategy: RETRY
  container: {image: argosay, args: [codes, "{{inputs.parameters.codes}}", "{{retries}}"]}
- name: broken
  retryStrategy: RETRY
  outputs: {parameters: [{name: p, valueFrom: {path: /tmp/nothing}}]}
  container: {image: argosay, args: [echo, hi]}
"""


def retrying(codes: str, strategy: str, template: str = "flaky") -> str:
    return f"""
templates:
- name: main
  steps:
  - - {{name: a, template: {template}, arguments: {{parameters: [{{name: codes, value: "{codes}"}}]}}}}
""" + FLAKY.replace("RETRY", strategy)


async def test_limit_gives_limit_plus_one_attempts(controller: Controller) -> None:
    r = await run(controller, retrying("1", "{limit: 2}"))
    attempts = ["wf[0].a(0)", "wf[0].a(1)", "wf[0].a(2)"]
    assert r.summary("wf[0].a") == ("Retry", "Failed", "No more retries left")
    assert r.children("wf[0].a") == attempts
    for attempt in attempts:
        assert r.summary(attempt) == ("Pod", "Failed", "main: Error (exit code 1)")
        assert r.node(attempt).node_flag == {"retried": True}
        assert r.node(attempt).boundary_id == "wf"
    assert [r.node(a).display_name for a in attempts] == ["a(0)", "a(1)", "a(2)"]
    assert r.summary("wf[0]") == ("StepGroup", "Failed", f"child '{nid('wf[0].a')}' failed")
    assert r.phase == "Failed"


@pytest.mark.parametrize(("limit", "attempts"), [("0", 1), ('"1"', 2), (3, 4)])
async def test_limit_forms(controller: Controller, limit: object, attempts: int) -> None:
    r = await run(controller, retrying("1", f"{{limit: {limit}}}"))
    assert len(r.children("wf[0].a")) == attempts


async def test_retry_until_success(controller: Controller, fake_executor: FakeExecutor) -> None:
    r = await run(controller, retrying("1,1,0", "{limit: 5}"))
    assert r.summary("wf[0].a") == ("Retry", "Succeeded", "")
    assert [r.phase_of(c) for c in r.children("wf[0].a")] == ["Failed", "Failed", "Succeeded"]
    # {{retries}} is the attempt number; pod names use the attempt's node name (§5 step 3)
    assert [spec.args[-1] for spec in fake_executor.specs.values()] == ["0", "1", "2"]
    assert started_pods(fake_executor) == [pod_name("wf", f"wf[0].a({n})", "flaky") for n in range(3)]
    assert r.phase == "Succeeded"


async def test_retry_node_outputs_are_last_attempts(controller: Controller) -> None:
    r = await run(controller, retrying("1,0", "{limit: 2}"))
    assert r.node("wf[0].a").outputs == r.node("wf[0].a(1)").outputs
    assert (r.node("wf[0].a").outputs or {}).get("exitCode") == "0"


async def test_steps_scope_reads_last_attempt(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  steps:
  - - {name: a, template: flaky, arguments: {parameters: [{name: codes, value: "1,0"}]}}
  - - name: b
      template: echo
      arguments: {parameters: [{name: msg, value: "{{steps.a.outputs.result}}/{{steps.a.exitCode}}"}]}
"""
        + FLAKY.replace("RETRY", "{limit: 2}"),
    )
    assert r.param("wf[1].b", "msg", "inputs") == "attempt 1/0"


@pytest.mark.parametrize(
    ("template", "policy", "attempts", "phase", "message"),
    [
        ("flaky", "", 3, "Failed", "No more retries left"),
        ("flaky", "OnFailure", 3, "Failed", "No more retries left"),
        ("flaky", "OnError", 1, "Failed", "main: Error (exit code 1)"),
        ("flaky", "Always", 3, "Failed", "No more retries left"),
        ("broken", "", 1, "Error", None),
        ("broken", "OnFailure", 1, "Error", None),
        ("broken", "OnError", 3, "Error", "No more retries left"),
        ("broken", "Always", 3, "Error", "No more retries left"),
    ],
)
async def test_retry_policies(
    controller: Controller, template: str, policy: str, attempts: int, phase: str, message: str | None
) -> None:
    strategy = f"{{limit: 2, retryPolicy: {policy}}}" if policy else "{limit: 2}"
    r = await run(controller, retrying("1", strategy, template))
    assert len(r.children("wf[0].a")) == attempts
    node_type, node_phase, node_message = r.summary("wf[0].a")
    assert (node_type, node_phase) == ("Retry", phase)
    last = r.node(r.children("wf[0].a")[-1])
    # a policy that does not retry ends with the last attempt's phase and message
    assert node_message == (message if message is not None else last.message)


async def test_backoff_waits_duration_times_factor(controller: Controller) -> None:
    r = await run(controller, retrying("1", "{limit: 2, backoff: {duration: 100ms, factor: 2}}"))
    attempts = [r.node(c) for c in r.children("wf[0].a")]
    assert len(attempts) == 3
    gaps = []
    for before, after in itertools.pairwise(attempts):
        assert before.finished_at is not None and after.started_at is not None
        gaps.append((after.started_at - before.finished_at).total_seconds())
    # §5: wait = duration * factor ** (attempts - 1): 0.1 s, then 0.2 s
    assert 0.09 <= gaps[0] < 0.19
    assert 0.19 <= gaps[1] < 0.35
    assert r.node("wf[0].a").message == "No more retries left"


async def test_backoff_message_while_waiting(controller: Controller) -> None:
    from .helpers import start, until

    record, wf_run = await start(controller, retrying("1", "{limit: 1, backoff: {duration: '2'}}"))

    def waiting() -> bool:
        node = wf_run.tree.by_name("wf[0].a")
        return node is not None and node.message.startswith("Backoff for")

    await until(waiting)
    assert wf_run.tree.by_name("wf[0].a").message == "Backoff for 2 seconds"  # type: ignore[union-attr]
    controller.stop(record.uid, "Terminate")
    await controller.wait(record.uid)


async def test_backoff_beyond_max_duration_stops(controller: Controller) -> None:
    r = await run(controller, retrying("1", "{limit: 3, backoff: {duration: '1', maxDuration: 500ms}}"))
    assert len(r.children("wf[0].a")) == 1
    assert r.summary("wf[0].a") == ("Retry", "Failed", "Backoff would exceed max duration limit")


async def test_expression_decides_retry(controller: Controller) -> None:
    r = await run(
        controller,
        retrying("2,2,3,0", "{limit: 5, expression: 'asInt(lastRetry.exitCode) == 2'}"),
    )
    assert [r.node(c).outputs["exitCode"] for c in r.children("wf[0].a")] == ["2", "2", "3"]  # type: ignore[index]
    assert r.summary("wf[0].a") == ("Retry", "Failed", "retryStrategy.expression evaluated to false")


async def test_expression_makes_policy_always(controller: Controller) -> None:
    r = await run(
        controller,
        retrying("0", "{limit: 2, expression: 'lastRetry.status == \"Error\"'}", "broken"),
    )
    # §5: retryPolicy defaults to Always when an expression is set, so an Error attempt is retried
    assert len(r.children("wf[0].a")) == 3
    assert r.summary("wf[0].a") == ("Retry", "Error", "No more retries left")


async def test_last_retry_variables_in_template(controller: Controller, fake_executor: FakeExecutor) -> None:
    await run(
        controller,
        """
templates:
- name: main
  retryStrategy: {limit: 1}
  container:
    image: argosay
    args: [codes, "3,0", "{{retries}}", "{{lastRetry.exitCode}}", "{{lastRetry.status}}",
           "{{lastRetry.message}}"]
""",
    )
    args = [spec.args for spec in fake_executor.specs.values()]
    assert args[0][2:] == ["0", "0", "", ""]
    assert args[1][2:] == ["1", "3", "Failed", "main: Error (exit code 3)"]


async def test_root_retry_node_names(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  retryStrategy: {limit: 1}
  container: {image: argosay, args: [codes, "1,0", "{{retries}}"]}
""",
    )
    assert r.summary("wf") == ("Retry", "Succeeded", "")
    assert r.children("wf") == ["wf(0)", "wf(1)"]
    assert r.node("wf(0)").id == "wf-200985491"
    assert [r.node(n).display_name for n in ("wf(0)", "wf(1)")] == ["wf(0)", "wf(1)"]


WORKFLOW_RETRY = """
retryStrategy: {limit: 1}
entrypoint: fanout
templates:
- name: echo-value
  inputs: {parameters: [{name: message}]}
  container: {image: argosay, args: [echo, "{{inputs.parameters.message}}"]}
  outputs: {parameters: [{name: dummy-output, value: "{{inputs.parameters.message}}"}]}
- name: fanout
  steps:
  - - name: echo-list
      template: echo-value
      arguments: {parameters: [{name: message, value: "{{item}}"}]}
      withItems: [1, 2, 3]
  outputs:
    parameters:
    - name: dummy-steps-output
      valueFrom: {parameter: "{{steps.echo-list.outputs.parameters.dummy-output}}"}
"""


async def test_workflow_retry_strategy_applies_to_every_template(controller: Controller) -> None:
    r = await run(controller, WORKFLOW_RETRY, leaves=False)
    assert r.phase == "Succeeded", r.message
    # the Steps template is wrapped too: wf (Retry) → wf(0) (Steps)
    assert r.summary("wf") == ("Retry", "Succeeded", "")
    assert r.summary("wf(0)") == ("Steps", "Succeeded", "")
    assert r.summary("wf(0)[0]")[:2] == ("StepGroup", "Succeeded")
    item = "wf(0)[0].echo-list(0:1)"
    assert r.summary(item) == ("Retry", "Succeeded", "")
    assert r.children(item) == [f"{item}(0)"]
    assert r.node(f"{item}(0)").boundary_id == nid("wf(0)")
    # the Retry node's outputs are its last attempt's (§5 step 5)
    assert r.node("wf").outputs == r.node("wf(0)").outputs
    assert [str(v) for v in json.loads(r.param("wf", "dummy-steps-output"))] == ["1", "2", "3"]


async def test_workflow_retry_aggregation_conformance(controller: Controller) -> None:
    r = await run(controller, WORKFLOW_RETRY, leaves=False)
    # conformance parameter-aggregation-steps-with-retry: dummy-steps-output == '["1","2","3"]'
    assert r.param("wf(0)", "dummy-steps-output") == '["1","2","3"]'
