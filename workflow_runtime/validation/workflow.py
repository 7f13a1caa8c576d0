"""Spec-level checks and the order Argo validates in (validate.go ValidateWorkflow):
names, arguments, the entrypoint with the workflow's arguments, the exit handler and hooks with
``workflow.failures`` known, then every template with placeholder arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow_runtime.controller.templates import stored_key
from workflow_runtime.spec.common import ObjectMeta, TemplateRef
from workflow_runtime.spec.errors import Issue
from workflow_runtime.spec.workflow import Workflow, WorkflowSpec
from workflow_runtime.validation.core import KIND_LABELS, Callee, TemplateSet, Validator, not_found_message
from workflow_runtime.validation.names import check_arguments, check_names
from workflow_runtime.validation.scope import VarScope, check_expression_text, is_parameter
from workflow_runtime.validation.templates import check_retry, check_timeout

MAX_NAME = 63
POD_GC_STRATEGIES = ("", "OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess")

_NO_STORED: Mapping[tuple[str, str], WorkflowSpec] = {}


def _keys(value: Any) -> list[str]:
    return [str(k) for k in value] if isinstance(value, dict) else []


def global_scope(
    spec: WorkflowSpec,
    metadata: ObjectMeta | None,
    specs: list[WorkflowSpec],
    *,
    template_manifest: bool,
) -> VarScope:
    """The global variables of validate.go's templateValidationCtx (``workflow.*``)."""
    scope = VarScope(
        {
            "workflow.name",
            "workflow.namespace",
            "workflow.mainEntrypoint",
            "workflow.serviceAccountName",
            "workflow.uid",
            "workflow.status",
            "workflow.annotations",
            "workflow.annotations.json",
            "workflow.labels",
            "workflow.labels.json",
        }
    )
    params = (spec.arguments.parameters or []) if spec.arguments else []
    if params:
        scope.add("workflow.parameters", "workflow.parameters.json")
    scope.add(*(f"workflow.parameters.{p.name}" for p in params if p.name))
    if template_manifest:
        # the submitting Workflow supplies parameters, labels and annotations
        for prefix in ("workflow.parameters", "workflow.labels.", "workflow.annotations."):
            scope.allow_prefix(prefix)
    if metadata is not None:
        scope.add(*(f"workflow.annotations.{k}" for k in metadata.annotations or {}))
        scope.add(*(f"workflow.labels.{k}" for k in metadata.labels or {}))
    extra = spec.workflow_metadata if isinstance(spec.workflow_metadata, dict) else {}
    scope.add(*(f"workflow.annotations.{k}" for k in _keys(extra.get("annotations"))))
    scope.add(*(f"workflow.labels.{k}" for k in _keys(extra.get("labels")) + _keys(extra.get("labelsFrom"))))
    if spec.priority is not None:
        scope.add("workflow.priority")
    for each in specs:
        for template in each.templates or []:
            outputs = template.outputs
            if outputs is None:
                continue
            for kind, items in (("parameters", outputs.parameters), ("artifacts", outputs.artifacts)):
                for item in items or []:
                    if not item.global_name:
                        continue
                    if is_parameter(item.global_name):
                        scope.allow_prefix(f"workflow.outputs.{kind}.")
                    else:
                        scope.add(f"workflow.outputs.{kind}.{item.global_name}")
    return scope


def merge_specs(workflow: WorkflowSpec, template: WorkflowSpec) -> WorkflowSpec:
    """``workflowTemplateRef``: Workflow fields win over the WorkflowTemplate's; parameters merge by name."""
    merged = {
        **template.to_argo(),
        **{k: v for k, v in workflow.to_argo().items() if k not in ("workflowTemplateRef", "templates")},
    }
    wf_params = {p.name: p for p in (workflow.arguments.parameters or [])} if workflow.arguments else {}
    tmpl_params = (template.arguments.parameters or []) if template.arguments else []
    params = [wf_params.pop(p.name, p) for p in tmpl_params] + list(wf_params.values())
    if params:
        merged["arguments"] = {**merged.get("arguments", {}), "parameters": [p.to_argo() for p in params]}
    return WorkflowSpec.model_validate(merged)


def validate_workflow(
    workflow: Workflow, *, stored: Mapping[tuple[str, str], WorkflowSpec] = _NO_STORED
) -> list[Issue]:
    """Every problem Argo's validation (and Triggerfish's stricter checks) find in a Workflow.

    ``stored`` maps ``("namespaced"|"cluster", name)`` to the spec of the (Cluster)WorkflowTemplates
    that ``templateRef`` and ``workflowTemplateRef`` may name.
    """
    spec = workflow.spec
    early: list[Issue] = []
    name = workflow.metadata.name or ""
    if len(name) > MAX_NAME:
        early.append(
            Issue(
                "metadata.name",
                f'workflow name "{name}" must not be more than {MAX_NAME} characters long'
                f" (currently {len(name)})",
            )
        )
    ref = spec.workflow_template_ref
    if ref is None:
        main = TemplateSet.build("local", name, spec, "spec")
        return _validate(spec, main, stored, workflow.metadata, early, template_manifest=False)
    if spec.templates:
        early.append(
            Issue(
                "spec.templates",
                "Templates is invalid field in spec if workflow referred WorkflowTemplate reference",
            )
        )
    key = stored_key(TemplateRef(name=ref.name, template="", cluster_scope=ref.cluster_scope))
    template_spec = stored.get(key)
    if template_spec is None:
        return [
            *early,
            Issue("spec.workflowTemplateRef.name", not_found_message(key[0], ref.name)),
        ]
    main = TemplateSet.build(key[0], key[1], template_spec, f"{KIND_LABELS[key[0]]}/{key[1]}:spec")
    effective = merge_specs(spec, template_spec)
    return _validate(effective, main, stored, workflow.metadata, early, template_manifest=False)


def validate_template_manifest(
    spec: WorkflowSpec, *, stored: Mapping[tuple[str, str], WorkflowSpec] = _NO_STORED
) -> list[Issue]:
    """A WorkflowTemplate or ClusterWorkflowTemplate: the entrypoint is optional, arguments need no
    values and ``workflow.parameters.*`` / labels / annotations come from the submitting Workflow."""
    main = TemplateSet.build("local", "", spec, "spec")
    return _validate(spec, main, stored, None, [], template_manifest=True)


def _validate(
    spec: WorkflowSpec,
    main: TemplateSet,
    stored: Mapping[tuple[str, str], WorkflowSpec],
    metadata: ObjectMeta | None,
    early: list[Issue],
    *,
    template_manifest: bool,
) -> list[Issue]:
    specs = [main.spec, *stored.values()]
    v = Validator(
        main,
        stored,
        defaults=spec.template_defaults,
        globals_=global_scope(spec, metadata, specs, template_manifest=template_manifest),
        template_manifest=template_manifest,
    )
    v.workflow_arguments = spec.arguments
    for issue in early:
        v.add(issue.path, issue.reason)
    templates = main.spec.templates or []
    check_names(
        v.add, [t.name for t in templates], f"{main.prefix}.templates", "spec.templates", params=False
    )
    check_arguments(v.add, spec.arguments, "spec.arguments", "spec.arguments.", allow_empty=template_manifest)

    if spec.entrypoint:
        entry = v.resolve(main, spec.entrypoint, None, "spec.entrypoint", "", field_paths=False)
        if entry is not None:
            if not template_manifest:
                v.check_supplied(entry, spec.arguments, "spec.entrypoint", "")
            v.enqueue(entry, exit=False)
    elif not template_manifest:
        v.add("spec.entrypoint", "spec.entrypoint is required")
    v.drain()

    _exit_handler_and_hooks(v, spec, main)
    _spec_fields(v, spec)

    has_exit = bool(spec.on_exit or (spec.hooks and "exit" in spec.hooks))
    for position, template in enumerate(templates):
        if template.name:
            v.enqueue(Callee(main, position, v.merged(main, position)), exit=has_exit)
    v.drain()
    return v.issues


def _exit_handler_and_hooks(v: Validator, spec: WorkflowSpec, main: TemplateSet) -> None:
    if spec.on_exit:
        handler = v.resolve(main, spec.on_exit, None, "spec.onExit", "", field_paths=False)
        if handler is not None:
            if not v.template_manifest:
                v.check_supplied(handler, spec.arguments, "spec.onExit", "")
            v.enqueue(handler, exit=True)
    for name, hook in (spec.hooks or {}).items():
        at, where = f"spec.hooks.{name}", f"hooks.{name}"
        if name != "exit" and not hook.expression:
            v.add(f"{at}.expression", f"{where} Expression required")
        if hook.expression:
            check_expression_text(v.add, f"{at}.expression", where, "expression", hook.expression)
        target = v.resolve(main, hook.template, hook.template_ref, at, where)
        if target is not None:
            v.check_hook_supplied(target, hook.arguments, at, where)
            v.enqueue(target, exit=name == "exit")
    v.drain()


def _spec_fields(v: Validator, spec: WorkflowSpec) -> None:
    pod_gc = spec.pod_gc
    if isinstance(pod_gc, dict):
        strategy = pod_gc.get("strategy") or ""
        if strategy not in POD_GC_STRATEGIES:
            v.add("spec.podGC.strategy", f"podGC.strategy unknown strategy '{strategy}'")
    if spec.retry_strategy is not None:
        check_retry(v.add, spec.retry_strategy, "spec.retryStrategy", "spec")
    defaults = spec.template_defaults
    if defaults is not None:
        if defaults.retry_strategy is not None:
            check_retry(
                v.add, defaults.retry_strategy, "spec.templateDefaults.retryStrategy", "templateDefaults"
            )
        if defaults.timeout:
            check_timeout(
                v.add,
                defaults.timeout,
                "spec.templateDefaults.timeout",
                "templateDefaults",
                "templateDefaults",
            )
