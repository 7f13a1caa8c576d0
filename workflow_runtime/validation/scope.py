"""Variables a template may reference, and the checks on ``{{...}}`` tags, ``when`` and expressions.

Mirrors ``resolveAllVariables`` in Argo's workflow/validate/validate.go: only simple tags whose
trimmed text starts with one of :data:`CHECKED_PREFIXES` are checked, against the names the
template's scope defines (inputs, earlier steps, ancestor tasks, loop items, globals). Expression
tags ``{{=...}}`` are compiled (Argo does not check them at all); ``when`` conditions are parsed
with govaluate after every tag is replaced by a placeholder, as Argo's placeholder generator does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any

from triggerfish.expressions.errors import ExpressionError
from triggerfish.expressions.expr_lang import compile_expression
from triggerfish.expressions.govaluate import evaluate_when
from workflow_runtime.spec.template import Template
from workflow_runtime.templating import Tag, TemplateError, find_tags

# common.GlobalVarValidWorkflowVariablePrefix: tags outside these prefixes are never checked.
CHECKED_PREFIXES = ("item.", "steps.", "inputs.", "outputs.", "pod.", "workflow.", "tasks.")

# resolveAllVariables' exceptions: resolved at runtime, or self references used by metrics.
ALWAYS_ALLOWED = (
    "outputs.",
    "workflow.creationTimestamp",
    "workflow.scheduledTime",
    "workflow.duration",
    "tasks.name",
    "steps.name",
    "node.name",
)

Report = Callable[[str, str], None]


class VarScope:
    """The variable names a piece of a template may use: exact names plus allowed prefixes."""

    __slots__ = ("names", "prefixes")

    def __init__(self, names: Iterable[str] = (), prefixes: Iterable[str] = ()) -> None:
        self.names: set[str] = set(names)
        self.prefixes: set[str] = set(prefixes)

    def copy(self) -> VarScope:
        return VarScope(self.names, self.prefixes)

    def add(self, *names: str) -> None:
        self.names.update(names)

    def allow_prefix(self, prefix: str) -> None:
        self.prefixes.add(prefix)

    def resolves(self, name: str) -> bool:
        return name in self.names or any(name.startswith(p) for p in self.prefixes)


def is_parameter(text: str) -> bool:
    """validate.go isParameter: the text holds a ``{{...}}`` reference (resolved only at runtime)."""
    try:
        return any(tag.kind == "simple" for tag in find_tags(text))
    except TemplateError:
        return False


def has_output(template: Template) -> bool:
    """Template.HasOutput: kinds that produce ``outputs.result`` and an exit code."""
    return template.container is not None or template.script is not None


def add_outputs(
    scope: VarScope, prefix: str, callee: Template | None, *, aggregate: bool, status: bool
) -> None:
    """validate.go addOutputsToScope for ``steps.<name>`` / ``tasks.<name>``."""
    scope.add(f"{prefix}.id", f"{prefix}.startedAt", f"{prefix}.finishedAt", f"{prefix}.hostNodeName")
    if status:
        scope.add(f"{prefix}.status")
    if callee is None:  # unresolvable (already reported, or a templateRef with variables)
        scope.allow_prefix(prefix + ".")
        return
    if has_output(callee):
        scope.add(f"{prefix}.outputs.result", f"{prefix}.exitCode")
    outputs = callee.outputs
    for param in (outputs.parameters or []) if outputs else []:
        scope.add(f"{prefix}.outputs.parameters.{param.name}")
    for art in (outputs.artifacts or []) if outputs else []:
        scope.add(f"{prefix}.outputs.artifacts.{art.name}")
    if aggregate:
        scope.add(f"{prefix}.outputs.parameters")
        if callee.script is not None:
            scope.add(f"{prefix}.outputs.result", f"{prefix}.exitCode")


def add_items(scope: VarScope, with_items: list[Any] | None, with_param: str | None, sequence: bool) -> None:
    """validate.go addItemsToScope (the exclusivity checks are made by the caller)."""
    if with_items:
        for item in with_items:
            if isinstance(item, dict):
                scope.add(*(f"item.{key}" for key in item))
            elif isinstance(item, list):
                scope.add(*(f"item.[{i}]" for i in range(len(item))))
            else:
                scope.add("item")
    elif with_param:
        scope.add("item")
        scope.allow_prefix("item.")
    elif sequence:
        scope.add("item")


def iter_strings(obj: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string (map keys included) in a JSON-like value, with its YAML path."""
    if isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "{{" in key:
                yield child, key
            yield from iter_strings(value, child)
    elif isinstance(obj, list | tuple):
        for index, value in enumerate(obj):
            yield from iter_strings(value, f"{path}[{index}]")


def _tags(text: str) -> list[Tag]:
    if "{{" not in text:
        return []
    try:
        return find_tags(text)
    except TemplateError:
        return []  # reported once by check_expressions


def check_variables(
    report: Report,
    obj: Any,
    path: str,
    scope: VarScope,
    where: str,
    skip: Collection[str] = (),
) -> None:
    """Report every checked simple tag in ``obj`` that ``scope`` cannot resolve."""
    for at, text in iter_strings(obj, path):
        if at in skip:
            continue
        for tag in _tags(text):
            if tag.kind != "simple":
                continue
            name = tag.text.strip()
            if not name.startswith(CHECKED_PREFIXES) or name.startswith(ALWAYS_ALLOWED):
                continue
            if not scope.resolves(name):
                report(at, f"{where} failed to resolve {tag.source}")


def check_expressions(report: Report, obj: Any, path: str, where: str) -> None:
    """Unclosed ``{{`` and expression tags ``{{=...}}`` that do not compile."""
    for at, text in iter_strings(obj, path):
        if "{{" not in text:
            continue
        try:
            tags = find_tags(text)
        except TemplateError as exc:
            report(at, f"{where} {exc.reason}")
            continue
        for tag in tags:
            if tag.kind != "expression":
                continue
            try:
                compile_expression(tag.text)
            except ExpressionError as exc:
                report(at, f"{where} invalid expression {tag.source}: {_reason(exc)}")


def _reason(exc: ExpressionError) -> str:
    return exc.reason if exc.position is None else f"{exc.reason} at {exc.position}"


def with_placeholders(text: str) -> str | None:
    """``text`` with every tag replaced by a distinct identifier (None if a tag is unclosed)."""
    try:
        tags = find_tags(text)
    except TemplateError:
        return None
    out: list[str] = []
    pos = 0
    for number, tag in enumerate(tags):
        out.append(text[pos : tag.start])
        out.append(f"placeholder{number}")
        pos = tag.end
    out.append(text[pos:])
    return "".join(out)


_WHEN_SYNTAX = "Invalid 'when' expression '"


def check_when(report: Report, path: str, where: str, when: str | None) -> None:
    """A ``when`` that govaluate cannot parse once its tags are substituted."""
    if not when:
        return
    substituted = with_placeholders(when)
    if substituted is None:
        return
    try:
        evaluate_when(substituted)
    except ExpressionError as exc:
        if exc.reason.startswith(_WHEN_SYNTAX):
            detail = exc.reason.removeprefix(f"{_WHEN_SYNTAX}{substituted}': ")
            report(path, f"{where} invalid 'when' expression '{when}': {detail}")
    except Exception:  # evaluating placeholders may fail in any way; only syntax matters
        return


def check_expression_text(report: Report, path: str, where: str, what: str, text: str) -> None:
    """An expr-lang expression (hook ``expression``, ``retryStrategy.expression``) that does not compile."""
    substituted = with_placeholders(text) if "{{" in text else text
    if substituted is None:
        report(path, f"{where} {what} '{text}' has an unclosed '{{{{'")
        return
    try:
        compile_expression(substituted)
    except ExpressionError as exc:
        report(path, f"{where} {what} '{text}' is invalid: {_reason(exc)}")
