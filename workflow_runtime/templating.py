"""Argo's ``{{...}}`` substitution (util/template in argo-workflows v4).

``{{ name }}`` tags are looked up in a flat variable map; ``{{= expr }}`` tags are expr-lang
expressions over the nested form of that map (``inputs.parameters.x`` becomes
``{"inputs": {"parameters": {"x": ...}}}``, as util/expand does). Unresolved tags follow Argo:
kept verbatim when allowed, errors otherwise, and tags without a known prefix
(``{{custom.variable}}``) always pass through untouched.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal

from triggerfish.expressions.errors import ExpressionError
from triggerfish.expressions.expr_lang import Expression, compile_expression
from triggerfish.expressions.gofmt import go_json, go_quote

__all__ = ["Scope", "Tag", "TemplateError", "find_tags", "render", "render_value"]

# common.GlobalVarValidWorkflowVariablePrefix; a bare ``item`` is treated as known as well.
KNOWN_PREFIXES = ("item.", "steps.", "inputs.", "outputs.", "pod.", "workflow.", "tasks.")
# expression_template.go variablesToCheck: an expression using one of these while it is not
# in scope yet (exit-handler or retry variables) is left for a later pass instead of evaluated.
DEFERRED_VARIABLES = (
    "item", "retries", "lastRetry.exitCode", "lastRetry.status", "lastRetry.duration",
    "lastRetry.message", "workflow.status", "workflow.failures",
)  # fmt: skip


class TemplateError(ValueError):
    """A tag that cannot be substituted; ``tag`` is the full ``{{...}}`` text."""

    def __init__(self, tag: str, reason: str) -> None:
        self.tag = tag
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Tag:
    """One ``{{...}}`` occurrence: ``text`` is what is inside (after ``=`` for expressions)."""

    kind: Literal["simple", "expression"]
    text: str
    start: int
    end: int

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)

    @property
    def source(self) -> str:
        """The tag exactly as written, braces included."""
        return "{{" + ("=" if self.kind == "expression" else "") + self.text + "}}"


@lru_cache(maxsize=16384)
def _split(text: str) -> tuple[tuple[str, ...], tuple[Tag, ...]]:
    """fasttemplate's scan: literal pieces around each ``{{ ... }}``; literals has one more item."""
    literals: list[str] = []
    tags: list[Tag] = []
    pos = 0
    while True:
        open_at = text.find("{{", pos)
        if open_at < 0:
            literals.append(text[pos:])
            return tuple(literals), tuple(tags)
        close_at = text.find("}}", open_at + 2)
        if close_at < 0:
            rest = text[open_at + 2 :]
            where = f"in the template={go_quote(text)} starting from {go_quote(rest)}"
            raise TemplateError(text[open_at:], f"Cannot find end tag={go_quote('}}')} {where}")
        literals.append(text[pos:open_at])
        inner = text[open_at + 2 : close_at]
        if inner.startswith("="):
            tags.append(Tag("expression", inner[1:], open_at, close_at + 2))
        else:
            tags.append(Tag("simple", inner, open_at, close_at + 2))
        pos = close_at + 2


def find_tags(text: str) -> list[Tag]:
    """Every tag in ``text``, in order (``TemplateError`` when a ``{{`` is never closed)."""
    return list(_split(text)[1])


def _expand(flat: Mapping[str, Any]) -> dict[str, Any]:
    """util/expand: dotted keys become nested maps; a key that has children loses its own value."""
    keys = sorted(flat)
    env: dict[str, Any] = {}
    for key in keys:
        child_at = bisect_left(keys, key + ".")
        if child_at < len(keys) and keys[child_at].startswith(key + "."):
            continue
        node = env
        *parents, leaf = key.split(".")
        for part in parents:
            existing = node.get(part)
            if not isinstance(existing, dict):
                existing = node[part] = {}
            node = existing
        node[leaf] = flat[key]
    return env


class Scope:
    """Variables visible to a template: a flat ``name -> value`` map plus its nested form.

    Scopes are immutable; ``child``/``with_values`` return new ones. The nested environment is
    built on first use only, so scopes that only serve simple tags stay cheap.
    """

    __slots__ = ("_env", "_vars")

    def __init__(self, variables: Mapping[str, Any] | None = None) -> None:
        self._vars: dict[str, Any] = dict(variables) if variables else {}
        self._env: dict[str, Any] | None = None

    @property
    def variables(self) -> Mapping[str, Any]:
        return MappingProxyType(self._vars)

    def get(self, name: str, default: Any = None) -> Any:
        return self._vars.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._vars

    def __len__(self) -> int:
        return len(self._vars)

    def child(self, **more: Any) -> Scope:
        """A copy with extra variables given as keywords (``scope.child(item="a")``)."""
        return self.with_values(more)

    def with_values(self, mapping: Mapping[str, Any]) -> Scope:
        """A copy with ``mapping`` added, overriding existing names (dotted names allowed)."""
        scope = Scope.__new__(Scope)
        scope._vars = {**self._vars, **mapping}
        scope._env = None
        return scope

    @property
    def env(self) -> Mapping[str, Any]:
        """The nested environment expressions see (built once, then cached)."""
        if self._env is None:
            self._env = _expand(self._vars)
        return self._env

    def has_path(self, dotted: str) -> bool:
        """Whether ``a.b.c`` exists in the nested environment (expression_template's hasVarInEnv)."""
        node: Any = self.env
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return False
            node = node[part]
        return True

    def __repr__(self) -> str:
        return f"Scope({self._vars!r})"


def _is_known(name: str) -> bool:
    return name == "item" or name.startswith(KNOWN_PREFIXES)


def _simple(tag: Tag, scope: Scope, allow_unresolved: bool) -> str:
    name = tag.text.strip()
    variables = scope._vars
    if name in variables:
        value = variables[name]
        if not isinstance(value, str):
            raise TemplateError(tag.source, f"failed to resolve {tag.source} to string")
        return value
    nested_at = tag.text.rfind("{{")
    if nested_at > 0:  # "{{a {{b}}": fasttemplate took "a {{b" as the tag; resolve the inner one
        nested = variables.get(tag.text[nested_at + 2 :])
        if isinstance(nested, str):
            return "{{" + tag.text[:nested_at] + nested
    if allow_unresolved or not _is_known(name):
        return tag.source
    raise TemplateError(tag.source, f"failed to resolve {tag.source}")


def _deferred(references: frozenset[str], scope: Scope) -> bool:
    return any(
        any(ref == name or ref.startswith(name + ".") for ref in references) and not scope.has_path(name)
        for name in DEFERRED_VARIABLES
    )


def _evaluate(tag: Tag, expression: Expression, scope: Scope, allow_unresolved: bool) -> str:
    """expressionReplaceStrict: missing variables decide whether failure is fatal."""
    missing = sorted(ref for ref in expression.references() if not scope.has_path(ref))
    if missing and not allow_unresolved:
        raise TemplateError(tag.source, f"failed to evaluate expression: {missing[0]} is missing")
    tolerate = bool(missing)
    if tolerate and _deferred(expression.references(), scope):
        return tag.source
    try:
        value = expression.evaluate(scope.env)
    except ExpressionError as exc:
        if tolerate:
            return tag.source
        raise TemplateError(tag.source, f"failed to evaluate expression: {exc.reason}") from None
    if value is None:
        if tolerate:
            return tag.source
        raise TemplateError(tag.source, f"failed to evaluate expression {go_quote(tag.text)}")
    if isinstance(value, str):
        return value
    try:
        return go_json(value)
    except ValueError as exc:
        if tolerate:
            return tag.source
        raise TemplateError(tag.source, f"failed to marshal evaluated expression: {exc}") from None


def _expression(tag: Tag, scope: Scope, allow_unresolved: bool) -> str:
    try:
        expression = compile_expression(tag.text)
    except ExpressionError as exc:
        raise TemplateError(tag.source, f"failed to evaluate expression: {exc.reason}") from None
    return _evaluate(tag, expression, scope, allow_unresolved)


def render(text: str, scope: Scope, *, allow_unresolved: bool) -> str:
    """Substitute every tag in ``text``. Non-string expression results are inserted as Go JSON."""
    literals, tags = _split(text)
    if not tags:
        return text
    out = [literals[0]]
    for tag, literal in zip(tags, literals[1:], strict=True):
        if tag.kind == "simple":
            out.append(_simple(tag, scope, allow_unresolved))
        else:
            out.append(_expression(tag, scope, allow_unresolved))
        out.append(literal)
    return "".join(out)


def render_value(obj: Any, scope: Scope, *, allow_unresolved: bool) -> Any:
    """``render`` applied to every string (map keys included) in nested dicts and lists."""
    if isinstance(obj, str):
        return render(obj, scope, allow_unresolved=allow_unresolved)
    if isinstance(obj, Mapping):
        return {
            render_value(k, scope, allow_unresolved=allow_unresolved): render_value(
                v, scope, allow_unresolved=allow_unresolved
            )
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [render_value(v, scope, allow_unresolved=allow_unresolved) for v in obj]
    return obj
