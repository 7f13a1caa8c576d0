"""workflow_runtime.validation: Argo's lint checks, one failing and one passing case per check,
plus the Argo conformance files (lint errors rejected, runnable Succeeded files accepted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from workflow_runtime.spec.common import RetryStrategy
from workflow_runtime.spec.errors import Issue, ManifestError
from workflow_runtime.spec.loader import load_workflow, load_workflow_kind, parse_documents
from workflow_runtime.spec.workflow import Workflow, WorkflowSpec
from workflow_runtime.validation import lint_report, validate_template_manifest, validate_workflow

# Templates every case can call (they follow the case's own ``main`` at spec.templates[0]).
BASE = yaml.safe_load(
    """
- name: echo
  container: {image: alpine, args: [hi]}
- name: say
  inputs: {parameters: [{name: msg}]}
  container: {image: alpine, args: ["{{inputs.parameters.msg}}"]}
- name: produce
  container: {image: alpine}
  outputs:
    parameters:
      - {name: out, valueFrom: {path: /tmp/out}}
      - {name: shared, globalName: shared-out, valueFrom: {path: /tmp/shared}}
- name: sub
  steps: [[{name: x, template: echo}]]
- name: run-script
  script: {image: python, source: print(1)}
"""
)

STORED_LIB = yaml.safe_load(
    """
templates:
  - name: hello
    inputs: {parameters: [{name: who, default: world}]}
    steps: [[{name: inner, template: leaf}]]
  - name: leaf
    container: {image: alpine}
  - name: no-image
    container: {args: [x]}
"""
)


def make_workflow(main: dict[str, Any] | None, spec: str = "", *, name: str = "wf") -> Workflow:
    body: dict[str, Any] = {"entrypoint": "main", "templates": list(BASE)}
    if main is not None:
        body["templates"] = [main, *BASE]
    body.update(yaml.safe_load(spec) or {})
    doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name}, "spec": body}
    return load_workflow(doc)


def stored_specs() -> dict[tuple[str, str], WorkflowSpec]:
    lib = WorkflowSpec.model_validate(STORED_LIB)
    return {("namespaced", "lib"): lib, ("cluster", "cluster-lib"): lib}


def found(main: dict[str, Any] | None, spec: str = "", **kw: Any) -> list[tuple[str, str]]:
    issues = validate_workflow(make_workflow(main, spec, **kw), stored=stored_specs())
    return [(i.path, i.reason) for i in issues]


def matches(actual: list[tuple[str, str]], expected: list[tuple[str, str]]) -> bool:
    """Exact paths; a reason ending in '…' only has to start with the text before it
    (used where the tail is another module's parser message)."""
    if len(actual) != len(expected):
        return False
    for (path, reason), (want_path, want) in zip(actual, expected, strict=True):
        if path != want_path:
            return False
        if not (reason.startswith(want[:-1]) if want.endswith("…") else reason == want):
            return False
    return True


def steps(*groups: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": "main", "steps": [list(g) for g in groups], **extra}


def dag(*tasks: dict[str, Any], target: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"tasks": list(tasks)}
    if target is not None:
        body["target"] = target
    return {"name": "main", "dag": body, **extra}


def step(name: str, template: str = "echo", **extra: Any) -> dict[str, Any]:
    return {"name": name, "template": template, **extra}


task = step


def args(**params: str) -> dict[str, Any]:
    return {"parameters": [{"name": k, "value": v} for k, v in params.items()]}


def container(*arguments: str, **extra: Any) -> dict[str, Any]:
    return {"name": "main", "container": {"image": "alpine", "args": list(arguments)}, **extra}


def leaf(**extra: Any) -> dict[str, Any]:
    return {"name": "main", "container": {"image": "alpine"}, **extra}


def outputs(*params: dict[str, Any], kind: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": "main",
        **(kind or {"container": {"image": "a"}}),
        "outputs": {"parameters": list(params)},
    }


def ref(name: str, template: str, **extra: Any) -> dict[str, Any]:
    return {"name": "a", "templateRef": {"name": name, "template": template, **extra}}


S = "spec.templates[0].steps"
T = "spec.templates[0].dag.tasks"
M = "spec.templates[0]"
KINDS = "container, containerSet, steps, script, resource, dag, suspend, template, template ref"
NAME_RULE = (
    "name must consist of alpha-numeric characters or '-', and must start with an alpha-numeric character"
    " (e.g. My-name1-2, 123-NAME)"
)
PARAM_RULE = (
    "Parameter/Artifact name must consist of alpha-numeric characters, '_' or '-' e.g. my_param_1, MY-PARAM-1"
)
ENTRY_ECHO = "entrypoint: echo\n"
P = pytest.param

# ----------------------------------------------------------------------------- failing cases

# fmt: off
FAILING: list[Any] = [
    # --- spec level
    P(None, "entrypoint: ''", [("spec.entrypoint", "spec.entrypoint is required")],
      id="entrypoint-required"),
    P(None, "entrypoint: nope", [("spec.entrypoint", "template name 'nope' undefined")],
      id="entrypoint-undefined"),
    P(None, ENTRY_ECHO + "arguments: {parameters: [{name: p}]}",
      [("spec.arguments.parameters[0].value",
        "spec.arguments.p.value or spec.arguments.p.valueFrom is required")],
      id="workflow-argument-value"),
    P(None, ENTRY_ECHO + "arguments: {parameters: [{name: 'a b', value: x}]}",
      [("spec.arguments.parameters[0].name",
        f"spec.arguments.parameters[0].name: 'a b' is invalid: {PARAM_RULE}")],
      id="workflow-argument-name"),
    P(None, ENTRY_ECHO + "arguments: {parameters: [{name: p, value: x}, {name: p, value: y}]}",
      [("spec.arguments.parameters[1].name", "spec.arguments.parameters[1].name 'p' is not unique")],
      id="workflow-argument-unique"),
    P(None, ENTRY_ECHO + "arguments: {parameters: [{name: p, value: c, enum: [a, b]}]}",
      [("spec.arguments.parameters[0].value",
        "spec.arguments.p.value should be present in spec.arguments.p.enum list")],
      id="workflow-argument-enum-value"),
    P(None, ENTRY_ECHO + "arguments: {parameters: [{name: p, value: c, enum: []}]}",
      [("spec.arguments.parameters[0].enum", "spec.arguments.p.enum should contain at least one value")],
      id="workflow-argument-enum-empty"),
    P(None, ENTRY_ECHO + "arguments: {parameters: [{name: p, valueFrom: {path: /x}}]}",
      [("spec.arguments.parameters[0].valueFrom",
        "spec.arguments.p.valueFrom only allows: default, configMapKeyRef and supplied")],
      id="workflow-argument-valuefrom"),
    P(None, ENTRY_ECHO + "arguments: {artifacts: [{name: a}]}",
      [("spec.arguments.artifacts[0]", "spec.arguments.a.from, artifact location, or key is required")],
      id="workflow-argument-artifact-location"),
    P(None, "entrypoint: say",
      [("spec.entrypoint", "templates.say inputs.parameters.msg was not supplied")],
      id="entrypoint-input-not-supplied"),
    P(leaf(inputs={"artifacts": [{"name": "bin", "path": "/bin/x", "http": {"url": ""}}]}), "",
      [("spec.entrypoint", "templates.main inputs.artifacts.bin was not supplied")],
      id="entrypoint-artifact-not-supplied"),
    P(None, ENTRY_ECHO + "onExit: bye", [("spec.onExit", "template name 'bye' undefined")],
      id="onexit-undefined"),
    P(None, ENTRY_ECHO + "onExit: say",
      [("spec.onExit", "templates.say inputs.parameters.msg was not supplied")],
      id="onexit-input-not-supplied"),
    P(None, ENTRY_ECHO + "hooks: {running: {template: echo}}",
      [("spec.hooks.running.expression", "hooks.running Expression required")],
      id="workflow-hook-expression-required"),
    P(None, ENTRY_ECHO + "hooks: {running: {template: echo, expression: 'workflow.status =='}}",
      [("spec.hooks.running.expression", "hooks.running expression 'workflow.status ==' is invalid: …")],
      id="workflow-hook-expression-invalid"),
    P(None, ENTRY_ECHO + "hooks: {exit: {template: nope}}",
      [("spec.hooks.exit.template", "hooks.exit template name 'nope' undefined")],
      id="workflow-hook-template-undefined"),
    P(None, ENTRY_ECHO + "podGC: {strategy: Sometimes}",
      [("spec.podGC.strategy", "podGC.strategy unknown strategy 'Sometimes'")],
      id="pod-gc-strategy"),
    P(None, ENTRY_ECHO + "retryStrategy: {backoff: {duration: soon}}",
      [("spec.retryStrategy.backoff.duration",
        "spec retryStrategy.backoff.duration 'soon' is not a valid duration")],
      id="workflow-retry-backoff"),
    P(None, ENTRY_ECHO + "templateDefaults: {timeout: '30'}",
      [("spec.templateDefaults.timeout",
        "templateDefaults templateDefaults has invalid duration format in timeout.")],
      id="template-defaults-timeout"),
    # --- template names and kinds
    P({"container": {"image": "alpine"}}, ENTRY_ECHO,
      [(f"{M}.name", "spec.templates[0].name is required")], id="template-name-required"),
    P({"name": "echo", "container": {"image": "alpine"}}, ENTRY_ECHO,
      [("spec.templates[1].name", "spec.templates[1].name 'echo' is not unique")],
      id="template-name-unique"),
    P({"name": "main_1", "container": {"image": "alpine"}}, "entrypoint: main_1",
      [(f"{M}.name", f"spec.templates[0].name: 'main_1' is invalid: {NAME_RULE}")],
      id="template-name-invalid"),
    P({"name": "m" * 129, "container": {"image": "alpine"}}, ENTRY_ECHO,
      [(f"{M}.name", f"spec.templates[0].name: '{'m' * 129}' is invalid: "
        "must be no more than 128 characters")],
      id="template-name-too-long"),
    P({"name": "main", "inputs": {}}, "",
      [(M, f"templates.main template type unspecified. choose one of: {KINDS}")],
      id="template-type-unspecified"),
    P({"name": "main", "container": {"image": "a"}, "script": {"image": "b", "source": "x"}}, "",
      [(M, f"templates.main multiple template types specified. choose one of: {KINDS}")],
      id="template-type-multiple"),
    P(None, ENTRY_ECHO,
      [("metadata.name", f'workflow name "{"w" * 64}" must not be more than 63 characters long'
        " (currently 64)")],
      id="workflow-name-too-long"),
    # --- leaf fields
    P({"name": "main", "container": {"args": ["x"]}}, "",
      [(f"{M}.container.image", "templates.main.container.image may not be empty")],
      id="container-image"),
    P({"name": "main", "script": {"source": "x"}}, "templateDefaults: {container: {image: alpine}}",
      [(f"{M}.script.image", "templates.main.script.image may not be empty")],
      id="script-image-not-from-container-defaults"),
    P(steps([step("a")], timeout="1m"), "",
      [(f"{M}.timeout", "templates.main Steps template doesn't support timeout field.")],
      id="timeout-not-leaf"),
    P(container("x", timeout="30"), "",
      [(f"{M}.timeout", "templates.main main has invalid duration format in timeout.")],
      id="timeout-integer"),
    P(container("x", timeout="soon"), "",
      [(f"{M}.timeout", "templates.main main has invalid duration format in timeout.")],
      id="timeout-not-a-duration"),
    P(dag(task("a"), activeDeadlineSeconds=10), "",
      [(f"{M}.activeDeadlineSeconds",
        "templates.main.activeDeadlineSeconds is only valid for leaf templates")],
      id="deadline-not-leaf"),
    P(container("x", activeDeadlineSeconds=-5), "",
      [(f"{M}.activeDeadlineSeconds",
        "templates.main.activeDeadlineSeconds must be a positive integer > 0 or an argo variable")],
      id="deadline-negative"),
    P(container("x", activeDeadlineSeconds="soon"), "",
      [(f"{M}.activeDeadlineSeconds",
        "templates.main.activeDeadlineSeconds must be a positive integer > 0 or an argo variable")],
      id="deadline-not-integer"),
    P(container("x", parallelism=2), "",
      [(f"{M}.parallelism", "templates.main.parallelism is only valid for steps and dag templates")],
      id="parallelism-leaf"),
    # --- retryStrategy
    P(container("x", retryStrategy={"limit": "many"}), "",
      [(f"{M}.retryStrategy.limit", "templates.main retryStrategy.limit 'many' is not an integer")],
      id="retry-limit"),
    P(container("x", retryStrategy={"backoff": {"duration": "1m", "factor": "x", "maxDuration": "1y"}}),
      "",
      [(f"{M}.retryStrategy.backoff.maxDuration",
        "templates.main retryStrategy.backoff.maxDuration '1y' is not a valid duration"),
       (f"{M}.retryStrategy.backoff.factor",
        "templates.main retryStrategy.backoff.factor 'x' is not an integer")],
      id="retry-backoff"),
    P(container("x", retryStrategy={"expression": "lastRetry.status =="}), "",
      [(f"{M}.retryStrategy.expression",
        "templates.main retryStrategy.expression 'lastRetry.status ==' is invalid: …")],
      id="retry-expression"),
    # --- inputs
    P(leaf(inputs={"parameters": [{"name": "p", "value": "c", "enum": ["a", "b"]}]}), "",
      [(f"{M}.inputs.parameters[0].value", "templates.main.inputs.parameters.p.value should be present"
        " in templates.main.inputs.parameters.p.enum list")],
      id="input-enum-value"),
    P(leaf(inputs={"parameters": [{"name": "p", "default": "a", "enum": []}]}), "",
      [(f"{M}.inputs.parameters[0].enum",
        "templates.main.inputs.parameters.p.enum should contain at least one value")],
      id="input-enum-empty"),
    P(leaf(inputs={"parameters": [{"name": "a.b", "value": "x"}]}), "",
      [(f"{M}.inputs.parameters[0].name",
        f"templates.main.inputs.parameters[0].name: 'a.b' is invalid: {PARAM_RULE}")],
      id="input-name"),
    P(steps([step("a")], inputs={"artifacts": [{"name": "f", "path": "/f", "raw": {"data": "x"}}]}), "",
      [(f"{M}.inputs.artifacts[0].path",
        "templates.main.inputs.artifacts.f.path only valid in container/script templates")],
      id="input-artifact-path-not-leaf"),
    P(leaf(inputs={"artifacts": [{"name": "f", "from": "{{x}}", "optional": True}]}), "",
      [(f"{M}.inputs.artifacts[0].from", "templates.main.inputs.artifacts.f.from not valid in inputs")],
      id="input-artifact-from"),
    # --- outputs
    P(outputs({"name": "o", "value": "x", "valueFrom": {"path": "/o"}}), "",
      [(f"{M}.outputs.parameters[0]",
        "templates.main.outputs.parameters.o has both valueFrom and value specified. Choose one.")],
      id="output-value-and-valuefrom"),
    P(outputs({"name": "o"}), "",
      [(f"{M}.outputs.parameters[0]",
        "templates.main.outputs.parameters.o does not have valueFrom or value specified")],
      id="output-no-value"),
    P(outputs({"name": "o", "valueFrom": {"default": "x"}}), "",
      [(f"{M}.outputs.parameters[0].valueFrom", "templates.main.outputs.parameters.o valueFrom type "
        "unspecified. choose one of: path, jqFilter, jsonPath, parameter, raw, expression")],
      id="output-valuefrom-unspecified"),
    P(outputs({"name": "o", "valueFrom": {"path": "/o", "expression": "1"}}), "",
      [(f"{M}.outputs.parameters[0].valueFrom", "templates.main.outputs.parameters.o multiple valueFrom "
        "types specified. choose one of: path, jqFilter, jsonPath, parameter, raw")],
      id="output-valuefrom-multiple"),
    P(outputs({"name": "o", "valueFrom": {"supplied": {}}}), "",
      [(f"{M}.outputs.parameters[0].valueFrom",
        "templates.main.outputs.parameters.o.path must be specified for Container templates")],
      id="output-supplied-not-suspend"),
    P(outputs({"name": "o", "valueFrom": {"path": "/o"}}, kind={"steps": [[step("a")]]}), "",
      [(f"{M}.outputs.parameters[0].valueFrom",
        "templates.main.outputs.parameters.o.parameter or expression must be specified for Steps templates")],
      id="output-steps-path"),
    P(outputs({"name": "o", "valueFrom": {"expression": "1 +"}}, kind={"steps": [[step("a")]]}), "",
      [(f"{M}.outputs.parameters[0].valueFrom.expression",
        "templates.main.outputs.parameters.o valueFrom.expression '1 +' is invalid: …")],
      id="output-expression"),
    P(outputs({"name": "o", "valueFrom": {"parameter": "{{steps.b.outputs.parameters.out}}"}},
              kind={"steps": [[step("a", "produce")]]}), "",
      [(f"{M}.outputs.parameters[0].valueFrom.parameter",
        "templates.main.outputs failed to resolve {{steps.b.outputs.parameters.out}}")],
      id="output-parameter-unresolved"),
    P(outputs({"name": "o", "globalName": "a.b", "valueFrom": {"path": "/o"}}), "",
      [(f"{M}.outputs.parameters[0].globalName",
        f"templates.main.outputs.parameters.o.globalName: {PARAM_RULE}")],
      id="output-global-name"),
    P(outputs({"name": "o", "value": "1"}, {"name": "o", "value": "2"}), "",
      [(f"{M}.outputs.parameters[1].name", "templates.main.outputs.parameters [1].name 'o' is not unique")],
      id="output-name-unique"),
    P(steps([step("a")], outputs={"artifacts": [{"name": "f", "path": "/f"}]}), "",
      [(f"{M}.outputs.artifacts[0].path",
        "templates.main.outputs.artifacts.f.path only valid in container/script templates")],
      id="output-artifact-path-not-leaf"),
    # --- steps
    P(steps([{"template": "echo"}]), "",
      [(f"{S}[0][0].name", "templates.main.steps[0].name is required")], id="step-name-required"),
    P(steps([step("a")], [step("a")]), "",
      [(f"{S}[1][0].name", "templates.main.steps[1].name 'a' is not unique")], id="step-name-unique"),
    P(steps([step("a_b")]), "",
      [(f"{S}[0][0].name", f"templates.main.steps[0].name 'a_b' is invalid: {NAME_RULE}")],
      id="step-name-invalid"),
    P(steps([step("a")], [step("b", "hell0")]), "",
      [(f"{S}[1][0].template", "templates.main.steps[1].b template name 'hell0' undefined")],
      id="step-template-undefined"),
    P(steps([{"name": "a"}]), "",
      [(f"{S}[0][0]", "templates.main.steps[0].a either template or templateRef must be specified")],
      id="step-no-template"),
    P(steps([step("a", templateRef={"name": "lib", "template": "leaf"})]), "",
      [(f"{S}[0][0].template",
        "templates.main.steps[0].a template name cannot be specified with templateRef.")],
      id="step-template-and-ref"),
    P(steps([ref("nope", "leaf")]), "",
      [(f"{S}[0][0].templateRef.name",
        'templates.main.steps[0].a workflowtemplates.argoproj.io "nope" not found')],
      id="step-template-ref-missing"),
    P(steps([ref("nope", "leaf", clusterScope=True)]), "",
      [(f"{S}[0][0].templateRef.name",
        'templates.main.steps[0].a clusterworkflowtemplates.argoproj.io "nope" not found')],
      id="step-cluster-template-ref-missing"),
    P(steps([ref("lib", "nope")]), "",
      [(f"{S}[0][0].templateRef.template",
        "templates.main.steps[0].a template reference lib.nope not found")],
      id="step-template-ref-template-missing"),
    P(steps([ref("lib", "no-image")]), "",
      [("WorkflowTemplate/lib:spec.templates[2].container.image",
        "templates.no-image.container.image may not be empty")],
      id="stored-template-validated"),
    P(steps([step("a", "say", arguments={"parameters": [{"name": "msg"}]})]), "",
      [(f"{S}[0][0].arguments.parameters[0].value", "templates.main.steps[0].a.arguments.msg.value or "
        "templates.main.steps[0].a.arguments.msg.valueFrom is required"),
       (f"{S}[0][0].arguments",
        "templates.main.steps[0].a templates.say inputs.parameters.msg was not supplied")],
      id="step-argument-value"),
    P(steps([step("a", "say")]), "",
      [(f"{S}[0][0].arguments",
        "templates.main.steps[0].a templates.say inputs.parameters.msg was not supplied")],
      id="step-input-not-supplied"),
    P(steps([step("a", withItems=[1], withParam="[1]")]), "",
      [(f"{S}[0][0]",
        "templates.main.steps[0].a only one of withItems, withParam, withSequence can be specified")],
      id="loop-exclusive"),
    P(steps([step("a", withSequence={"count": "2", "end": "3"})]), "",
      [(f"{S}[0][0].withSequence",
        "templates.main.steps[0].a only one of count or end can be defined in withSequence")],
      id="sequence-count-end"),
    P(steps([step("a", when="{{workflow.name}} == (x")]), "",
      [(f"{S}[0][0].when",
        "templates.main.steps[0].a invalid 'when' expression '{{workflow.name}} == (x': …")],
      id="when-unparsable"),
    P(steps([step("a", "say", arguments=args(msg="{{=1 +}}"))]), "",
      [(f"{S}[0][0].arguments.parameters[0].value", "templates.main invalid expression {{=1 +}}: …")],
      id="expression-tag"),
    P(container("{{inputs.parameters.x"), "",
      [(f"{M}.container.args[0]", 'templates.main Cannot find end tag="}}"…')],
      id="unclosed-tag"),
    P(steps([step("a", hooks={"running": {"template": "echo"}})]), "",
      [(f"{S}[0][0].hooks.running.expression", "templates.main.steps[0].a.running Expression required")],
      id="step-hook-expression-required"),
    P(steps([step("a", hooks={"exit": {"template": "nope"}})]), "",
      [(f"{S}[0][0].hooks.exit.template", "templates.main.steps[0].a.exit template name 'nope' undefined")],
      id="step-hook-template-undefined"),
    P(steps([step("a", hooks={"exit": {"template": "say"}})]), "",
      [(f"{S}[0][0].hooks.exit",
        "templates.main.steps[0].a.exit templates.say inputs.parameters.msg was not supplied")],
      id="step-exit-hook-input-not-supplied"),
    P(steps([step("a", onExit="nope")]), "",
      [(f"{S}[0][0].onExit", "templates.main.steps[0].a template name 'nope' undefined")],
      id="step-onexit-undefined"),
    # --- variables in steps and leaf templates
    P(steps([step("a", "produce"),
             step("b", "say", arguments=args(msg="{{steps.a.outputs.parameters.out}}"))]), "",
      [(f"{S}[0][1].arguments.parameters[0].value",
        "templates.main.steps failed to resolve {{steps.a.outputs.parameters.out}}")],
      id="steps-same-group"),
    P(steps([step("a", "sub")], [step("b", "say", arguments=args(msg="{{steps.a.outputs.result}}"))]), "",
      [(f"{S}[1][0].arguments.parameters[0].value",
        "templates.main.steps failed to resolve {{steps.a.outputs.result}}")],
      id="steps-result-of-steps-template"),
    P(steps([step("a", "produce")],
            [step("b", "say", arguments=args(msg="{{steps.a.outputs.parameters.nope}}"))]), "",
      [(f"{S}[1][0].arguments.parameters[0].value",
        "templates.main.steps failed to resolve {{steps.a.outputs.parameters.nope}}")],
      id="steps-undeclared-output"),
    P(steps([step("a", "produce")], [step("b", "say", arguments=args(msg="{{steps.a.outputs.parameters}}"))]),
      "",
      [(f"{S}[1][0].arguments.parameters[0].value",
        "templates.main.steps failed to resolve {{steps.a.outputs.parameters}}")],
      id="steps-aggregate-without-loop"),
    P(steps([step("a", "say", arguments=args(msg="{{item.nope}}"), withItems=[{"k": 1}])]), "",
      [(f"{S}[0][0].arguments.parameters[0].value", "templates.main.steps failed to resolve {{item.nope}}")],
      id="item-key-unknown"),
    P(steps([step("a", "say", arguments=args(msg="{{item.k}}"))]), "",
      [(f"{S}[0][0].arguments.parameters[0].value", "templates.main.steps failed to resolve {{item.k}}")],
      id="item-outside-loop"),
    P(steps([step("a", "say", arguments=args(msg="{{item.k}}"), withSequence={"count": "2"})]), "",
      [(f"{S}[0][0].arguments.parameters[0].value", "templates.main.steps failed to resolve {{item.k}}")],
      id="item-key-in-sequence"),
    P(steps([step("a", "say", arguments=args(msg="{{pod.name}}"))]), "",
      [(f"{S}[0][0].arguments.parameters[0].value", "templates.main.steps failed to resolve {{pod.name}}")],
      id="pod-name-in-steps"),
    P(container("{{inputs.parameters.nope}}"), "",
      [(f"{M}.container.args[0]", "templates.main: failed to resolve {{inputs.parameters.nope}}")],
      id="input-unknown"),
    P(container("{{ workflow.parameters.nope }}"), "arguments: {parameters: [{name: p, value: x}]}",
      [(f"{M}.container.args[0]", "templates.main: failed to resolve {{ workflow.parameters.nope }}")],
      id="workflow-parameter-unknown"),
    P(container("{{workflow.failures}}"), "",
      [(f"{M}.container.args[0]", "templates.main: failed to resolve {{workflow.failures}}")],
      id="workflow-failures-outside-exit-handler"),
    P(container("{{workflow.outputs.parameters.nope}}"), "",
      [(f"{M}.container.args[0]", "templates.main: failed to resolve {{workflow.outputs.parameters.nope}}")],
      id="workflow-output-unknown"),
    P(container("{{workflow.labels.team}}"), "",
      [(f"{M}.container.args[0]", "templates.main: failed to resolve {{workflow.labels.team}}")],
      id="workflow-label-unknown"),
    # --- dag
    P(dag(), "", [(T, "templates.main must have at least one task")], id="dag-no-tasks"),
    P(dag(task("a", depends="nope")), "",
      [(f"{T}[0].depends", "templates.main.tasks.a dependency 'nope' not defined")],
      id="dag-unknown-depends"),
    P(dag(task("a"), task("b", dependencies=["a", "nope"])), "",
      [(f"{T}[1].dependencies[1]", "templates.main.tasks.b dependency 'nope' not defined")],
      id="dag-unknown-dependencies"),
    P(dag(task("a"), task("a")), "",
      [(f"{T}[1].name", "templates.main.tasks[1].name 'a' is not unique")], id="dag-duplicate-task"),
    P(dag(task("a", depends="c"), task("b", depends="a"), task("c", depends="b")), "",
      [(f"{T}[1].depends", "templates.main.tasks dependency cycle detected: a->c->b->a")],
      id="dag-cycle"),
    P(dag(task("a", depends="a")), "",
      [(f"{T}[0].depends", "templates.main.tasks dependency cycle detected: a->a")], id="dag-self-cycle"),
    P(dag(task("a"), task("b", depends="a"), task("c", dependencies=["a"])), "",
      [(f"{T}[2].dependencies",
        "templates.main cannot use both 'depends' and 'dependencies' in the same DAG template")],
      id="dag-depends-and-dependencies"),
    P(dag(task("a", continueOn={"failed": True}), task("b", depends="a")), "",
      [(f"{T}[0].continueOn", "templates.main cannot use 'continueOn' when using 'depends'. "
        "Instead use 'dep-task.Failed'/'dep-task.Errored'")],
      id="dag-continue-on-with-depends"),
    P(dag(task("1a"), task("b", depends="1a")), "",
      [(f"{T}[0].name", "templates.main.tasks.1a name cannot begin with a digit when using either "
        "'depends' or 'dependencies'")],
      id="dag-digit-name"),
    P(dag(task("a"), target="a nope"), "",
      [(f"{M}.dag.target", "templates.main.targets: target 'nope' is not defined")],
      id="dag-target-unknown"),
    P(dag(task("a"), task("b", depends="a &&")), "",
      [(f"{T}[1].depends", "templates.main.tasks.b invalid 'depends' expression 'a &&': …")],
      id="dag-depends-unparsable"),
    P(dag(task("a"), task("b", depends="a.Succeded")), "",
      [(f"{T}[1].depends", "templates.main.tasks.b task result 'Succeded' for task 'a' is invalid")],
      id="dag-task-result-invalid"),
    P(dag(task("a"), task("b", depends="a.AnySucceeded")), "",
      [(f"{T}[1].depends", "templates.main.tasks.b dependency 'a' uses an items-based condition such as "
        ".AnySucceeded or .AllFailed but does not contain any items")],
      id="dag-items-condition-without-items"),
    P(dag(task("a", when="(")), "",
      [(f"{T}[0].when", "templates.main.tasks.a invalid 'when' expression '(': …")],
      id="dag-when-unparsable"),
    P(dag(task("a", "say")), "",
      [(f"{T}[0].arguments", "templates.main.tasks.a templates.say inputs.parameters.msg was not supplied")],
      id="task-input-not-supplied"),
    P(dag(task("a", "produce"),
          task("b", "say", arguments=args(msg="{{tasks.a.outputs.parameters.out}}"))), "",
      [(f"{T}[1].arguments.parameters[0].value",
        "templates.main.tasks.b missing dependency 'a' for parameter 'msg'")],
      id="task-missing-dependency"),
    P(dag(task("a", "produce"),
          task("b", "say", arguments=args(msg="x"), when="{{tasks.a.outputs.parameters.out}} == x")), "",
      [(f"{T}[1].when", "templates.main.tasks.b failed to resolve {{tasks.a.outputs.parameters.out}}")],
      id="task-non-ancestor"),
    P(dag(task("a"), task("b", "say", depends="a", arguments=args(msg="{{tasks.a.outputs.parameters}}"))),
      "",
      [(f"{T}[1].arguments.parameters[0].value",
        "templates.main.tasks.b failed to resolve {{tasks.a.outputs.parameters}}")],
      id="task-aggregate-without-loop"),
    P(dag(task("a", hooks={"running": {"template": "echo", "expression": "tasks.a.status =="}})), "",
      [(f"{T}[0].hooks.running.expression",
        "templates.main.tasks.a.running expression 'tasks.a.status ==' is invalid: …")],
      id="task-hook-expression-invalid"),
]
# fmt: on


@pytest.mark.parametrize(("main", "spec", "expected"), FAILING)
def test_rejected(main: Any, spec: str, expected: list[tuple[str, str]]) -> None:
    kwargs = {"name": "w" * 64} if expected[0][0] == "metadata.name" else {}
    actual = found(main, spec, **kwargs)
    assert matches(actual, expected), actual


# ----------------------------------------------------------------------------- passing cases

GLOBALS = (
    "{{workflow.name}} {{workflow.parameters.p}} {{workflow.labels.team}}"
    " {{workflow.outputs.parameters.shared-out}}"
    " {{workflow.creationTimestamp.Y}} {{retries}} {{item}} {{custom.var}} {{pod.name}} {{node.name}}"
    " {{=sprig.upper(workflow.name)}} {{workflow.status}} {{outputs.parameters.x.path}}"
)
RETRY = {
    "limit": "3",
    "retryPolicy": "OnError",
    "expression": "asInt(lastRetry.exitCode) > 1",
    "backoff": {"duration": "1s", "cap": "{{inputs.parameters.c}}"},
}
STEPS_SCOPE = steps(
    [step("a", "produce"), step("r", "run-script", withItems=["x"])],
    [step("b", "say", arguments=args(msg="{{steps.a.outputs.parameters.out}} {{steps.r.outputs.result}}"))],
    [step("c", "say",
          arguments=args(msg="{{steps.b.status}} {{steps.b.exitCode}} {{steps.r.outputs.parameters}}"),
          when="{{steps.a.outputs.result}} == heads")],
    outputs={"parameters": [{"name": "o", "valueFrom": {"parameter": "{{steps.a.outputs.parameters.out}}"}},
                            {"name": "e", "valueFrom": {"expression": "steps.a.outputs.result"}}]},
)  # fmt: skip
DAG_SCOPE = dag(
    task("a", "produce"),
    task("b", "echo", depends="a"),
    task("c", "say", depends="b && a.Succeeded",
         arguments=args(msg="{{tasks.a.outputs.parameters.out}} {{tasks.b.status}}")),
    task("d", "run-script", withParam="[1, 2]", depends="c"),
    task("e", "say", depends="d.AnySucceeded || d.AllFailed",
         arguments=args(msg="{{tasks.d.outputs.result}} {{tasks.d.outputs.parameters}}"
                            " {{tasks.a.exitCode}}")),
    task("f", "echo", hooks={"running": {"template": "echo", "expression": "tasks.f.status == 'Running'"},
                             "exit": {"template": "say", "arguments": args(msg="{{tasks.f.status}}")}}),
    target="e f",
    outputs={"parameters": [{"name": "o", "valueFrom": {"parameter": "{{tasks.a.outputs.parameters.out}}"}}]},
)  # fmt: skip
HOOKS = {
    "running": {
        "template": "say",
        "expression": 'steps.a.status == "Running"',
        "arguments": args(msg="{{steps.a.status}}"),
    },
    "exit": {"template": "echo"},
}

# fmt: off
PASSING: list[Any] = [
    P(None, ENTRY_ECHO, id="hello"),
    P(None, "entrypoint: say\narguments: {parameters: [{name: msg, value: hi}]}",
      id="entrypoint-input-supplied"),
    P(leaf(inputs={"parameters": [{"name": "p", "default": "a", "enum": ["a", "b"]}]}), "",
      id="input-enum"),
    P(None, ENTRY_ECHO + "arguments: {parameters: [{name: p, value: a, enum: [a, b]},"
      " {name: q, valueFrom: {supplied: {}}}]}", id="workflow-arguments"),
    P(None, ENTRY_ECHO + "arguments: {artifacts: [{name: a, raw: {data: x}}]}", id="workflow-artifact"),
    P(leaf(inputs={"artifacts": [{"name": "f", "path": "/f", "optional": True}]}), "",
      id="optional-input-artifact"),
    P({"name": "main", "container": {"args": ["{{workflow.failures}} {{workflow.status}}"]}},
      ENTRY_ECHO + "onExit: main\ntemplateDefaults: {container: {image: alpine}}",
      id="exit-handler-variables-and-default-image"),
    P(container("{{workflow.failures}}"), ENTRY_ECHO + "hooks: {exit: {template: main}}",
      id="exit-hook-variables"),
    P(None, ENTRY_ECHO + "hooks: {running: {template: echo, expression: 'workflow.status == \"Running\"'}}",
      id="workflow-hook"),
    P(None, ENTRY_ECHO + "podGC: {strategy: OnPodSuccess}", id="pod-gc"),
    P(container(GLOBALS),
      "arguments: {parameters: [{name: p, value: x}]}\nworkflowMetadata: {labels: {team: a}}",
      id="global-variables"),
    P(steps([step("a")], parallelism=2, failFast=True),
      "retryStrategy: {limit: 2, backoff: {duration: '10', factor: 2, maxDuration: 1m}}",
      id="steps-parallelism-and-retry"),
    P(container("x", timeout="1m30s", activeDeadlineSeconds=30, retryStrategy=RETRY,
                inputs={"parameters": [{"name": "c", "value": "5"}]}), "",
      id="leaf-limits"),
    P(container("x", activeDeadlineSeconds="{{workflow.parameters.d}}"),
      "arguments: {parameters: [{name: d, value: '1'}]}", id="deadline-variable"),
    P(outputs({"name": "ok", "valueFrom": {"supplied": {}}}, kind={"suspend": {}}), "",
      id="suspend-supplied-output"),
    P(STEPS_SCOPE, "", id="steps-scope"),
    P(steps([step("a", "say", arguments=args(msg="{{item.k}} {{item}}"),
                  withItems=[{"k": 1}, {"k": 2, "j": 3}])]), "", id="items-map"),
    P(steps([step("a", "say", arguments=args(msg="{{item.x}}"), withParam='[{"x": 1}]')]), "",
      id="items-param"),
    P(steps([step("a", "say", arguments=args(msg="{{item}}"), withSequence={"count": "3"})]), "",
      id="items-sequence"),
    P(steps([step("a", withItems=[])]), "", id="empty-with-items"),
    P(steps([step("a", "say", arguments=args(msg="{{=1 + 2}}"), when="{{=inputs.parameters['p'] == 'x'}}")],
            inputs={"parameters": [{"name": "p", "value": "x"}]}), "", id="expression-tags"),
    P(steps([step("a", hooks=HOOKS, onExit="echo")]), "", id="step-hooks"),
    P(steps([ref("lib", "hello"), {**ref("cluster-lib", "leaf", clusterScope=True), "name": "b"}],
            [step("c", "say", arguments=args(msg="{{steps.b.outputs.result}}"))]), "",
      id="template-refs"),
    P(steps([ref("{{workflow.parameters.lib}}", "x")]), "arguments: {parameters: [{name: lib, value: lib}]}",
      id="template-ref-variable"),
    P(DAG_SCOPE, "", id="dag-scope"),
    P(dag(task("a"), task("b", dependencies=["a"], continueOn={"failed": True})), "",
      id="dag-dependencies"),
    P(dag(task("1a"), task("b")), "", id="dag-digit-without-dependencies"),
    P(dag(task("a"), target="{{inputs.parameters.t}}", inputs={"parameters": [{"name": "t", "value": "a"}]}),
      "", id="dag-target-variable"),
    P(None, ENTRY_ECHO + "templateDefaults: {timeout: 1m, retryStrategy: {limit: 1}}",
      id="template-defaults"),
]
# fmt: on


@pytest.mark.parametrize(("main", "spec"), PASSING)
def test_accepted(main: Any, spec: str) -> None:
    assert found(main, spec) == []


# ----------------------------------------------------------------------------- other entry points


def test_retry_policy_outside_the_schema() -> None:
    wf = make_workflow(container("x"))
    template = (wf.spec.templates or [])[0]
    template.retry_strategy = RetryStrategy.model_construct(retry_policy="Sometimes")
    path = "spec.templates[0].retryStrategy.retryPolicy"
    assert validate_workflow(wf) == [Issue(path, "templates.main Sometimes is not a valid RetryPolicy")]
    template.retry_strategy = RetryStrategy.model_construct(retry_policy="OnTransientError")
    assert validate_workflow(wf) == []


def test_all_problems_are_reported() -> None:
    assert found(steps([step("a", "hell0")], [step("a", "say")]), "onExit: nope") == [
        (f"{S}[0][0].template", "templates.main.steps[0].a template name 'hell0' undefined"),
        (f"{S}[1][0].name", "templates.main.steps[1].name 'a' is not unique"),
        (
            f"{S}[1][0].arguments",
            "templates.main.steps[1].a templates.say inputs.parameters.msg was not supplied",
        ),
        ("spec.onExit", "template name 'nope' undefined"),
    ]


def test_template_manifest() -> None:
    body = {
        "arguments": {"parameters": [{"name": "p"}]},
        "templates": [
            {
                "name": "t",
                "container": {"image": "a", "args": ["{{workflow.parameters.any}} {{workflow.labels.x}}"]},
            },
            {"name": "u", "inputs": {"parameters": [{"name": "m"}]}, "container": {"image": "a"}},
        ],
    }
    spec = WorkflowSpec.model_validate(body)
    assert validate_template_manifest(spec) == []
    bad = spec.model_copy(update={"entrypoint": "nope"})
    assert validate_template_manifest(bad) == [Issue("spec.entrypoint", "template name 'nope' undefined")]
    # the same spec as a Workflow: the argument needs a value, the entrypoint is required,
    # and workflow parameters and labels must be declared
    doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "x"}, "spec": body}
    assert [(i.path, i.reason) for i in validate_workflow(load_workflow(doc))] == [
        (
            "spec.arguments.parameters[0].value",
            "spec.arguments.p.value or spec.arguments.p.valueFrom is required",
        ),
        ("spec.entrypoint", "spec.entrypoint is required"),
        ("spec.templates[0].container.args[0]", "templates.t: failed to resolve {{workflow.parameters.any}}"),
        ("spec.templates[0].container.args[0]", "templates.t: failed to resolve {{workflow.labels.x}}"),
    ]


def _ref_workflow(spec: dict[str, Any]) -> Workflow:
    return load_workflow(
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "x"}, "spec": spec}
    )


def test_workflow_template_ref() -> None:
    wf = _ref_workflow({"workflowTemplateRef": {"name": "lib"}, "entrypoint": "hello"})
    assert validate_workflow(wf, stored=stored_specs()) == [
        Issue(
            "WorkflowTemplate/lib:spec.templates[2].container.image",
            "templates.no-image.container.image may not be empty",
        )
    ]
    wf = _ref_workflow(
        {"workflowTemplateRef": {"name": "missing"}, "templates": [{"name": "t", "suspend": {}}]}
    )
    assert validate_workflow(wf, stored=stored_specs()) == [
        Issue(
            "spec.templates",
            "Templates is invalid field in spec if workflow referred WorkflowTemplate reference",
        ),
        Issue("spec.workflowTemplateRef.name", 'workflowtemplates.argoproj.io "missing" not found'),
    ]
    good = WorkflowSpec.model_validate(
        {"entrypoint": "hello", "templates": [
            {"name": "hello", "inputs": {"parameters": [{"name": "who"}]}, "container": {"image": "a"}}]}
    )  # fmt: skip
    wf = _ref_workflow({"workflowTemplateRef": {"name": "good"}, "arguments": args(who="me")})
    assert validate_workflow(wf, stored={("namespaced", "good"): good}) == []
    wf = _ref_workflow({"workflowTemplateRef": {"name": "good"}})
    assert validate_workflow(wf, stored={("namespaced", "good"): good}) == [
        Issue("spec.entrypoint", "templates.hello inputs.parameters.who was not supplied")
    ]


def test_lint_report() -> None:
    issues = [
        Issue("spec.templates[0].name", "spec.templates[0].name is required"),
        Issue(
            "spec.templates[1].steps[0][0].template", "templates.main.steps[0].a template name 'x' undefined"
        ),
        Issue("spec.foo", "unknown field"),
    ]
    assert lint_report(issues, source="wf.yaml") == (
        "wf.yaml:\n"
        "   ✖ spec.templates[0].name is required\n"
        "   ✖ spec.templates[1].steps[0][0].template: templates.main.steps[0].a template name 'x' undefined\n"
        "   ✖ spec.foo: unknown field\n"
        "\n"
        "✖ 3 linting errors found!"
    )
    assert lint_report([]) == "✔ no linting errors found!"
    assert lint_report(issues[:1]).endswith("\n✖ 1 linting errors found!")


# ----------------------------------------------------------------------------- conformance files

CONFORMANCE = Path("/work/shared/conformance/argo-workflows")


def _expectations() -> dict[str, dict[str, Any]]:
    if not (CONFORMANCE / "expectations.yaml").is_file():
        return {}
    files: dict[str, dict[str, Any]] = yaml.safe_load((CONFORMANCE / "expectations.yaml").read_text())[
        "files"
    ]
    return files


EXPECTATIONS = _expectations()
needs_conformance = pytest.mark.skipif(
    not EXPECTATIONS, reason=f"Argo conformance files not found at {CONFORMANCE}/expectations.yaml"
)
REJECTED = sorted(rel for rel, e in EXPECTATIONS.items() if e.get("expect") in ("lint-error", "rejected"))
RUNNABLE = sorted(
    rel for rel, e in EXPECTATIONS.items() if e.get("phase") == "Succeeded" and not e.get("needs")
)


def _lint(rel: str) -> list[Issue]:
    """Load and validate every document of a conformance file, like ``argo lint``.

    ManifestError (the file does not even load) propagates: that is a rejection too.
    """
    stored: dict[tuple[str, str], WorkflowSpec] = {}
    for required in EXPECTATIONS[rel].get("requires") or []:
        for doc in parse_documents((CONFORMANCE / required).read_text(), required):
            manifest = load_workflow_kind(doc, required)
            if not isinstance(manifest, Workflow):
                scope = "cluster" if manifest.kind == "ClusterWorkflowTemplate" else "namespaced"
                stored[(scope, manifest.metadata.name or "")] = manifest.spec
    issues: list[Issue] = []
    for doc in parse_documents((CONFORMANCE / rel).read_text(), rel):
        manifest = load_workflow_kind(doc, rel)
        if isinstance(manifest, Workflow):
            issues += validate_workflow(manifest, stored=stored)
        else:
            issues += validate_template_manifest(manifest.spec, stored=stored)
    return issues


@needs_conformance
@pytest.mark.parametrize("rel", REJECTED or ["(none)"])
def test_conformance_rejected(rel: str) -> None:
    expectation = EXPECTATIONS[rel]
    try:
        issues = _lint(rel)
    except ManifestError as exc:
        assert expectation["expect"] == "rejected", f"{rel} must load and fail lint, not fail to load: {exc}"
        return
    assert issues, f"{rel} should be rejected"
    report = lint_report(issues)
    if expectation.get("message"):
        assert expectation["message"] in report
    if rel == "malformed/malformed-workflowtemplate-2.yaml":  # the upstream test checks the lint output
        assert "spec.templates[0].name is required" in report
        assert report.endswith("\n✖ 1 linting errors found!")


@needs_conformance
@pytest.mark.parametrize("rel", RUNNABLE or ["(none)"])
def test_conformance_runnable_files_pass(rel: str) -> None:
    assert _lint(rel) == []


@needs_conformance
def test_conformance_input_artifact_not_supplied() -> None:
    """input-artifact-not-optional.yaml: Argo rejects it at submit (there is no upstream lint test)."""
    issues = _lint("expectedfailures/input-artifact-not-optional.yaml")
    assert issues == [
        Issue("spec.entrypoint", "templates.http-artifact-example inputs.artifacts.kubectl was not supplied")
    ]


@needs_conformance
def test_conformance_selection() -> None:
    assert len(REJECTED) >= 8
    assert len(RUNNABLE) >= 50
