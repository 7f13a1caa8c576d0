"""Lifecycle commands over real HTTP: retry, resubmit, node set, and resume/stop with node field
selectors, with their error statuses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import (
    NS,
    assert_argo_error,
    container,
    create,
    echo,
    get,
    nodes_named,
    ok,
    requires_isolation,
    unique,
    wait_done,
    wait_node,
    workflow,
)

pytestmark = requires_isolation

API = f"/api/v1/workflows/{NS}"


def put(api: httpx.Client, name: str, command: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return api.put(f"{API}/{name}/{command}", json=body or {})


def flaky(name: str) -> dict[str, Any]:
    """Step ``a`` succeeds; step ``b`` fails unless the parameter ``fail`` is ``no``."""
    main = {
        "name": "main",
        "steps": [[{"name": "a", "template": "ok"}], [{"name": "b", "template": "check"}]],
    }
    check = container("check", "sh", "-c", '[ "{{workflow.parameters.fail}}" = no ]')
    return workflow(
        name,
        templates=[main, echo("ok"), check],
        arguments={"parameters": [{"name": "fail", "value": "yes"}]},
    )


def suspend_template(name: str, *outputs: str) -> dict[str, Any]:
    template: dict[str, Any] = {"name": name, "suspend": {}}
    if outputs:
        template["outputs"] = {"parameters": [{"name": o, "valueFrom": {"supplied": {}}} for o in outputs]}
    return template


@pytest.fixture
def failed(api: httpx.Client) -> str:
    name = unique("flaky")
    create(api, flaky(name))
    assert wait_done(api, name)["status"]["phase"] == "Failed"
    return name


# ------------------------------------------------------------------------------------- retry


def test_retry_reruns_only_the_failed_step_with_new_parameters(api: httpx.Client, failed: str) -> None:
    before = nodes_named(get(api, failed))
    retried = ok(put(api, failed, "retry", {"parameters": ["fail=no"]}))
    assert retried["metadata"]["name"] == failed
    assert retried["status"]["phase"] == "Running"

    done = wait_done(api, failed)
    assert done["status"]["phase"] == "Succeeded"
    after = nodes_named(done)
    assert after["a"]["startedAt"] == before["a"]["startedAt"], "the successful step is not run again"
    assert after["b"]["phase"] == "Succeeded"


def test_retry_with_restart_successful_reruns_selected_steps(api: httpx.Client, failed: str) -> None:
    before = nodes_named(get(api, failed))
    body = {"restartSuccessful": True, "nodeFieldSelector": "displayName=a", "parameters": ["fail=no"]}
    ok(put(api, failed, "retry", body))
    after = nodes_named(wait_done(api, failed))
    assert after["a"]["phase"] == "Succeeded"
    assert after["a"]["startedAt"] != before["a"]["startedAt"], "the selected step runs again"


def test_retry_errors(api: httpx.Client, failed: str) -> None:
    assert_argo_error(put(api, "no-such-workflow", "retry"), 404, "no-such-workflow")
    assert_argo_error(put(api, failed, "retry", {"parameters": ["no-equals"]}), 400, "parameters")
    assert_argo_error(
        put(api, failed, "retry", {"nodeFieldSelector": "colour=red"}), 400, "nodeFieldSelector"
    )
    succeeded = create(api, workflow())["metadata"]["name"]
    wait_done(api, succeeded)
    assert_argo_error(put(api, succeeded, "retry"), 409, "Failed/Error")
    running = create(api, workflow(templates=[container("main", "sleep", "30")]))["metadata"]["name"]
    try:
        assert_argo_error(put(api, running, "retry"), 409)
    finally:
        put(api, running, "terminate")


# ------------------------------------------------------------------------------------- resubmit


def test_resubmit_creates_a_new_workflow(api: httpx.Client, failed: str) -> None:
    created = ok(put(api, failed, "resubmit", {"parameters": ["fail=no"]}))
    name = created["metadata"]["name"]
    assert name != failed and name.startswith(f"{failed}-")
    assert created["metadata"]["labels"]["workflows.argoproj.io/resubmitted-from-workflow"] == failed
    assert wait_done(api, name)["status"]["phase"] == "Succeeded"
    assert get(api, failed)["status"]["phase"] == "Failed", "the original is left as it was"


def test_memoized_resubmit_reuses_successful_steps(api: httpx.Client, failed: str) -> None:
    old = nodes_named(get(api, failed))
    created = ok(put(api, failed, "resubmit", {"memoized": True, "parameters": ["fail=no"]}))
    done = wait_done(api, created["metadata"]["name"])
    assert done["status"]["phase"] == "Succeeded"
    new = nodes_named(done)
    assert new["a"]["startedAt"] == old["a"]["startedAt"], "step a was adopted, not run"
    assert new["b"]["startedAt"] != old["b"]["startedAt"]


def test_resubmit_errors(api: httpx.Client) -> None:
    assert_argo_error(put(api, "no-such-workflow", "resubmit"), 404)
    succeeded = create(api, workflow())["metadata"]["name"]
    wait_done(api, succeeded)
    assert_argo_error(put(api, succeeded, "resubmit", {"memoized": True}), 409, "memoized")
    assert_argo_error(put(api, succeeded, "resubmit", {"parameters": ["x"]}), 400, "parameters")


# ------------------------------------------------------------------------------------- set, resume, stop


def approval(name: str) -> dict[str, Any]:
    main = {
        "name": "main",
        "steps": [
            [{"name": "approve", "template": "approve"}],
            [
                {
                    "name": "use",
                    "template": "show",
                    "arguments": {
                        "parameters": [
                            {"name": "choice", "value": "{{steps.approve.outputs.parameters.choice}}"}
                        ]
                    },
                }
            ],
        ],
    }
    show = {
        "name": "show",
        "inputs": {"parameters": [{"name": "choice"}]},
        "container": {"image": "busybox", "command": ["echo", "{{inputs.parameters.choice}}"]},
    }
    return workflow(name, templates=[main, suspend_template("approve", "choice"), show])


def test_set_supplies_outputs_and_ends_the_suspend_node(api: httpx.Client) -> None:
    name = unique("approve")
    create(api, approval(name))
    wait_node(api, name, "approve", "Running")
    body = {
        "nodeFieldSelector": "displayName=approve",
        "outputParameters": '{"choice": "blue"}',
        "phase": "Succeeded",
        "message": "approved by test",
    }
    ok(put(api, name, "set", body))
    done = wait_done(api, name)
    assert done["status"]["phase"] == "Succeeded"
    nodes = nodes_named(done)
    assert nodes["approve"]["outputs"]["parameters"][0]["value"] == "blue"
    assert nodes["use"]["inputs"]["parameters"][0]["value"] == "blue"


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"phase": "Succeeded"}, 400, "nodeFieldSelector: required"),
        ({"nodeFieldSelector": "displayName=approve", "phase": "Running"}, 400, "phase"),
        ({"nodeFieldSelector": "displayName=approve", "outputParameters": "{nope"}, 400, "outputParameters"),
        ({"nodeFieldSelector": "displayName=approve", "outputParameters": "[1]"}, 400, "outputParameters"),
        ({"nodeFieldSelector": "displayName=nobody", "phase": "Succeeded"}, 409, "no suspend nodes"),
        ({"nodeFieldSelector": "displayName=approve", "outputParameters": '{"other": "x"}'}, 409, "other"),
    ],
)
def test_set_errors(api: httpx.Client, body: dict[str, Any], status: int, fragment: str) -> None:
    name = unique("set-bad")
    create(api, approval(name))
    wait_node(api, name, "approve", "Running")
    try:
        assert_argo_error(put(api, name, "set", body), status, fragment)
    finally:
        put(api, name, "terminate")


def two_gates(name: str) -> dict[str, Any]:
    tasks = [{"name": "a", "template": "gate"}, {"name": "b", "template": "gate"}]
    return workflow(name, templates=[{"name": "main", "dag": {"tasks": tasks}}, suspend_template("gate")])


def test_resume_with_a_node_field_selector_resumes_only_those_nodes(api: httpx.Client) -> None:
    name = unique("gates")
    create(api, two_gates(name))
    wait_node(api, name, "b", "Running")
    ok(put(api, name, "resume", {"nodeFieldSelector": "displayName=a"}))
    document = wait_node(api, name, "a", "Succeeded")
    assert nodes_named(document)["b"]["phase"] == "Running"
    assert document["status"]["phase"] == "Running"
    ok(put(api, name, "resume"))
    assert wait_done(api, name)["status"]["phase"] == "Succeeded"


def test_stop_with_a_node_field_selector_fails_that_node(api: httpx.Client) -> None:
    name = unique("stop-gate")
    create(api, two_gates(name))
    wait_node(api, name, "b", "Running")
    ok(put(api, name, "stop", {"nodeFieldSelector": "displayName=b", "message": "not today"}))
    ok(put(api, name, "resume", {"nodeFieldSelector": "displayName=a"}))
    done = wait_done(api, name)
    assert done["status"]["phase"] == "Failed"
    nodes = nodes_named(done)
    assert (nodes["b"]["phase"], nodes["b"]["message"]) == ("Failed", "not today")
    assert nodes["a"]["phase"] == "Succeeded"


@pytest.mark.parametrize("command", ["resume", "stop"])
def test_node_field_selector_errors(api: httpx.Client, command: str) -> None:
    name = unique(f"{command}-bad")
    create(api, two_gates(name))
    wait_node(api, name, "b", "Running")
    try:
        assert_argo_error(
            put(api, name, command, {"nodeFieldSelector": "no-operator"}), 400, "nodeFieldSelector"
        )
        assert_argo_error(put(api, name, command, {"nodeFieldSelector": "colour=red"}), 400, "colour")
        assert_argo_error(
            put(api, name, command, {"nodeFieldSelector": "displayName=c"}), 409, "displayName=c"
        )
    finally:
        put(api, name, "terminate")


def test_commands_on_completed_workflows_are_conflicts(api: httpx.Client) -> None:
    name = create(api, workflow())["metadata"]["name"]
    wait_done(api, name)
    for command, body in (("set", {"nodeFieldSelector": "displayName=x", "phase": "Failed"}), ("resume", {})):
        assert_argo_error(put(api, name, command, body), 409, "completed")


def test_malformed_command_bodies_are_400(api: httpx.Client) -> None:
    response = api.put(f"{API}/whatever/retry", json={"restartSuccessful": "perhaps"})
    body = assert_argo_error(response, 400)
    assert body["details"][0]["field"] == "body.restartSuccessful"
    assert_argo_error(api.put(f"{API}/whatever/set", json={"nodeFieldSelector": 5}), 400, "nodeFieldSelector")
