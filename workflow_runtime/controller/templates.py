"""Find the template a step, task, hook or entrypoint calls, with ``templateDefaults`` merged in.

Lookup is scoped like Argo's ``templateresolution.Context``: names inside a template that came
from a WorkflowTemplate (via ``templateRef``) resolve against that WorkflowTemplate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflow_runtime.spec.common import Arguments, TemplateRef
from workflow_runtime.spec.template import Template
from workflow_runtime.spec.workflow import WorkflowSpec

TEMPLATE_KINDS = ("container", "script", "steps", "dag", "suspend")


class TemplateNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Call:
    """What a step, task, hook or the entrypoint asks for: a template (by name or ref) and arguments."""

    template: str | None = None
    template_ref: TemplateRef | None = None
    arguments: Arguments | None = None


@dataclass(frozen=True, slots=True)
class TemplateScope:
    """A set of templates names are resolved in: the workflow's own, or a stored WorkflowTemplate's."""

    kind: str  # "local" | "namespaced" | "cluster"
    name: str
    templates: Mapping[str, Template]

    @property
    def label(self) -> str:
        """Argo's ``templateScope`` string, e.g. ``local/my-wf`` or ``namespaced/my-template``."""
        return f"{self.kind}/{self.name}"


def template_map(spec: WorkflowSpec) -> dict[str, Template]:
    return {t.name: t for t in spec.templates or [] if t.name}


def stored_key(ref: TemplateRef) -> tuple[str, str]:
    return ("cluster" if ref.cluster_scope else "namespaced", ref.name)


def _merge(defaults: Any, value: Any) -> Any:
    """Strategic-merge-like: maps merge recursively, ``name``-keyed lists merge by name, others replace."""
    if isinstance(defaults, dict) and isinstance(value, dict):
        merged = dict(defaults)
        for key, item in value.items():
            merged[key] = _merge(defaults[key], item) if key in defaults else item
        return merged
    if (
        isinstance(defaults, list)
        and isinstance(value, list)
        and all(isinstance(x, dict) and "name" in x for x in defaults + value)
    ):
        by_name = {x["name"]: x for x in defaults}
        for item in value:
            by_name[item["name"]] = _merge(by_name.get(item["name"], {}), item)
        return list(by_name.values())
    return value


def apply_defaults(template: Template, defaults: Template | None) -> Template:
    """Argo's ``mergedTemplateDefaultsInto``: defaults fill what the template leaves unset; the
    template keeps its own kind (a default ``script`` never turns a container into a script)."""
    if defaults is None:
        return template
    kind = template.kind
    merged = _merge(defaults.to_argo(), template.to_argo())
    for other in TEMPLATE_KINDS:
        if other != kind:
            merged.pop(other, None)
    return Template.model_validate(merged)


class TemplateResolver:
    def __init__(
        self,
        local: TemplateScope,
        stored: Mapping[tuple[str, str], WorkflowSpec],
        defaults: Template | None,
    ) -> None:
        self.local = local
        self._stored = {
            key: TemplateScope(key[0], key[1], template_map(spec)) for key, spec in stored.items()
        }
        self._defaults = defaults
        self._cache: dict[tuple[str, str, str], Template] = {}

    def resolve(self, call: Call, scope: TemplateScope) -> tuple[Template, TemplateScope]:
        """The called template (defaults applied) and the scope its own calls resolve in."""
        if call.template_ref is not None:
            key = stored_key(call.template_ref)
            target = self._stored.get(key)
            if target is None:
                kind = "ClusterWorkflowTemplate" if key[0] == "cluster" else "WorkflowTemplate"
                raise TemplateNotFound(f"{kind} '{call.template_ref.name}' not found")
            return self._lookup(target, call.template_ref.template), target
        if not call.template:
            raise TemplateNotFound("no template or templateRef given")
        return self._lookup(scope, call.template), scope

    def _lookup(self, scope: TemplateScope, name: str) -> Template:
        key = (scope.kind, scope.name, name)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        template = scope.templates.get(name)
        if template is None:
            where = "" if scope.kind == "local" else f" in {scope.label}"
            raise TemplateNotFound(f"template name '{name}' undefined{where}")
        template = apply_defaults(template, self._defaults)
        self._cache[key] = template
        return template
