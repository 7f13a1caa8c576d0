"""The validation run: template sets, reference resolution, call-site checks and the work list.

Argo validates the entrypoint, then the exit handler, then every template, stopping at the first
error. Here each template body is validated once (in the context it is first reached from) and
every problem is collected; call sites (steps, tasks, hooks, entrypoint, onExit) are checked
where they are written.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from workflow_runtime.controller.templates import apply_defaults, stored_key
from workflow_runtime.spec.common import Arguments, TemplateRef
from workflow_runtime.spec.errors import Issue
from workflow_runtime.spec.template import Template
from workflow_runtime.spec.workflow import WorkflowSpec
from workflow_runtime.validation.scope import VarScope, is_parameter

KIND_LABELS = {"namespaced": "WorkflowTemplate", "cluster": "ClusterWorkflowTemplate"}
_RESOURCES = {"namespaced": "workflowtemplates", "cluster": "clusterworkflowtemplates"}


def not_found_message(scope: str, name: str) -> str:
    """Kubernetes' NotFound text, which Argo surfaces for a missing (Cluster)WorkflowTemplate."""
    return f'{_RESOURCES[scope]}.argoproj.io "{name}" not found'


@dataclass(frozen=True, slots=True)
class TemplateSet:
    """The templates names resolve in: the workflow's own, or one stored (Cluster)WorkflowTemplate's."""

    kind: str  # "local" | "namespaced" | "cluster"
    name: str
    spec: WorkflowSpec
    prefix: str  # YAML path of the spec: "spec", or "WorkflowTemplate/<name>:spec"
    index: Mapping[str, int]

    @classmethod
    def build(cls, kind: str, name: str, spec: WorkflowSpec, prefix: str) -> TemplateSet:
        index: dict[str, int] = {}
        for position, template in enumerate(spec.templates or []):
            if template.name and template.name not in index:
                index[template.name] = position
        return cls(kind, name, spec, prefix, index)

    def template(self, position: int) -> Template:
        return (self.spec.templates or [])[position]

    def path(self, position: int) -> str:
        return f"{self.prefix}.templates[{position}]"


@dataclass(frozen=True, slots=True)
class Callee:
    """A resolved reference: where the template lives and its body with ``templateDefaults`` merged."""

    tset: TemplateSet
    position: int
    template: Template


@dataclass(slots=True)
class TemplateContext:
    """One template body being validated."""

    tset: TemplateSet
    position: int
    raw: Template
    template: Template  # with templateDefaults merged
    exit: bool  # reached from the workflow's exit handler: workflow.failures is known
    scope: VarScope  # globals + inputs (+ pod.name for pods)

    @property
    def name(self) -> str:
        return self.raw.name or ""

    @property
    def path(self) -> str:
        return self.tset.path(self.position)

    @property
    def argo(self) -> str:
        """Argo's message prefix for this template."""
        return f"templates.{self.name}"


class Validator:
    def __init__(
        self,
        main: TemplateSet,
        stored: Mapping[tuple[str, str], WorkflowSpec],
        *,
        defaults: Template | None,
        globals_: VarScope,
        template_manifest: bool,
    ) -> None:
        self.main = main
        self.stored = stored
        self.defaults = defaults
        self.globals = globals_
        self.template_manifest = template_manifest
        self.workflow_arguments: Arguments | None = None
        self.issues: list[Issue] = []
        self._seen: set[Issue] = set()
        self._sets: dict[tuple[str, str], TemplateSet] = {(main.kind, main.name): main}
        self._merged: dict[tuple[str, str, int], Template] = {}
        self._queue: deque[tuple[Callee, bool]] = deque()
        self._done: set[tuple[str, str, int]] = set()

    # ------------------------------------------------------------------ issues

    def add(self, path: str, reason: str) -> None:
        issue = Issue(path, reason)
        if issue not in self._seen:
            self._seen.add(issue)
            self.issues.append(issue)

    # ------------------------------------------------------------------ templates

    def stored_set(self, key: tuple[str, str]) -> TemplateSet | None:
        tset = self._sets.get(key)
        if tset is None:
            spec = self.stored.get(key)
            if spec is None:
                return None
            tset = TemplateSet.build(key[0], key[1], spec, f"{KIND_LABELS[key[0]]}/{key[1]}:spec")
            self._sets[key] = tset
        return tset

    def merged(self, tset: TemplateSet, position: int) -> Template:
        key = (tset.kind, tset.name, position)
        template = self._merged.get(key)
        if template is None:
            raw = tset.template(position)
            try:
                template = apply_defaults(raw, self.defaults)
            except (ValueError, TypeError):  # pydantic's ValidationError is a ValueError
                template = raw
            self._merged[key] = template
        return template

    def image_default(self, tset: TemplateSet, kind: str) -> bool:
        """Whether ``templateDefaults`` (the workflow's, or the template's own spec's) set an image."""
        for defaults in (self.defaults, tset.spec.template_defaults):
            body = getattr(defaults, kind, None) if defaults is not None else None
            if body is not None and body.image:
                return True
        return False

    def resolve(
        self,
        within: TemplateSet,
        template: str | None,
        ref: TemplateRef | None,
        path: str,
        where: str,
        *,
        field_paths: bool = True,
    ) -> Callee | None:
        """validateTemplateHolder: find what a step, task, hook, entrypoint or onExit calls.

        Problems are reported at ``path`` (``.template``/``.templateRef…`` appended when
        ``field_paths``), the reason prefixed with ``where`` (Argo's wrapping). None when the
        callee is unknown, also for a ``templateRef`` with variables (resolved only at runtime).
        """

        def fail(field: str, message: str) -> None:
            at = f"{path}.{field}" if field and field_paths else path
            self.add(at, f"{where} {message}" if where else message)

        if ref is not None:
            if template:
                fail("template", "template name cannot be specified with templateRef.")
                return None
            if not ref.name:
                fail("templateRef.name", "resource name is required")
                return None
            if not ref.template:
                fail("templateRef.template", "template name is required")
                return None
            if is_parameter(ref.name) or is_parameter(ref.template):
                return None
            key = stored_key(ref)
            tset = self.stored_set(key)
            if tset is None:
                fail("templateRef.name", not_found_message(key[0], ref.name))
                return None
            position = tset.index.get(ref.template)
            if position is None:
                fail("templateRef.template", f"template reference {ref.name}.{ref.template} not found")
                return None
            return Callee(tset, position, self.merged(tset, position))
        if not template:
            fail("", "either template or templateRef must be specified")
            return None
        position = within.index.get(template)
        if position is None:
            fail("template", f"template name '{template}' undefined")
            return None
        return Callee(within, position, self.merged(within, position))

    def check_supplied(self, callee: Callee, arguments: Arguments | None, path: str, where: str) -> None:
        """ProcessArgs with the caller's real arguments: every input without a value must be given."""
        args = {p.name: p for p in (arguments.parameters or [])} if arguments else {}
        arts = {a.name for a in (arguments.artifacts or [])} if arguments else set()
        name = callee.template.name
        inputs = callee.template.inputs
        prefix = f"{where} " if where else ""
        for param in (inputs.parameters or []) if inputs else []:
            if param.value is not None or param.default is not None:
                continue
            arg = args.get(param.name)
            if arg is not None and (arg.value is not None or arg.value_from is not None):
                continue
            self.add(path, f"{prefix}templates.{name} inputs.parameters.{param.name} was not supplied")
        for art in (inputs.artifacts or []) if inputs else []:
            if art.optional or art.has_location_or_key() or art.name in arts:
                continue
            self.add(path, f"{prefix}templates.{name} inputs.artifacts.{art.name} was not supplied")

    def check_hook_supplied(self, callee: Callee, arguments: Arguments | None, path: str, where: str) -> None:
        """Hooks and exit handlers get their own arguments, else the workflow's ``spec.arguments``."""
        if arguments is not None and (arguments.parameters or arguments.artifacts):
            self.check_supplied(callee, arguments, path, where)
        elif not self.template_manifest:
            self.check_supplied(callee, self.workflow_arguments, path, where)

    # ------------------------------------------------------------------ work list

    def enqueue(self, callee: Callee | None, *, exit: bool) -> None:
        if callee is not None:
            self._queue.append((callee, exit))

    def drain(self) -> None:
        from workflow_runtime.validation.templates import validate_template

        while self._queue:
            callee, exit = self._queue.popleft()
            key = (callee.tset.kind, callee.tset.name, callee.position)
            if key in self._done:
                continue
            self._done.add(key)
            validate_template(self, callee, exit=exit)
