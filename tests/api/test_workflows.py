"""WorkflowService over real HTTP: lint, submit from stored templates and CronWorkflows, list
options; and InfoService (version, info, userinfo)."""

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
    nodes_named,
    ok,
    requires_isolation,
    unique,
    wait_done,
    workflow,
)

pytestmark = requires_isolation

API = "/api/v1/workflows"


def greeting_template(name: str, kind: str = "WorkflowTemplate") -> dict[str, Any]:
    template = workflow(
        name,
        kind=kind,
        templates=[
            {
                "name": "main",
                "inputs": {"parameters": [{"name": "msg"}]},
                "container": {"image": "busybox", "command": ["echo", "{{inputs.parameters.msg}}"]},
            },
            echo("other", "from the other entrypoint"),
        ],
        arguments={"parameters": [{"name": "msg", "value": "default greeting"}]},
        workflowMetadata={"labels": {"from-template": "yes"}},
    )
    template["spec"]["templates"][0]["inputs"]["parameters"][0]["value"] = "{{workflow.parameters.msg}}"
    return template


def submit(api: httpx.Client, kind: str, resource: str, **options: Any) -> httpx.Response:
    body = {"resourceKind": kind, "resourceName": resource, "submitOptions": options}
    return api.post(f"{API}/{NS}/submit", json=body)


def parameter(document: dict[str, Any], name: str) -> str | None:
    for param in document["spec"].get("arguments", {}).get("parameters", []):
        if param["name"] == name:
            return str(param.get("value"))
    return None


# ------------------------------------------------------------------------------------- info


def test_version_is_argo_shaped(api: httpx.Client) -> None:
    version = ok(api.get("/api/v1/version"))
    assert version["version"].startswith("v")
    assert set(version) >= {
        "version",
        "buildDate",
        "gitCommit",
        "gitTag",
        "gitTreeState",
        "goVersion",
        "platform",
    }


def test_info_and_userinfo(api: httpx.Client) -> None:
    info = ok(api.get("/api/v1/info"))
    assert info["links"] == [] and "modals" in info
    assert ok(api.get("/api/v1/userinfo")) == {"subject": "anonymous"}


def test_unknown_api_path_is_argo_not_found(api: httpx.Client) -> None:
    assert_argo_error(api.get("/api/v1/no-such-service"), 404)


# ------------------------------------------------------------------------------------- lint


def test_lint_returns_the_workflow_and_creates_nothing(api: httpx.Client) -> None:
    name = unique("lint")
    linted = ok(api.post(f"{API}/{NS}/lint", json={"workflow": workflow(name)}))
    assert linted["metadata"]["name"] == name
    assert linted["spec"]["entrypoint"] == "main"
    assert_argo_error(api.get(f"{API}/{NS}/{name}"), 404)


def test_lint_reports_every_problem_by_field(api: httpx.Client) -> None:
    manifest = workflow(
        templates=[{"name": "main", "steps": [[{"name": "a", "template": "nope"}]]}], entrypoint="missing"
    )
    body = assert_argo_error(api.post(f"{API}/{NS}/lint", json={"workflow": manifest}), 400)
    fields = {d["field"] for d in body["details"]}
    assert "spec.entrypoint" in fields
    assert "spec.templates[0].steps[0][0].template" in fields


def test_lint_checks_references_to_stored_templates(api: httpx.Client) -> None:
    manifest = workflow(workflowTemplateRef={"name": "no-such-template"}, templates=[])
    del manifest["spec"]["entrypoint"], manifest["spec"]["templates"]
    assert_argo_error(api.post(f"{API}/{NS}/lint", json={"workflow": manifest}), 400, "no-such-template")


def test_create_without_api_version_and_kind(api: httpx.Client) -> None:
    manifest = workflow(unique("headerless"))
    del manifest["apiVersion"], manifest["kind"]
    created = create(api, manifest)
    assert created["kind"] == "Workflow"
    assert wait_done(api, created["metadata"]["name"])["status"]["phase"] == "Succeeded"


# ------------------------------------------------------------------------------------- submit


@pytest.fixture(scope="module")
def stored_template(hub: Any) -> str:
    name = unique("greet")
    ok(hub.client.post(f"/api/v1/workflow-templates/{NS}", json={"template": greeting_template(name)}))
    return name


def test_submit_from_a_workflow_template(api: httpx.Client, stored_template: str) -> None:
    created = ok(
        submit(api, "WorkflowTemplate", stored_template, parameters=["msg=hi there"], labels="suite=wt,x=y")
    )
    meta = created["metadata"]
    assert meta["generateName"] == f"{stored_template}-" and meta["name"].startswith(f"{stored_template}-")
    assert meta["labels"]["workflows.argoproj.io/workflow-template"] == stored_template
    assert meta["labels"]["suite"] == "wt" and meta["labels"]["x"] == "y"
    assert meta["labels"]["from-template"] == "yes", "the template's workflowMetadata applies"
    assert created["spec"]["workflowTemplateRef"] == {"name": stored_template}

    done = wait_done(api, meta["name"])
    assert done["status"]["phase"] == "Succeeded"
    assert parameter(done, "msg") == "hi there"
    assert nodes_named(done)[meta["name"]]["inputs"]["parameters"][0]["value"] == "hi there"


def test_submit_with_entrypoint_and_name(api: httpx.Client, stored_template: str) -> None:
    name = unique("named")
    created = ok(submit(api, "workflowtemplates", stored_template, entryPoint="other", name=name))
    assert created["metadata"]["name"] == name
    done = wait_done(api, name)
    assert done["status"]["phase"] == "Succeeded"
    assert nodes_named(done)[name]["templateName"] == "other"


def test_submit_server_dry_run_creates_nothing(api: httpx.Client, stored_template: str) -> None:
    name = unique("dry")
    prepared = ok(submit(api, "WorkflowTemplate", stored_template, name=name, serverDryRun=True))
    assert prepared["metadata"]["name"] == name
    assert_argo_error(api.get(f"{API}/{NS}/{name}"), 404)


def test_submit_from_a_cluster_workflow_template(api: httpx.Client) -> None:
    name = unique("cluster-greet")
    ok(
        api.post(
            "/api/v1/cluster-workflow-templates",
            json={"template": greeting_template(name, "ClusterWorkflowTemplate")},
        )
    )
    created = ok(submit(api, "ClusterWorkflowTemplate", name, parameters=["msg=cluster"]))
    assert created["spec"]["workflowTemplateRef"] == {"name": name, "clusterScope": True}
    assert created["metadata"]["labels"]["workflows.argoproj.io/cluster-workflow-template"] == name
    done = wait_done(api, created["metadata"]["name"])
    assert done["status"]["phase"] == "Succeeded"
    assert parameter(done, "msg") == "cluster"


def test_submit_from_a_cron_workflow(api: httpx.Client) -> None:
    name = unique("cron-src")
    cron = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": name},
        "spec": {
            "schedules": ["0 0 1 1 *"],
            "workflowSpec": {"entrypoint": "main", "templates": [echo("main")]},
            "workflowMetadata": {"annotations": {"note": "from cron"}},
        },
    }
    ok(api.post(f"/api/v1/cron-workflows/{NS}", json={"cronWorkflow": cron}))
    created = ok(submit(api, "CronWorkflow", name, annotations="extra=1"))
    assert created["metadata"]["labels"]["workflows.argoproj.io/cron-workflow"] == name
    assert created["metadata"]["annotations"] == {"note": "from cron", "extra": "1"}
    assert wait_done(api, created["metadata"]["name"])["status"]["phase"] == "Succeeded"


def test_submit_errors(api: httpx.Client, stored_template: str) -> None:
    assert_argo_error(submit(api, "Pod", "x"), 400, "resourceKind")
    assert_argo_error(
        submit(api, "WorkflowTemplate", "no-such-template"),
        404,
        'workflowtemplates.argoproj.io "no-such-template" not found',
    )
    assert_argo_error(submit(api, "CronWorkflow", "nope"), 404, "cronworkflows.argoproj.io")
    assert_argo_error(
        submit(api, "WorkflowTemplate", stored_template, parameters=["no-equals"]),
        400,
        "submitOptions.parameters",
    )
    assert_argo_error(
        submit(api, "WorkflowTemplate", stored_template, labels="a"), 400, "submitOptions.labels"
    )
    body = assert_argo_error(submit(api, "WorkflowTemplate", stored_template, entryPoint="missing"), 400)
    assert body["details"][0]["field"] == "spec.entrypoint"
    missing = api.post(f"{API}/{NS}/submit", json={"resourceName": stored_template})
    assert "body.resourceKind" in [d["field"] for d in assert_argo_error(missing, 400)["details"]]


# ------------------------------------------------------------------------------------- list options


def names_of(response: httpx.Response) -> list[str]:
    return [item["metadata"]["name"] for item in ok(response)["items"]]


def test_list_by_field_selector(api: httpx.Client) -> None:
    label = unique("fields")
    first, second = (create(api, workflow(labels={"suite": label}))["metadata"]["name"] for _ in range(2))
    params = {"listOptions.labelSelector": f"suite={label}"}
    only = {**params, "listOptions.fieldSelector": f"metadata.name={first}"}
    assert names_of(api.get(f"{API}/{NS}", params=only)) == [first]
    others = {**params, "listOptions.fieldSelector": f"metadata.name!={first},metadata.namespace={NS}"}
    assert names_of(api.get(f"{API}/{NS}", params=others)) == [second]


def test_list_remaining_item_count(api: httpx.Client) -> None:
    label = unique("remaining")
    for _ in range(3):
        create(api, workflow(labels={"suite": label}))
    params = {
        "listOptions.labelSelector": f"suite={label}",
        "listOptions.limit": 1,
        "listOptions.fieldSelector": "ext.showRemainingItemCount=true",
    }
    metadata = ok(api.get(f"{API}/{NS}", params=params))["metadata"]
    assert metadata == {"continue": "1", "remainingItemCount": 2}


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("fieldSelector", "status.phase=Running", "unsupported requirement"),
        ("fieldSelector", "metadata.name", "invalid field selector"),
        ("continue", "abc", "listOptions.continue"),
        ("continue", "-1", "listOptions.continue"),
        ("labelSelector", "a in b", "listOptions.labelSelector"),
    ],
)
def test_malformed_list_options_are_400(api: httpx.Client, option: str, value: str, fragment: str) -> None:
    assert_argo_error(api.get(f"{API}/{NS}", params={f"listOptions.{option}": value}), 400, fragment)


def test_negative_limit_is_400(api: httpx.Client) -> None:
    body = assert_argo_error(api.get(f"{API}/{NS}", params={"listOptions.limit": -1}), 400)
    assert body["details"][0]["field"] == "query.listOptions.limit"


def test_fields_parameter_is_accepted(api: httpx.Client) -> None:
    ok(api.get(f"{API}/{NS}", params={"fields": "items.metadata.name"}))
    name = create(api, workflow())["metadata"]["name"]
    ok(api.get(f"{API}/{NS}/{name}", params={"fields": "-status.nodes"}))


def test_list_in_all_namespaces(api: httpx.Client) -> None:
    label = unique("everywhere")
    here = create(api, workflow(labels={"suite": label}))["metadata"]["name"]
    there = create(api, workflow(labels={"suite": label}), namespace="elsewhere")["metadata"]["name"]
    everywhere = names_of(api.get(f"{API}/", params={"listOptions.labelSelector": f"suite={label}"}))
    assert sorted(everywhere) == sorted([here, there])
    assert names_of(api.get(f"{API}/{NS}", params={"listOptions.labelSelector": f"suite={label}"})) == [here]


def test_delete_returns_empty_and_is_not_found_after(api: httpx.Client) -> None:
    name = create(api, workflow(unique("gone"), templates=[container("main", "sleep", "30")]))["metadata"][
        "name"
    ]
    assert ok(api.delete(f"{API}/{NS}/{name}")) == {}
    assert_argo_error(api.delete(f"{API}/{NS}/{name}"), 404, f'workflows.argoproj.io "{name}" not found')
