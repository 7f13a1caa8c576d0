"""``/api/v1/workflows`` over real HTTP: a ``triggerfish server`` subprocess, as Argo clients see it.

One hub (the ``hub`` fixture of ``tests/api/conftest.py``) serves the whole module; each test uses
its own workflow names and labels. The hub and its executor agent are killed when the module ends.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.api.conftest import NS, create, get, requires_isolation, unique, wait_done, wait_node
from tests.support.processes import nodes_by_display_name

pytestmark = requires_isolation

API = "/api/v1/workflows"


def workflow(
    name: str | None = None,
    *,
    labels: dict[str, str] | None = None,
    templates: list[dict[str, Any]] | None = None,
    entrypoint: str = "main",
    **spec: Any,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name} if name else {"generateName": "api-"}
    if labels:
        metadata["labels"] = labels
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": metadata,
        "spec": {
            "entrypoint": entrypoint,
            "templates": templates or [echo("main")],
            **spec,
        },
    }


def echo(name: str, text: str = "hello") -> dict[str, Any]:
    return {"name": name, "container": {"image": "busybox", "command": ["echo", text]}}


def sleeper(name: str, seconds: float) -> dict[str, Any]:
    return {"name": name, "container": {"image": "busybox", "command": ["sleep", str(seconds)]}}


def two_steps(first: str = "slow", then: str = "quick") -> dict[str, Any]:
    return {
        "name": "main",
        "steps": [[{"name": "a", "template": first}], [{"name": "b", "template": then}]],
    }


def list_names(api: httpx.Client, **params: str | int) -> tuple[list[str], dict[str, Any]]:
    response = api.get(f"{API}/{NS}", params={f"listOptions.{k}": v for k, v in params.items()})
    assert response.status_code == 200, response.text
    body = response.json()
    return [item["metadata"]["name"] for item in body["items"] or []], body["metadata"]


def assert_argo_error(response: httpx.Response, status: int, code: int, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    for fragment in fragments:
        assert fragment in body["message"], body
    return body


# ------------------------------------------------------------------------------------- health


def test_health_and_readiness(api: httpx.Client) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ready"}


# ------------------------------------------------------------------------------------- create, get


def test_create_returns_the_workflow_as_argo_does(api: httpx.Client) -> None:
    label = unique("create")
    body = create(api, workflow(labels={"suite": label}))

    assert (body["apiVersion"], body["kind"]) == ("argoproj.io/v1alpha1", "Workflow")
    meta = body["metadata"]
    assert meta["name"].startswith("api-") and len(meta["name"]) == len("api-") + 5
    assert meta["generateName"] == "api-"
    assert meta["namespace"] == NS
    assert meta["uid"] and meta["creationTimestamp"] and meta["resourceVersion"]
    assert meta["labels"]["suite"] == label
    assert body["spec"]["entrypoint"] == "main"
    assert body["status"]["phase"] in ("Pending", "Running")

    done = wait_done(api, meta["name"])
    assert done["metadata"]["uid"] == meta["uid"]
    assert done["metadata"]["labels"]["workflows.argoproj.io/phase"] == "Succeeded"
    status = done["status"]
    assert status["phase"] == "Succeeded"
    assert status["startedAt"] and status["finishedAt"]
    assert status["progress"] == "1/1"
    root = status["nodes"][meta["name"]]
    assert (root["type"], root["phase"], root["templateName"]) == ("Pod", "Succeeded", "main")


def test_create_with_a_fixed_name_keeps_it(api: httpx.Client) -> None:
    name = unique("fixed")
    assert create(api, workflow(name))["metadata"]["name"] == name
    assert wait_done(api, name)["status"]["phase"] == "Succeeded"


def test_create_with_an_existing_name_is_a_conflict(api: httpx.Client) -> None:
    name = unique("twice")
    create(api, workflow(name))
    response = api.post(f"{API}/{NS}", json={"workflow": workflow(name)})
    assert_argo_error(response, 409, 6, "already exists")


def test_server_dry_run_validates_without_creating(api: httpx.Client) -> None:
    label = unique("dry")
    response = api.post(
        f"{API}/{NS}", json={"workflow": workflow(labels={"suite": label}), "serverDryRun": True}
    )
    assert response.status_code == 200, response.text
    assert response.json()["metadata"]["name"].startswith("api-")
    assert list_names(api, labelSelector=f"suite={label}")[0] == []
    missing = api.get(f"{API}/{NS}/{response.json()['metadata']['name']}")
    assert missing.status_code == 404


def test_get_unknown_workflow_is_argo_not_found(api: httpx.Client) -> None:
    response = api.get(f"{API}/{NS}/no-such-workflow")
    body = assert_argo_error(response, 404, 5)
    assert body["message"] == 'workflows.argoproj.io "no-such-workflow" not found'


# ------------------------------------------------------------------------------------- invalid manifests


def test_unknown_template_is_400_with_field_details(api: httpx.Client) -> None:
    manifest = workflow(templates=[{"name": "main", "steps": [[{"name": "a", "template": "nope"}]]}])
    body = assert_argo_error(api.post(f"{API}/{NS}", json={"workflow": manifest}), 400, 3, "'nope' undefined")
    fields = {d["field"]: d["reason"] for d in body["details"]}
    assert "template name 'nope' undefined" in fields["spec.templates[0].steps[0][0].template"]


def test_dag_cycle_is_400_with_field_details(api: httpx.Client) -> None:
    tasks = [
        {"name": "x", "template": "e", "depends": "y"},
        {"name": "y", "template": "e", "depends": "x"},
    ]
    manifest = workflow(templates=[{"name": "main", "dag": {"tasks": tasks}}, echo("e")])
    body = assert_argo_error(api.post(f"{API}/{NS}", json={"workflow": manifest}), 400, 3, "cycle")
    assert any(
        d["field"].startswith("spec.templates[0].dag.tasks[") and "dependency cycle detected" in d["reason"]
        for d in body["details"]
    ), body


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"workflow": "not an object"}, "body.workflow"),
        ({"namespace": "default"}, "body.workflow"),
        (
            {"workflow": {**workflow(), "spec": {"entrypoint": "main", "templates": "no list"}}},
            "spec.templates",
        ),
        (
            {"workflow": workflow(templates=[{**echo("main"), "containr": {"image": "busybox"}}])},
            "spec.templates[0].containr",
        ),
    ],
    ids=["workflow-not-an-object", "no-workflow", "templates-not-a-list", "unknown-field"],
)
def test_malformed_body_is_400_naming_the_field(
    api: httpx.Client, request_body: dict[str, Any], field: str
) -> None:
    before = list_names(api)[0]
    body = assert_argo_error(api.post(f"{API}/{NS}", json=request_body), 400, 3)
    assert field in [d["field"] for d in body.get("details") or []], body
    assert list_names(api)[0] == before, "nothing may be created"


def test_body_that_is_not_json_is_400(api: httpx.Client) -> None:
    response = api.post(f"{API}/{NS}", content=b"{not json", headers={"content-type": "application/json"})
    assert_argo_error(response, 400, 3)


# ------------------------------------------------------------------------------------- list


def test_list_by_label_with_limit_and_continue(api: httpx.Client) -> None:
    label = unique("page")
    names = [
        create(api, workflow(labels={"suite": label, "n": str(i)}))["metadata"]["name"] for i in range(3)
    ]
    create(api, workflow(labels={"suite": unique("other")}))

    everything, meta = list_names(api, labelSelector=f"suite={label}")
    assert sorted(everything) == sorted(names)
    assert everything == list(reversed(names)), "newest first"
    assert not meta.get("continue")

    first, meta = list_names(api, labelSelector=f"suite={label}", limit=2)
    assert first == everything[:2]
    assert meta.get("continue")
    second, meta = list_names(api, labelSelector=f"suite={label}", limit=2, **{"continue": meta["continue"]})
    assert second == everything[2:]
    assert not meta.get("continue")

    both, _ = list_names(api, labelSelector=f"suite={label},n=1")
    assert both == [names[1]]
    assert list_names(api, labelSelector=f"suite={label},n=9")[0] == []


def test_list_items_carry_status_without_nodes(api: httpx.Client) -> None:
    label = unique("items")
    name = create(api, workflow(labels={"suite": label}))["metadata"]["name"]
    wait_done(api, name)
    response = api.get(f"{API}/{NS}", params={"listOptions.labelSelector": f"suite={label}"})
    (item,) = response.json()["items"]
    assert item["metadata"]["name"] == name
    assert item["status"]["phase"] == "Succeeded"


def test_malformed_label_selector_is_400(api: httpx.Client) -> None:
    response = api.get(f"{API}/{NS}", params={"listOptions.labelSelector": "suite in red"})
    assert_argo_error(response, 400, 3, "suite in red")


def test_label_selector_not_equal(api: httpx.Client) -> None:
    label = unique("neq")
    keep = create(api, workflow(labels={"suite": label, "colour": "red"}))["metadata"]["name"]
    create(api, workflow(labels={"suite": label, "colour": "blue"}))
    assert list_names(api, labelSelector=f"suite={label},colour!=blue")[0] == [keep]


def test_label_selector_on_the_phase_label(api: httpx.Client) -> None:
    label = unique("phase")
    name = create(api, workflow(labels={"suite": label}))["metadata"]["name"]
    wait_done(api, name)
    selector = f"suite={label},workflows.argoproj.io/phase=Succeeded"
    assert list_names(api, labelSelector=selector)[0] == [name]


# ------------------------------------------------------------------------------------- lifecycle


def test_suspend_holds_new_steps_until_resume(api: httpx.Client) -> None:
    name = unique("suspend")
    create(api, workflow(name, templates=[two_steps(), sleeper("slow", 1.5), echo("quick")]))
    wait_node(api, name, "a", "Running")

    response = api.put(f"{API}/{NS}/{name}/suspend")
    assert response.status_code == 200, response.text
    assert response.json()["metadata"]["name"] == name

    wait_node(api, name, "a", "Succeeded")
    time.sleep(1.0)  # b would have started by now
    held = get(api, name)
    assert held["status"]["phase"] == "Running"
    assert "b" not in nodes_by_display_name(held), "a suspended workflow must not start new steps"

    response = api.put(f"{API}/{NS}/{name}/resume")
    assert response.status_code == 200, response.text
    done = wait_done(api, name)
    assert done["status"]["phase"] == "Succeeded"
    assert nodes_by_display_name(done)["b"]["phase"] == "Succeeded"


def test_suspend_is_reflected_in_spec(api: httpx.Client) -> None:
    name = unique("suspended")
    create(api, workflow(name, templates=[two_steps(), sleeper("slow", 30), echo("quick")]))
    wait_node(api, name, "a", "Running")
    try:
        assert api.put(f"{API}/{NS}/{name}/suspend").status_code == 200
        assert get(api, name)["spec"].get("suspend") is True
    finally:
        api.put(f"{API}/{NS}/{name}/terminate")


def test_terminate_kills_running_steps_and_fails_the_workflow(api: httpx.Client) -> None:
    name = unique("terminate")
    manifest = workflow(name, templates=[two_steps(), sleeper("slow", 30), echo("quick")], onExit="quick")
    create(api, manifest)
    wait_node(api, name, "a", "Running")

    started = time.monotonic()
    response = api.put(f"{API}/{NS}/{name}/terminate")
    assert response.status_code == 200, response.text
    done = wait_done(api, name, timeout=15)

    assert time.monotonic() - started < 10, "the 30 s step must be killed, not awaited"
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["message"] == "Stopped with strategy 'Terminate'"
    nodes = nodes_by_display_name(done)
    assert nodes["a"]["phase"] == "Failed"
    assert nodes["a"]["message"] == "workflow shutdown with strategy:  Terminate"
    assert "b" not in nodes
    assert f"{name}.onExit" not in nodes, "Terminate runs no exit handler"


def test_stop_kills_running_steps_but_runs_the_exit_handler(api: httpx.Client) -> None:
    name = unique("stop")
    manifest = workflow(name, templates=[two_steps(), sleeper("slow", 30), echo("quick")], onExit="quick")
    create(api, manifest)
    wait_node(api, name, "a", "Running")

    response = api.put(f"{API}/{NS}/{name}/stop")
    assert response.status_code == 200, response.text
    done = wait_done(api, name, timeout=15)

    assert done["status"]["phase"] == "Failed"
    assert done["status"]["message"] == "Stopped with strategy 'Stop'"
    nodes = nodes_by_display_name(done)
    assert nodes["a"]["phase"] == "Failed"
    assert "b" not in nodes
    assert nodes[f"{name}.onExit"]["phase"] == "Succeeded"


def test_terminate_is_reflected_in_spec(api: httpx.Client) -> None:
    name = unique("shutdown")
    create(api, workflow(name, templates=[two_steps(), sleeper("slow", 30), echo("quick")]))
    wait_node(api, name, "a", "Running")
    assert api.put(f"{API}/{NS}/{name}/terminate").status_code == 200
    assert wait_done(api, name, timeout=15)["spec"].get("shutdown") == "Terminate"


@pytest.mark.parametrize("command", ["stop", "terminate", "suspend", "resume"])
def test_commands_on_a_completed_workflow_are_conflicts(api: httpx.Client, command: str) -> None:
    name = unique(f"done-{command}")
    create(api, workflow(name))
    wait_done(api, name)
    response = api.put(f"{API}/{NS}/{name}/{command}")
    assert_argo_error(response, 409, 6, "completed", name)
    assert get(api, name)["status"]["phase"] == "Succeeded"


@pytest.mark.parametrize("command", ["stop", "terminate", "suspend", "resume"])
def test_commands_on_an_unknown_workflow_are_not_found(api: httpx.Client, command: str) -> None:
    response = api.put(f"{API}/{NS}/no-such-workflow/{command}")
    assert_argo_error(response, 404, 5, "no-such-workflow")


# ------------------------------------------------------------------------------------- delete


def test_delete_a_completed_workflow(api: httpx.Client) -> None:
    name = unique("delete")
    create(api, workflow(name, labels={"suite": name}))
    wait_done(api, name)

    response = api.delete(f"{API}/{NS}/{name}")
    assert response.status_code == 200, response.text
    assert response.json() == {}
    assert_argo_error(api.get(f"{API}/{NS}/{name}"), 404, 5)
    assert list_names(api, labelSelector=f"suite={name}")[0] == []
    assert_argo_error(api.delete(f"{API}/{NS}/{name}"), 404, 5)


def test_delete_a_running_workflow_stops_it(api: httpx.Client) -> None:
    name = unique("delete-running")
    create(api, workflow(name, templates=[two_steps(), sleeper("slow", 30), echo("quick")]))
    wait_node(api, name, "a", "Running")

    started = time.monotonic()
    response = api.delete(f"{API}/{NS}/{name}")
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < 10, "the running step must be killed, not awaited"
    assert_argo_error(api.get(f"{API}/{NS}/{name}"), 404, 5)


def test_namespaces_are_separate(api: httpx.Client) -> None:
    name = unique("ns")
    response = api.post(f"{API}/elsewhere", json={"workflow": workflow(name)})
    assert response.status_code == 200, response.text
    assert response.json()["metadata"]["namespace"] == "elsewhere"
    assert api.get(f"{API}/{NS}/{name}").status_code == 404
    assert api.get(f"{API}/elsewhere/{name}").status_code == 200
    assert name not in list_names(api)[0]
