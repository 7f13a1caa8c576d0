"""Parameters and variables: inputs, defaults, enums, missing inputs, -p overrides, global and
local variables, templateDefaults, templateRef and workflowTemplateRef."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.fake_executor import FakeExecutor
from workflow_runtime.controller.controller import Controller, SubmitOptions
from workflow_runtime.controller.names import pod_name
from workflow_runtime.spec.errors import ManifestError

from .helpers import manifest, nid, run, start


async def test_input_sources(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  steps:
  - - {name: from-default, template: t}
    - name: from-arg
      template: t
      arguments: {parameters: [{name: a, value: arg}, {name: fixed, value: over}]}
- name: t
  inputs:
    parameters:
    - {name: a, default: dflt}
    - {name: fixed, value: hard}
    - {name: g, default: "{{workflow.name}}-x"}
  container:
    image: argosay
    args: [echo, "{{inputs.parameters.a}}/{{inputs.parameters.fixed}}/{{inputs.parameters.g}}"]
""",
    )
    assert r.printed("wf[0].from-default") == "dflt/hard/wf-x"
    # §14: an argument value overrides even a hard-coded input value
    assert r.printed("wf[0].from-arg") == "arg/over/wf-x"
    assert r.node("wf[0].from-arg").inputs == {
        "parameters": [
            {"name": "a", "default": "dflt", "value": "arg"},
            {"name": "fixed", "value": "over"},
            {"name": "g", "default": "wf-x", "value": "wf-x"},
        ]
    }


async def test_input_enum_not_enforced_at_runtime(controller: Controller) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  steps:
  - - {name: a, template: t, arguments: {parameters: [{name: x, value: z}]}}
- name: t
  inputs: {parameters: [{name: x, enum: [a, b]}]}
  container: {image: argosay, args: [echo, "{{inputs.parameters.x}}"]}
""",
    )
    # §14: "Enums are not enforced at runtime for template inputs."
    assert r.phase_of("wf[0].a") == "Succeeded"


@pytest.mark.parametrize(
    ("options", "spec_value"),
    [(None, "c"), (SubmitOptions(parameters={"x": "c"}), "a")],
)
async def test_argument_enum_violation_is_rejected(
    controller: Controller, options: SubmitOptions | None, spec_value: str
) -> None:
    text = f"""
arguments: {{parameters: [{{name: x, value: {spec_value}, enum: [a, b]}}]}}
templates:
- name: main
  container: {{image: argosay, args: [echo, "{{{{workflow.parameters.x}}}}"]}}
"""
    with pytest.raises(ManifestError) as caught:
        await controller.submit(manifest(text), options)
    assert "spec.arguments.x.value should be present in spec.arguments.x.enum list" in str(caught.value)


NEEDS = """
- name: needs
  inputs: {parameters: [{name: x}]}
  container: {image: argosay, args: [echo, "{{inputs.parameters.x}}"]}
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "templates:\n- name: main\n  steps:\n  - - {name: a, template: needs}\n" + NEEDS,
            "templates.main.steps[0].a templates.needs inputs.parameters.x was not supplied",
        ),
        (
            "templates:\n- name: main\n  dag:\n    tasks:\n    - {name: a, template: needs}\n" + NEEDS,
            "templates.main.tasks.a templates.needs inputs.parameters.x was not supplied",
        ),
        ("entrypoint: needs\ntemplates:" + NEEDS, "inputs.parameters.x was not supplied"),
    ],
)
async def test_missing_argument_is_rejected_at_submit(
    controller: Controller, text: str, message: str
) -> None:
    # §13: ProcessArgs runs at lint with the real arguments, so a missing input never reaches a run
    with pytest.raises(ManifestError) as caught:
        await controller.submit(manifest(text, leaves=False))
    assert message in str(caught.value)


@pytest.mark.parametrize("kind", ["steps", "dag"])
async def test_missing_argument_at_runtime_is_error_node(
    controller: Controller, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # bypass lint to see the controller's own ProcessArgs error (§14)
    monkeypatch.setattr("workflow_runtime.controller.controller.validate_workflow", lambda *a, **k: [])
    if kind == "steps":
        body = "  steps:\n  - - {name: a, template: needs}\n    - {name: b, template: echo}\n"
        node = "wf[0].a"
    else:
        body = "  dag:\n    tasks:\n    - {name: a, template: needs}\n    - {name: b, template: echo}\n"
        node = "wf.a"
    r = await run(controller, "templates:\n- name: main\n" + body + NEEDS)
    message = "inputs.parameters.x was not supplied"
    assert r.summary(node) == ("Skipped", "Error", message)
    if kind == "steps":
        group = f"step group deemed errored due to child wf[0].a error: {message}"
        assert r.summary("wf[0]") == ("StepGroup", "Error", group)
        assert r.phase_of("wf[0].b") == "Succeeded"
        assert (r.phase, r.message) == ("Failed", group)
    else:
        assert r.phase_of("wf.b") == "Succeeded"
        assert r.phase == "Error"


async def test_submit_parameters_replace_and_add(controller: Controller) -> None:
    r = await run(
        controller,
        """
arguments: {parameters: [{name: x, value: old}, {name: y, value: keep}]}
templates:
- name: main
  inputs: {parameters: [{name: x}, {name: y}, {name: z}]}
  container:
    image: argosay
    args:
    - echo
    - "{{inputs.parameters.x}} {{inputs.parameters.y}} {{inputs.parameters.z}}\\
      \\ {{workflow.parameters.x}} {{workflow.parameters.z}}"
""",
        SubmitOptions(parameters={"x": "new", "z": "added"}),
    )
    assert r.phase == "Succeeded", r.message
    assert r.param("wf", "x", "inputs") == "new"
    assert r.param("wf", "z", "inputs") == "added"
    assert r.node("wf").outputs is not None
    stored = await controller.workflows.get_by_uid(r.record.uid)
    assert stored is not None
    params = stored.manifest["spec"]["arguments"]["parameters"]
    assert params == [
        {"name": "x", "value": "new"},
        {"name": "y", "value": "keep"},
        {"name": "z", "value": "added"},
    ]


async def test_root_pod_args_are_rendered(controller: Controller, fake_executor: FakeExecutor) -> None:
    await run(
        controller,
        """
arguments: {parameters: [{name: x, value: old}]}
templates:
- name: main
  inputs: {parameters: [{name: x}]}
  container: {image: argosay, args: [echo, "{{inputs.parameters.x}}-{{workflow.parameters.x}}"]}
""",
        SubmitOptions(parameters={"x": "new"}),
    )
    (spec,) = fake_executor.specs.values()
    assert spec.args == ["echo", "new-new"]


async def test_builtin_variables(controller: Controller, fake_executor: FakeExecutor) -> None:
    r = await run(
        controller,
        """
templates:
- name: main
  steps:
  - - {name: a, template: vars, arguments: {parameters: [{name: p, value: v}]}}
- name: vars
  inputs: {parameters: [{name: p}]}
  container:
    image: argosay
    args:
    - "{{pod.name}}"
    - "{{node.name}}"
    - "{{inputs.parameters}}"
    - "{{workflow.name}}/{{workflow.namespace}}/{{workflow.mainEntrypoint}}/{{workflow.uid}}"
    - "{{steps.name}}"
""",
    )
    (spec,) = fake_executor.specs.values()
    assert spec.args[0] == pod_name("wf", "wf[0].a", "vars")
    assert spec.step_key.endswith("/" + spec.args[0])
    assert spec.args[1] == "wf[0].a"
    assert json.loads(spec.args[2]) == [{"name": "p", "value": "v"}]
    assert spec.args[3] == f"wf/default/main/{r.record.uid}"
    assert spec.args[4] == "a"


async def test_template_defaults_merge(controller: Controller, fake_executor: FakeExecutor) -> None:
    r = await run(
        controller,
        """
templateDefaults:
  container:
    image: default-image
    env: [{name: A, value: from-defaults}, {name: B, value: from-defaults}]
  script:
    image: script-image
templates:
- name: main
  steps:
  - - {name: plain, template: plain}
    - {name: own, template: own}
- name: plain
  container: {args: [echo, hi]}
- name: own
  container: {image: own-image, args: [echo, hi], env: [{name: B, value: own}]}
""",
        leaves=False,
    )
    assert r.phase == "Succeeded", r.message
    specs = {k.rsplit("-", 1)[-1]: s for k, s in fake_executor.specs.items()}
    plain = specs[nid("wf[0].plain").split("-")[1]]
    own = specs[nid("wf[0].own").split("-")[1]]
    assert plain.image == "default-image"
    assert own.image == "own-image"
    assert plain.env["A"] == "from-defaults" and plain.env["B"] == "from-defaults"
    assert own.env["A"] == "from-defaults" and own.env["B"] == "own"


async def test_template_defaults_retry_strategy_wraps_steps_templates(controller: Controller) -> None:
    r = await run(
        controller,
        """
templateDefaults: {retryStrategy: {limit: 1}}
templates:
- name: main
  steps:
  - - {name: a, template: echo}
""",
    )
    # §14: type-agnostic defaults apply to every template, Steps included
    assert r.summary("wf")[:2] == ("Retry", "Succeeded")
    assert r.summary("wf(0)")[:2] == ("Steps", "Succeeded")
    assert r.summary("wf(0)[0].a")[:2] == ("Retry", "Succeeded")


LIBRARY: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "WorkflowTemplate",
    "metadata": {"name": "lib", "namespace": "default"},
    "spec": {
        "entrypoint": "pipeline",
        "arguments": {
            "parameters": [{"name": "msg", "value": "from-template"}, {"name": "other", "value": "t"}]
        },
        "templates": [
            {
                "name": "pipeline",
                "inputs": {"parameters": [{"name": "msg"}]},
                "steps": [
                    [
                        {
                            "name": "inner",
                            "template": "say",
                            "arguments": {
                                "parameters": [{"name": "m", "value": "{{inputs.parameters.msg}}"}]
                            },
                        }
                    ]
                ],
            },
            {
                "name": "say",
                "inputs": {"parameters": [{"name": "m"}]},
                "container": {"image": "argosay", "args": ["echo", "{{inputs.parameters.m}}"]},
            },
        ],
    },
}


async def test_template_ref(controller: Controller, fake_executor: FakeExecutor) -> None:
    await controller.resources.put("WorkflowTemplate", "default", "lib", LIBRARY)
    r = await run(
        controller,
        """
templates:
- name: main
  steps:
  - - name: call
      templateRef: {name: lib, template: pipeline}
      arguments: {parameters: [{name: msg, value: hello-ref}]}
""",
    )
    assert r.phase == "Succeeded", r.message
    call = r.node("wf[0].call")
    assert call.template_ref == {"name": "lib", "template": "pipeline"}
    assert call.template_name is None
    assert call.template_scope == "namespaced/lib"
    # names inside the WorkflowTemplate resolve there
    inner = r.node("wf[0].call[0].inner")
    assert inner.template_scope == "namespaced/lib"
    assert inner.template_name == "say"
    assert r.printed("wf[0].call[0].inner") is not None
    assert r.param("wf[0].call[0].inner", "m", "inputs") == "hello-ref"
    assert fake_executor.started[0].endswith("/" + pod_name("wf", "wf[0].call[0].inner", "say"))
    stored = await controller.workflows.get_by_uid(r.record.uid)
    assert stored is not None
    assert set(stored.status["storedTemplates"]) == {"namespaced/lib/pipeline", "namespaced/lib/say"}


async def test_workflow_template_ref(controller: Controller) -> None:
    await controller.resources.put("WorkflowTemplate", "default", "lib", LIBRARY)
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "wf"},
        "spec": {
            "workflowTemplateRef": {"name": "lib"},
            "arguments": {"parameters": [{"name": "msg", "value": "from-workflow"}]},
        },
    }
    record, _ = await start(controller, doc)
    from .helpers import finish

    r = await finish(controller, record)
    assert r.phase == "Succeeded", r.message
    # the entrypoint comes from the WorkflowTemplate; arguments merge by name, Workflow first
    assert r.node("wf").template_name == "pipeline"
    assert r.param("wf[0].inner", "m", "inputs") == "from-workflow"
    assert r.run.globals["workflow.parameters.other"] == "t"
    stored = await controller.workflows.get_by_uid(record.uid)
    assert stored is not None and "storedWorkflowTemplateSpec" in stored.status
