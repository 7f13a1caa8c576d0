"""Hera (the Python SDK for Argo Workflows, from PyPI) against a real ``triggerfish server``.

Each workflow is built with Hera and created and waited on through Hera's own client; the same
manifest (Hera's ``to_dict()``) is then submitted directly as YAML over the REST API, and the two
runs must end alike: the workflow phase and, per node, its type, phase and outputs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from hera.workflows import (
    DAG,
    Container,
    Parameter,
    Steps,
    Workflow,
    WorkflowsService,
    WorkflowTemplate,
    models,
)

from tests.integration.hera_scripts import add
from tests.support.processes import HubServer, hub_servers, nodes_by_display_name
from workflow_runtime.executors.local import sandbox

pytestmark = pytest.mark.skipif(
    sandbox.isolation_problem() is not None, reason=f"no step isolation here: {sandbox.isolation_problem()}"
)

POLL_SECONDS = 1


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    with hub_servers(tmp_path_factory.mktemp("hera")) as make:
        yield make().start()


@pytest.fixture
def service(hub: HubServer) -> WorkflowsService:
    return WorkflowsService(host=hub.url, verify_ssl=False)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def outcome(document: dict[str, Any]) -> tuple[str, dict[str, tuple[Any, ...]]]:
    """The workflow phase and, per node display name, (type, phase, output parameters, result);
    the root node, named after the workflow, is keyed ``(workflow)``."""
    nodes = {}
    for name, node in nodes_by_display_name(document).items():
        outputs = node.get("outputs") or {}
        parameters = {p["name"]: p.get("value") for p in outputs.get("parameters") or []}
        key = "(workflow)" if name == document["metadata"]["name"] else name
        nodes[key] = (node["type"], node["phase"], parameters, outputs.get("result"))
    return document["status"]["phase"], nodes


def created_by_hera(workflow: Workflow) -> dict[str, Any]:
    finished = workflow.create(wait=True, poll_interval=POLL_SECONDS)
    assert finished.metadata.name
    document: dict[str, Any] = finished.model_dump(by_alias=True, exclude_none=True, mode="json")
    return document


def submitted_as_yaml(hub: HubServer, workflow: Workflow) -> dict[str, Any]:
    """The manifest Hera built, through YAML, posted as any Argo client would."""
    manifest = yaml.safe_load(workflow.to_yaml())
    manifest["metadata"] = {"generateName": manifest["metadata"]["generateName"]}
    name = hub.submit(manifest)["metadata"]["name"]
    return hub.wait_completed(name, 60)


def test_dag_with_parameters(hub: HubServer, service: WorkflowsService) -> None:
    echo = Container(
        name="echo",
        image="busybox",
        inputs=[Parameter(name="msg")],
        command=["sh", "-c", "echo {{inputs.parameters.msg}} | tee /tmp/out"],
        outputs=[Parameter(name="said", value_from=models.ValueFrom(path="/tmp/out"))],
    )
    with (
        Workflow(
            generate_name="hera-dag-",
            entrypoint="main",
            namespace="default",
            workflows_service=service,
            arguments=[Parameter(name="who", value="hera")],
            templates=[echo],
        ) as workflow,
        DAG(name="main"),
    ):
        first = echo(name="first", arguments={"msg": "hello {{workflow.parameters.who}}"})
        second = echo(name="second", arguments={"msg": "{{tasks.first.outputs.parameters.said}} again"})
        third = echo(name="third", arguments={"msg": "{{tasks.first.outputs.parameters.said}} too"})
        first >> [second, third]
    by_hera = created_by_hera(workflow)
    phase, nodes = outcome(by_hera)
    assert phase == "Succeeded"
    assert nodes["second"][2] == {"said": "hello hera again"}
    assert nodes["third"][2] == {"said": "hello hera too"}
    assert outcome(submitted_as_yaml(hub, workflow)) == (phase, nodes)


def test_script_template(hub: HubServer, service: WorkflowsService) -> None:
    with (
        Workflow(
            generate_name="hera-script-",
            entrypoint="main",
            namespace="default",
            workflows_service=service,
        ) as workflow,
        Steps(name="main"),
    ):
        add(name="sum", arguments={"a": 2, "b": 40})
    by_hera = created_by_hera(workflow)
    phase, nodes = outcome(by_hera)
    assert phase == "Succeeded"
    assert nodes["sum"][:2] == ("Pod", "Succeeded")
    name = by_hera["metadata"]["name"]
    logs = hub.client.get(f"/api/v1/workflows/default/{name}/log", params={"logOptions.container": "main"})
    assert logs.status_code == 200 and '"content":"42"' in logs.text.replace(" ", "")
    assert outcome(submitted_as_yaml(hub, workflow)) == (phase, nodes)


def test_workflow_template_submitted_by_reference(hub: HubServer, service: WorkflowsService) -> None:
    template_name = unique("hera-wt")
    with WorkflowTemplate(
        name=template_name,
        entrypoint="main",
        namespace="default",
        workflows_service=service,
        arguments=[Parameter(name="n", value="1")],
    ) as template:
        Container(
            name="main",
            image="busybox",
            command=["sh", "-c", "test {{workflow.parameters.n}} -lt 5"],
        )
    template.create()
    stored = hub.client.get(f"/api/v1/workflow-templates/default/{template_name}")
    assert stored.status_code == 200, stored.text

    def by_reference(n: str) -> Workflow:
        return Workflow(
            generate_name="hera-ref-",
            namespace="default",
            workflows_service=service,
            workflow_template_ref=models.WorkflowTemplateRef(name=template_name),
            arguments=[Parameter(name="n", value=n)],
        )

    ok = by_reference("3")
    phase, nodes = outcome(created_by_hera(ok))
    assert phase == "Succeeded"
    assert outcome(submitted_as_yaml(hub, ok)) == (phase, nodes)
    failing = by_reference("7")
    phase, nodes = outcome(created_by_hera(failing))
    assert phase == "Failed"
    assert outcome(submitted_as_yaml(hub, failing)) == (phase, nodes)
