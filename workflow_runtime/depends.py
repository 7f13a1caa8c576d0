"""DAG ``depends`` expressions ("Enhanced Depends Logic") as Argo evaluates them.

workflow/common/ancestry.go expands a bare task name ``A`` to
``(A.Succeeded || A.Skipped || A.Daemoned)``, plus ``|| A.Errored`` / ``|| A.Failed`` when task A
has ``continueOn.error`` / ``continueOn.failed``; workflow/controller/dag.go then evaluates the
results: ``.Failed`` is phase Failed only, ``.Errored`` is phase Error, ``.Daemoned`` is a daemoned
node that is no longer Pending, and ``AnySucceeded``/``AllFailed`` look at the children of an
expanded (withItems/withParam) task, ``AllFailed`` being false when there are no children.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedInput, VisitError

from triggerfish.expressions.errors import ExpressionError, syntax_error

__all__ = ["DependencyState", "DependsExpression", "dependencies_to_depends", "parse_depends"]

_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr ("||" and_expr)*
?and_expr: not_expr ("&&" not_expr)*
?not_expr: "!" not_expr               -> negate
         | TASK                       -> task
         | TASK "." RESULT            -> result
         | "(" or_expr ")"
TASK: /[A-Za-z0-9_][-A-Za-z0-9_]*/
RESULT: /[A-Za-z]+/
%ignore /\s+/
"""


@dataclass(frozen=True, slots=True)
class DependencyState:
    """What a dependant needs to know about a finished dependency.

    ``children_phases`` are the phases of an expanded task's children (withItems/withParam);
    the ``continue_on_*`` flags mirror the dependency task's ``continueOn`` and widen what a
    bare task name accepts.
    """

    phase: str
    daemoned: bool = False
    children_phases: tuple[str, ...] = ()
    continue_on_failed: bool = False
    continue_on_error: bool = False


_RESULTS: dict[str, Callable[[DependencyState], bool]] = {
    "Succeeded": lambda s: s.phase == "Succeeded",
    "Failed": lambda s: s.phase == "Failed",
    "Errored": lambda s: s.phase == "Error",
    "Skipped": lambda s: s.phase == "Skipped",
    "Omitted": lambda s: s.phase == "Omitted",
    "Daemoned": lambda s: s.daemoned and s.phase != "Pending",
    "AnySucceeded": lambda s: any(p == "Succeeded" for p in s.children_phases),
    "AllFailed": lambda s: bool(s.children_phases) and all(p == "Failed" for p in s.children_phases),
}


def _bare(state: DependencyState) -> bool:
    """ancestry.go expandDependency."""
    return (
        state.phase in ("Succeeded", "Skipped")
        or _RESULTS["Daemoned"](state)
        or (state.continue_on_error and state.phase == "Error")
        or (state.continue_on_failed and state.phase == "Failed")
    )


_States = Mapping[str, DependencyState]
_Check = Callable[[_States], bool]


class _Fault(Exception):
    def __init__(self, reason: str, pos: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pos = pos


class _MissingState(Exception):
    pass


def _state(states: _States, name: str) -> DependencyState:
    try:
        return states[name]
    except KeyError:
        raise _MissingState(name) from None


@v_args(inline=True)
class _Build(Transformer[Token, tuple[_Check, frozenset[str]]]):
    """Turns the parse tree into a predicate over task states plus the task names it reads."""

    def task(self, name: Token) -> tuple[_Check, frozenset[str]]:
        task = str(name)
        return (lambda states: _bare(_state(states, task))), frozenset({task})

    def result(self, name: Token, result: Token) -> tuple[_Check, frozenset[str]]:
        task, outcome = str(name), str(result)
        if outcome not in _RESULTS:
            raise _Fault(f"task result '{outcome}' for task '{task}' is invalid", result.start_pos or 0)
        check = _RESULTS[outcome]
        return (lambda states: check(_state(states, task))), frozenset({task})

    def negate(self, inner: tuple[_Check, frozenset[str]]) -> tuple[_Check, frozenset[str]]:
        check = inner[0]
        return (lambda states: not check(states)), inner[1]

    def or_expr(self, *parts: tuple[_Check, frozenset[str]]) -> tuple[_Check, frozenset[str]]:
        checks = [p[0] for p in parts]
        return (lambda states: any(c(states) for c in checks)), frozenset().union(*(p[1] for p in parts))

    def and_expr(self, *parts: tuple[_Check, frozenset[str]]) -> tuple[_Check, frozenset[str]]:
        checks = [p[0] for p in parts]
        return (lambda states: all(c(states) for c in checks)), frozenset().union(*(p[1] for p in parts))


class DependsExpression:
    """A parsed ``depends`` expression; ``evaluate`` tells whether the dependant may run."""

    __slots__ = ("_check", "source", "task_names")

    def __init__(self, source: str, check: _Check, task_names: frozenset[str]) -> None:
        self.source = source
        self._check = check
        self.task_names = task_names

    def evaluate(self, states: Mapping[str, DependencyState]) -> bool:
        """``ExpressionError`` when a referenced task has no state (it has not finished yet)."""
        try:
            return self._check(states)
        except _MissingState as missing:
            raise ExpressionError(self.source, f"no state for task {missing}") from None

    def __repr__(self) -> str:
        return f"DependsExpression({self.source!r})"


@cache
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr")


@lru_cache(maxsize=4096)
def parse_depends(source: str) -> DependsExpression:
    """Parse ``source``; an empty expression has no dependencies and is always satisfied."""
    if not source.strip():
        return DependsExpression(source, lambda states: True, frozenset())
    try:
        check, names = _Build().transform(_parser().parse(source))
    except UnexpectedInput as exc:
        raise syntax_error(source, exc) from None
    except VisitError as exc:
        fault = exc.orig_exc
        if isinstance(fault, _Fault):
            raise ExpressionError(source, fault.reason, fault.pos) from None
        raise
    return DependsExpression(source, check, names)


def dependencies_to_depends(names: Sequence[str]) -> str:
    """The ``depends`` equivalent of a legacy ``dependencies`` list.

    Argo joins the expansion of each name with ``&&``; a bare name in a depends expression
    means exactly that expansion (continueOn included), so the names are joined as they are.
    """
    return " && ".join(names)
