"""Dependency filters, as ``pkg/sensors/dependencies/filter.go`` applies them.

* **data**: a GJSON ``path`` into the event data, a ``type`` (string, number, bool), a list of
  ``value``s, an optional ``comparator`` and ``template``. Strings are Go regular expressions
  matched anywhere (``=`` passes when one matches, ``!=`` when one does not); numbers compare as
  float64; booleans use ``strconv.ParseBool``. A ``template`` renders ``{{ .Input }}`` (the value
  as text) before comparing.
* **exprs**: govaluate expressions over named GJSON ``fields`` (Argo Events uses
  ``github.com/Knetic/govaluate`` here, not expr-lang).
* **context**: type, subject, source and datacontenttype must equal the given (non-empty) ones.
* **time**: ``start`` ≤ event time < ``stop`` on the event's day in ``timezone`` (UTC by default);
  ``stop`` before ``start`` spans midnight.

Within data and exprs, ``dataLogicalOperator``/``exprLogicalOperator`` choose all (default) or any;
``filtersLogicalOperator`` combines the groups the same way. Any error (missing path, data that
is not JSON, a bad regex) rejects the event, as Argo does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sensors.spec import (
    DataFilter,
    EventContextFilter,
    EventDependency,
    EventDependencyFilter,
    ExprFilter,
    TimeFilter,
)
from triggerfish.events import Event
from triggerfish.expressions import goregex, gotemplate
from triggerfish.expressions.errors import ExpressionError
from triggerfish.expressions.gjson import Result, get, raw_json, to_go_value
from triggerfish.expressions.govalues import parse_go_float

__all__ = ["EventData", "FilterError", "FilterOutcome", "event_data", "filter_event", "parse_clock_time"]

_JSON_CONTENT = re.compile(r"^(application|text)/([a-zA-Z0-9\-.]+\+)?json(;.*)?$")


class FilterError(ValueError):
    """Why a filter could not be evaluated (the event is then rejected)."""


@dataclass(frozen=True, slots=True)
class FilterOutcome:
    passed: bool
    error: str | None = None


# ---------------------------------------------------------------- the event's data


class EventData:
    """An event's data as filters and parameters see it."""

    __slots__ = ("_raw", "present", "valid_json", "value")

    def __init__(self, present: bool, valid_json: bool, value: Any = None, raw: bytes | None = b"") -> None:
        self.present = present
        """False when the event carries no data (data filters then pass, as in Argo)."""
        self.valid_json = valid_json
        self.value = value
        """The decoded JSON value (only when ``valid_json``)."""
        self._raw = raw

    @property
    def raw(self) -> bytes:
        """The data bytes: compact JSON for JSON data, as sent for anything else. Written on first
        use: data filters walk ``value``, and re-encoding a 7 KB payload costs more than filtering it."""
        if self._raw is None:
            self._raw = raw_json(self.value).encode()
        return self._raw


def event_data(event: Event) -> EventData:
    data = event.get_data()
    if data is None:
        return EventData(False, False)
    content_type = event.get_datacontenttype() or "application/json"
    if isinstance(data, bytes | bytearray):
        raw = bytes(data)
        try:
            return EventData(True, True, json.loads(raw), raw)
        except (ValueError, UnicodeDecodeError):
            return EventData(True, False, None, raw)
    if _JSON_CONTENT.match(content_type) or not isinstance(data, str):
        return EventData(True, True, data, None)
    try:
        return EventData(True, True, json.loads(data), data.encode())
    except ValueError:
        return EventData(True, False, None, data.encode())


def event_time(event: Event, fallback: datetime | None = None) -> datetime:
    """The event's ``time`` attribute (the append time when the source set none)."""
    moment = event.get_time() or fallback or datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ---------------------------------------------------------------- entry point


def filter_event(dependency: EventDependency, event: Event, *, when: datetime | None = None) -> FilterOutcome:
    """Whether ``event`` passes ``dependency``'s filters (``when`` stands in for a missing event time)."""
    filters = dependency.filters
    if filters is None:
        return FilterOutcome(True)
    passed, error = _filter(filters, dependency.filters_logical_operator, event, when)
    if error is not None:
        return FilterOutcome(False, error)
    return FilterOutcome(passed)


def _filter(
    filters: EventDependencyFilter, operator: str, event: Event, when: datetime | None
) -> tuple[bool, str | None]:
    any_of = operator == "or"
    errors: list[str] = []
    data = event_data(event)

    expr_ok, expr_error = _filter_exprs(filters.exprs, filters.expr_logical_operator, data)
    if expr_error is not None:
        if not any_of:
            return False, expr_error
        errors.append(expr_error)

    data_ok, data_error = _filter_data(filters.data, filters.data_logical_operator, data)
    if data_error is not None:
        if not any_of:
            return False, data_error
        errors.append(data_error)

    context_ok = _filter_context(filters.context, event)

    time_ok, time_error = _filter_time(filters.time, event_time(event, when))
    if time_error is not None:
        if not any_of:
            return False, time_error
        errors.append(time_error)

    if any_of:
        passed = (
            (filters.exprs is not None and expr_ok)
            or (filters.data is not None and data_ok)
            or (filters.context is not None and context_ok)
            or (filters.time is not None and time_ok)
        )
        return passed, " / ".join(errors) if errors else None
    return expr_ok and data_ok and context_ok and time_ok, None


def _error(group: str, message: str) -> str:
    return f"{group} filter error ({message})"


def _errors(group: str, messages: list[str]) -> str:
    return f"{group} filter errors [{' / '.join(messages)}]"


# ---------------------------------------------------------------- expr filters (govaluate)


def _filter_exprs(
    filters: list[ExprFilter] | None, operator: str, data: EventData
) -> tuple[bool, str | None]:
    if filters is None:
        return True, None
    if not data.present:
        return True, None
    if not data.valid_json:
        return False, _error("expr", "event data not valid JSON")
    any_of = operator == "or"
    messages: list[str] = []
    for expr_filter in filters:
        parameters: dict[str, Any] = {}
        missing = None
        for fld in expr_filter.fields:
            found = get(data.value, fld.path)
            if not found.exists:
                missing = f"path '{fld.path}' does not exist"
                break
            parameters[fld.name] = found.go_value()
        if missing is not None:
            if not any_of:
                return False, _error("expr", missing)
            messages.append(missing)
            continue
        if not parameters:
            continue
        try:
            result = evaluate_govaluate(expr_filter.expr, parameters)
        except ExpressionError as exc:
            if not any_of:
                return False, _error("expr", exc.reason)
            messages.append(exc.reason)
            continue
        if result is True:
            if any_of:
                return True, None
        elif not any_of:
            return False, None
    if any_of:
        return False, _errors("expr", messages) if messages else None
    return True, None


def evaluate_govaluate(source: str, parameters: Mapping[str, Any]) -> Any:
    """``govaluate.NewEvaluableExpression(source).Evaluate(parameters)``.

    Reuses the lexer, grammar and evaluator of :mod:`triggerfish.expressions.govaluate` (written for
    Argo Workflows' ``when``, where bare names are strings); here a bare name is a parameter.
    """
    from triggerfish.expressions import govaluate as gv

    try:
        tokens = gv._lex(source)
        gv._check_syntax(tokens)
        out: list[gv._Tok] = []
        for token in tokens:
            if token.kind == "VARIABLE" and token.value in parameters:
                token = gv._Tok("STRING", _sanitize(parameters[token.value]), token.pos)
            elif token.kind == "ACCESSOR":
                raise gv._Fault(f"No parameter '{str(token.value).split('.')[0]}' found.", token.pos)
            if (
                token.kind == "STRING"
                and out
                and out[-1].value in ("=~", "!~")
                and isinstance(token.value, str)
            ):
                token = gv._Tok("PATTERN", goregex.compile_go_regex(token.value), token.pos)
            out.append(token)
        tree = gv._parser().parse(out)  # type: ignore[arg-type,unused-ignore]  # fed through govaluate's lexer
        node = gv._ToNodes(out).transform(tree)
        return gv._evaluate(node)
    except gv._Fault as fault:
        raise ExpressionError(source, fault.message, fault.pos) from None
    except ValueError as exc:
        raise ExpressionError(source, str(exc)) from None
    except Exception as exc:  # lark errors on token sequences govaluate's checker let through
        raise ExpressionError(source, f"cannot evaluate: {exc}") from None


def _sanitize(value: Any) -> Any:
    """govaluate's ``sanitizedParameters``: every number is a float64."""
    return to_go_value(value)


# ---------------------------------------------------------------- data filters


_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
          "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}  # fmt: skip


def _parse_bool(text: str) -> bool:
    if text not in _BOOLS:
        raise FilterError(f'strconv.ParseBool: parsing "{text}": invalid syntax')
    return _BOOLS[text]


def _compare_numbers(event_value: float, filter_value: float, comparator: str) -> bool:
    if comparator == ">=":
        return event_value >= filter_value
    if comparator == ">":
        return event_value > filter_value
    if comparator == "<":
        return event_value < filter_value
    if comparator == "<=":
        return event_value <= filter_value
    if comparator == "!=":
        return event_value != filter_value
    return event_value == filter_value


def _data_filter_matches(data_filter: DataFilter, result: Result) -> bool:
    """One data filter against the value found at its path; ``FilterError`` for a bad value."""
    if data_filter.type == "bool":
        actual = result.bool()
        return any(_parse_bool(value) == actual for value in data_filter.value)
    if data_filter.type == "number":
        actual_number = result.float()
        for value in data_filter.value:
            try:
                expected = parse_go_float(value)
            except ValueError as exc:
                raise FilterError(str(exc)) from None
            if _compare_numbers(actual_number, expected, data_filter.comparator):
                return True
        return False
    if data_filter.type == "string":
        text = result.string()
        for value in data_filter.value:
            try:
                pattern = goregex.compile_go_regex(value)
            except ValueError as exc:
                raise FilterError(str(exc)) from None
            found = pattern.search(text) is not None
            if data_filter.comparator in ("=", ""):
                if found:
                    return True
            elif data_filter.comparator == "!=" and not found:
                return True
        return False
    raise FilterError(f"unsupported JSON type '{data_filter.type}'")


def _filter_data(filters: list[DataFilter] | None, operator: str, data: EventData) -> tuple[bool, str | None]:
    if not filters:
        return True, None
    if not data.present:
        return True, None
    if not data.valid_json:
        return False, _error("data", "event data not valid JSON")
    any_of = operator == "or"
    messages: list[str] = []
    for data_filter in filters:
        result = get(data.value, data_filter.path)
        problem: str | None = None
        if not result.exists:
            problem = f"path '{data_filter.path}' does not exist"
        elif not data_filter.value:
            problem = "no values specified"
        elif data_filter.template:
            try:
                out = gotemplate.render(data_filter.template, {"Input": result.string()})
            except ExpressionError as exc:
                problem = str(exc)
            else:
                if out in ("", "<no value>"):
                    problem = (
                        f"template evaluated to empty string or no value: '{data_filter.template}'"
                        if any_of
                        else f"template '{data_filter.template}' evaluated to empty string or no value"
                    )
                else:
                    result = Result(True, out)
        if problem is not None:
            if not any_of:
                return False, _error("data", problem)
            messages.append(problem)
            continue
        try:
            matched = _data_filter_matches(data_filter, result)
        except FilterError as exc:
            if not any_of:
                return False, _error("data", str(exc))
            messages.append(str(exc))
            continue
        if matched and any_of:
            return True, None
        if not matched and not any_of:
            return False, None
    if any_of:
        return False, _errors("data", messages) if messages else None
    return True, None


# ---------------------------------------------------------------- context and time filters


def _filter_context(expected: EventContextFilter | None, event: Event) -> bool:
    if expected is None:
        return True
    actual = {
        "type": event.get_type(),
        "subject": event.get_subject() or "",
        "source": event.get_source(),
        "datacontenttype": event.get_datacontenttype() or "",
    }
    return all(getattr(expected, name) == actual[name] for name in actual if getattr(expected, name) != "")


_CLOCK = re.compile(r"(\d{1,2}):(\d{2}):(\d{2})")


def _zone(timezone: str) -> tzinfo:
    if not timezone:
        return UTC
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise FilterError(f"invalid timezone '{timezone}'") from None


def parse_clock_time(text: str, base: datetime, timezone: str = "") -> datetime:
    """``HH:MM:SS`` on ``base``'s date in ``timezone`` (UTC by default), as Argo's ParseTime does."""
    zone = _zone(timezone)
    day = base.astimezone(zone).date()
    match = _CLOCK.fullmatch(text)
    if match is None:
        raise FilterError(f'parsing time "{day.isoformat()} {text}" as "2006-01-02 15:04:05": cannot parse')
    hour, minute, second = (int(part) for part in match.groups())
    if hour > 23 or minute > 59 or second > 59:
        raise FilterError(f'parsing time "{day.isoformat()} {text}": out of range')
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=zone)


def _filter_time(time_filter: TimeFilter | None, moment: datetime) -> tuple[bool, str | None]:
    if time_filter is None:
        return True, None
    try:
        start = parse_clock_time(time_filter.start, moment, time_filter.timezone)
        stop = parse_clock_time(time_filter.stop, moment, time_filter.timezone)
    except FilterError as exc:
        return False, _error("time", str(exc))
    if start < stop:
        return start <= moment < stop, None
    return moment >= start or moment < stop, None
