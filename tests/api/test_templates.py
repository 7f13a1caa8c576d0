"""WorkflowTemplateService and ClusterWorkflowTemplateService over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import (
    NS,
    assert_argo_error,
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

WT = f"/api/v1/workflow-templates/{NS}"
CWT = "/api/v1/cluster-workflow-templates"


def template(name: str, text: str = "hello", kind: str = "WorkflowTemplate", **labels: str) -> dict[str, Any]:
    return workflow(name, kind=kind, templates=[echo("main", text)], labels=labels or None)


# ------------------------------------------------------------------------------------- namespaced


def test_create_get_list_update_delete(api: httpx.Client) -> None:
    name = unique("wt")
    created = ok(api.post(WT, json={"template": template(name, suite=name)}))
    meta = created["metadata"]
    assert (created["kind"], meta["name"], meta["namespace"]) == ("WorkflowTemplate", name, NS)
    assert meta["resourceVersion"] == "1" and meta["uid"] and meta["creationTimestamp"]

    fetched = ok(api.get(f"{WT}/{name}"))
    assert fetched == created

    listed = ok(api.get(WT, params={"listOptions.labelSelector": f"suite={name}"}))
    assert [i["metadata"]["name"] for i in listed["items"]] == [name]
    assert [i["metadata"]["name"] for i in ok(api.get(WT, params={"namePattern": name[3:]}))["items"]] == [
        name
    ]

    fetched["spec"]["templates"][0]["container"]["command"] = ["echo", "changed"]
    updated = ok(api.put(f"{WT}/{name}", json={"template": fetched}))
    assert updated["metadata"]["resourceVersion"] == "2"
    assert updated["metadata"]["uid"] == meta["uid"]
    assert updated["spec"]["templates"][0]["container"]["command"] == ["echo", "changed"]

    assert ok(api.delete(f"{WT}/{name}")) == {}
    assert_argo_error(api.get(f"{WT}/{name}"), 404, f'workflowtemplates.argoproj.io "{name}" not found')
    assert_argo_error(api.delete(f"{WT}/{name}"), 404)


def test_create_twice_is_a_conflict(api: httpx.Client) -> None:
    name = unique("twice")
    ok(api.post(WT, json={"template": template(name)}))
    assert_argo_error(
        api.post(WT, json={"template": template(name)}),
        409,
        f'workflowtemplates.argoproj.io "{name}" already exists',
    )


def test_create_with_generate_name(api: httpx.Client) -> None:
    manifest = template("x")
    manifest["metadata"] = {"generateName": "gen-"}
    created = ok(api.post(WT, json={"template": manifest}))
    assert created["metadata"]["name"].startswith("gen-")


def test_the_path_namespace_wins(api: httpx.Client) -> None:
    name = unique("ns")
    manifest = template(name)
    manifest["metadata"]["namespace"] = "elsewhere"
    assert ok(api.post(WT, json={"template": manifest}))["metadata"]["namespace"] == NS
    assert_argo_error(api.get(f"/api/v1/workflow-templates/elsewhere/{name}"), 404)


def test_invalid_template_is_400_with_details(api: httpx.Client) -> None:
    manifest = workflow(
        unique("bad"),
        kind="WorkflowTemplate",
        templates=[{"name": "main", "steps": [[{"name": "a", "template": "nope"}]]}],
    )
    body = assert_argo_error(api.post(WT, json={"template": manifest}), 400, "nope")
    assert body["details"][0]["field"] == "spec.templates[0].steps[0][0].template"
    assert_argo_error(api.get(f"{WT}/{manifest['metadata']['name']}"), 404)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "body.template"),
        ({"template": []}, "body.template"),
        ({"template": {"kind": "Workflow", "spec": {}}}, "kind"),
        ({"template": {"metadata": {}, "spec": {"templates": []}}}, "metadata.name"),
        ({"template": {"metadata": "x"}}, "metadata"),
    ],
)
def test_malformed_bodies_are_400(api: httpx.Client, body: dict[str, Any], fragment: str) -> None:
    assert_argo_error(api.post(WT, json=body), 400, fragment)


def test_update_errors(api: httpx.Client) -> None:
    assert_argo_error(api.put(f"{WT}/no-such", json={"template": template("no-such")}), 404)
    name = unique("upd")
    created = ok(api.post(WT, json={"template": template(name)}))
    assert_argo_error(
        api.put(f"{WT}/{name}", json={"template": template("other-name")}), 400, "metadata.name"
    )
    unchanged = ok(api.put(f"{WT}/{name}", json={"template": created}))
    assert unchanged["metadata"]["resourceVersion"] == "1", "an update that changes nothing is no new version"
    created["spec"]["templates"][0]["container"]["command"] = ["echo", "v2"]
    ok(api.put(f"{WT}/{name}", json={"template": created}))  # resourceVersion 1 → 2
    stale = api.put(f"{WT}/{name}", json={"template": created})  # still says 1
    assert_argo_error(stale, 409, "the object has been modified")
    without_version = template(name, "again")
    assert (
        ok(api.put(f"{WT}/{name}", json={"template": without_version}))["metadata"]["resourceVersion"] == "3"
    )


def test_lint(api: httpx.Client) -> None:
    name = unique("lint")
    linted = ok(api.post(f"{WT}/lint", json={"template": template(name)}))
    assert linted["metadata"]["name"] == name
    assert_argo_error(api.get(f"{WT}/{name}"), 404)
    bad = workflow(name, kind="WorkflowTemplate", templates=[echo("main")], entrypoint="missing")
    body = assert_argo_error(api.post(f"{WT}/lint", json={"template": bad}), 400)
    assert body["details"][0]["field"] == "spec.entrypoint"


def test_a_workflow_runs_a_stored_template_by_reference(api: httpx.Client) -> None:
    name = unique("ref")
    ok(api.post(WT, json={"template": template(name, "referenced")}))
    steps = [
        {"name": "main", "steps": [[{"name": "call", "templateRef": {"name": name, "template": "main"}}]]}
    ]
    done = wait_done(api, create(api, workflow(templates=steps))["metadata"]["name"])
    assert done["status"]["phase"] == "Succeeded"
    assert nodes_named(done)["call"]["phase"] == "Succeeded"


# ------------------------------------------------------------------------------------- cluster scoped


def test_cluster_template_lifecycle(api: httpx.Client) -> None:
    name = unique("cwt")
    created = ok(api.post(CWT, json={"template": template(name, kind="ClusterWorkflowTemplate", suite=name)}))
    assert created["kind"] == "ClusterWorkflowTemplate"
    assert "namespace" not in created["metadata"]
    assert ok(api.get(f"{CWT}/{name}"))["metadata"]["uid"] == created["metadata"]["uid"]
    listed = ok(api.get(CWT, params={"listOptions.labelSelector": f"suite={name}"}))["items"]
    assert [i["metadata"]["name"] for i in listed] == [name]
    assert_argo_error(api.post(CWT, json={"template": template(name, kind="ClusterWorkflowTemplate")}), 409)

    steps = [
        {
            "name": "main",
            "steps": [
                [{"name": "call", "templateRef": {"name": name, "template": "main", "clusterScope": True}}]
            ],
        }
    ]
    done = wait_done(api, create(api, workflow(templates=steps))["metadata"]["name"])
    assert done["status"]["phase"] == "Succeeded"

    updated = ok(
        api.put(f"{CWT}/{name}", json={"template": template(name, "v2", kind="ClusterWorkflowTemplate")})
    )
    assert updated["metadata"]["resourceVersion"] == "2"
    ok(api.post(f"{CWT}/lint", json={"template": template(unique("lint"), kind="ClusterWorkflowTemplate")}))
    assert ok(api.delete(f"{CWT}/{name}")) == {}
    assert_argo_error(
        api.get(f"{CWT}/{name}"), 404, f'clusterworkflowtemplates.argoproj.io "{name}" not found'
    )


def test_a_namespaced_template_is_not_a_cluster_template(api: httpx.Client) -> None:
    name = unique("wrong-kind")
    assert_argo_error(api.post(CWT, json={"template": template(name)}), 400, "kind")
