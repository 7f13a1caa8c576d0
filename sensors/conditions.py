"""Trigger ``conditions`` (``"dep-a && (dep-b || dep-c)"``) and ``conditionsReset`` schedules.

Argo Events (``pkg/sensors/listener.go`` ``getDependencyExpression``) accepts only dependency
names joined by ``&&``/``||`` with parentheses; a ``-`` in a name is fine, and because Argo maps
``-`` to ``_`` while translating, ``test_dep`` also refers to ``test-dep``. Without ``conditions``
the expression is every dependency joined by ``&&``. The expression is then evaluated with
govaluate (``&&`` binds tighter than ``||``) over "has this dependency an event" booleans.

A trigger whose expression has no ``&&`` fires on every matching event, alone and statelessly
(``requiresANDLogic`` in the JetStream driver, ``OneAndDone`` in the Kafka one); otherwise partial
matches are kept until the expression holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput

__all__ = ["Condition", "ConditionError", "CronReset", "parse_conditions", "trigger_condition"]


class ConditionError(ValueError):
    """A ``conditions`` expression or a ``conditionsReset`` schedule that cannot be used."""


_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr ("||" and_expr)*      -> any_of
?and_expr: atom ("&&" atom)*             -> all_of
?atom: NAME                              -> name
     | "(" or_expr ")"
NAME: /[A-Za-z0-9_][A-Za-z0-9_\-]*/
%import common.WS
%ignore WS
"""


@dataclass(frozen=True, slots=True)
class _Name:
    name: str


@dataclass(frozen=True, slots=True)
class _All:
    parts: tuple[_Expr, ...]


@dataclass(frozen=True, slots=True)
class _Any:
    parts: tuple[_Expr, ...]


_Expr = _Name | _All | _Any


class _ToExpr(Transformer[Token, _Expr]):
    def name(self, children: list[Token]) -> _Expr:
        return _Name(str(children[0]))

    def all_of(self, children: list[_Expr]) -> _Expr:
        return children[0] if len(children) == 1 else _All(tuple(children))

    def any_of(self, children: list[_Expr]) -> _Expr:
        return children[0] if len(children) == 1 else _Any(tuple(children))


@cache
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr")


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition over dependency names."""

    source: str
    expression: _Expr
    dependencies: tuple[str, ...]
    """The dependencies it mentions, in order of first mention (only these feed the trigger)."""

    @property
    def requires_and(self) -> bool:
        """Whether partial matches must be kept (the expression contains ``&&``)."""
        return _has_and(self.expression)

    def holds(self, present: Iterable[str]) -> bool:
        """Whether the expression is true when exactly the ``present`` dependencies have an event."""
        return _evaluate(self.expression, frozenset(present))


def _has_and(expr: _Expr) -> bool:
    if isinstance(expr, _All):
        return True
    if isinstance(expr, _Any):
        return any(_has_and(part) for part in expr.parts)
    return False


def _evaluate(expr: _Expr, present: frozenset[str]) -> bool:
    if isinstance(expr, _Name):
        return expr.name in present
    if isinstance(expr, _All):
        return all(_evaluate(part, present) for part in expr.parts)
    return any(_evaluate(part, present) for part in expr.parts)


def _resolve(expr: _Expr, names: dict[str, str], out: list[str]) -> _Expr:
    if isinstance(expr, _Name):
        key = expr.name.replace("-", "_")
        if key not in names:
            raise ConditionError(f"unknown dependency {expr.name!r} in conditions")
        resolved = names[key]
        if resolved not in out:
            out.append(resolved)
        return _Name(resolved)
    parts = tuple(_resolve(part, names, out) for part in expr.parts)
    return _All(parts) if isinstance(expr, _All) else _Any(parts)


def parse_conditions(source: str, dependencies: Sequence[str]) -> Condition:
    """Parse ``source`` against the sensor's dependency names; :class:`ConditionError` if invalid."""
    try:
        tree = _parser().parse(source)
    except UnexpectedInput as exc:
        column = getattr(exc, "column", "?")
        raise ConditionError(f"invalid conditions {source!r}: syntax error at column {column}") from None
    expr: _Expr = _ToExpr().transform(tree)
    names = {name.replace("-", "_"): name for name in dependencies}
    mentioned: list[str] = []
    resolved = _resolve(expr, names, mentioned)
    return Condition(source, resolved, tuple(mentioned))


def trigger_condition(conditions: str, dependencies: Sequence[str]) -> Condition:
    """A trigger's condition: its ``conditions``, or all dependencies joined by ``&&``."""
    if conditions:
        return parse_conditions(conditions, dependencies)
    expr: _Expr = _All(tuple(_Name(name) for name in dependencies))
    if len(dependencies) == 1:
        expr = _Name(dependencies[0])
    return Condition("&&".join(dependencies), expr, tuple(dependencies))


# ---------------------------------------------------------------- conditionsReset


class CronReset:
    """A ``conditionsReset.byTime`` schedule: standard five-field cron in an optional time zone."""

    def __init__(self, cron: str, timezone: str = "") -> None:
        if len(cron.split()) != 5 or not croniter.is_valid(cron):
            raise ConditionError(f"invalid cron expression {cron!r}")
        self.cron = cron
        self.zone: tzinfo
        try:
            self.zone = ZoneInfo(timezone) if timezone else UTC
        except (ZoneInfoNotFoundError, ValueError):
            raise ConditionError(f"invalid timezone {timezone!r}") from None

    def previous(self, now: datetime) -> datetime:
        """The latest tick at or before ``now``."""
        local = now.astimezone(self.zone)
        probe = croniter(self.cron, local)
        tick: datetime = probe.get_prev(datetime)
        if croniter.match(self.cron, local.replace(second=0, microsecond=0)) and local.second == 0:
            tick = local.replace(microsecond=0)
        return tick.astimezone(UTC)

    def next(self, now: datetime) -> datetime:
        """The first tick after ``now``."""
        tick: datetime = croniter(self.cron, now.astimezone(self.zone)).get_next(datetime)
        return tick.astimezone(UTC)

    def __repr__(self) -> str:
        return f"CronReset({self.cron!r}, {self.zone!s})"


def last_reset(resets: Sequence[CronReset], now: datetime) -> datetime | None:
    """The most recent tick of any schedule (partial matches older than it no longer count)."""
    ticks: list[Any] = [reset.previous(now) for reset in resets]
    return max(ticks) if ticks else None
