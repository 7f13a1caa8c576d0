"""Dependency filters with the semantics of Argo Events' filter.go."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sensors.filters import FilterError, evaluate_govaluate, event_data, filter_event, parse_clock_time
from sensors.spec import EventDependency
from triggerfish.events import new_event
from triggerfish.expressions.errors import ExpressionError

from .helpers import T0, event


def dep(filters: dict[str, Any] | None = None, operator: str = "") -> EventDependency:
    raw: dict[str, Any] = {"name": "d", "eventSourceName": "webhook", "eventName": "example"}
    if filters is not None:
        raw["filters"] = filters
    if operator:
        raw["filtersLogicalOperator"] = operator
    return EventDependency.model_validate(raw)


def passes(filters: dict[str, Any], data: Any, operator: str = "", **kwargs: Any) -> bool:
    return filter_event(dep(filters, operator), event("example", data, **kwargs)).passed


def data_filter(
    path: str, type_: str, values: list[str], comparator: str = "", **extra: Any
) -> dict[str, Any]:
    return {"data": [{"path": path, "type": type_, "value": values, "comparator": comparator, **extra}]}


# ---------------------------------------------------------------- data filters


@pytest.mark.parametrize(
    ("comparator", "value", "expected"),
    [
        ("", "50", False),
        ("=", "51", True),
        ("!=", "50", True),
        ("!=", "51", False),
        (">", "50", True),
        (">", "51", False),
        (">=", "51", True),
        (">=", "52", False),
        ("<", "52", True),
        ("<", "51", False),
        ("<=", "51", True),
        ("<=", "50.9", False),
    ],
)
def test_number_comparators(comparator: str, value: str, expected: bool) -> None:
    assert (
        passes(data_filter("body.value", "number", [value], comparator), {"body": {"value": 51}}) is expected
    )


def test_number_values_are_any_of_and_strings_are_parsed() -> None:
    filters = data_filter("v", "number", ["1", "2.0", "3e0"])
    assert passes(filters, {"v": 3})
    assert passes(filters, {"v": "2"})  # gjson Float() parses the string
    assert not passes(filters, {"v": 4})


def test_number_not_equal_passes_when_any_value_differs() -> None:
    # Argo's loop: "!=" succeeds as soon as one listed value differs
    assert passes(data_filter("v", "number", ["1", "2"], "!="), {"v": 1})


def test_string_values_are_go_regexes_matched_anywhere() -> None:
    assert passes(
        data_filter("body.message", "string", ["hello", "hey"]), {"body": {"message": "well hello there"}}
    )
    assert passes(data_filter("m", "string", ["^ma(ster|in)$"]), {"m": "main"})
    assert not passes(data_filter("m", "string", ["^ma(ster|in)$"]), {"m": "maintenance"})
    assert passes(data_filter("m", "string", ["^release-"], "!="), {"m": "main"})
    assert not passes(data_filter("m", "string", ["^release-"], "!="), {"m": "release-1"})


def test_string_filter_on_numbers_and_blocks_uses_gjson_text() -> None:
    assert passes(data_filter("n", "string", ["^21500$"]), {"n": 21500})
    assert passes(data_filter("o", "string", ['"a":1']), {"o": {"a": 1}})


def test_string_filters_other_comparators_never_match() -> None:
    assert not passes(data_filter("m", "string", ["a"], ">"), {"m": "a"})


def test_bool_values_use_parse_bool() -> None:
    assert passes(data_filter("a", "bool", ["true"]), {"a": True})
    assert passes(data_filter("a", "bool", ["F"]), {"a": False})
    assert passes(data_filter("a", "bool", ["1"]), {"a": "true"})
    assert not passes(data_filter("a", "bool", ["true"]), {"a": False})
    outcome = filter_event(dep(data_filter("a", "bool", ["yes"])), event("example", {"a": True}))
    assert not outcome.passed
    assert outcome.error is not None and "ParseBool" in outcome.error


def test_the_advanced_example_passes() -> None:
    filters = {
        "data": [
            {"path": "a", "type": "bool", "value": ["true"]},
            {"path": "b.c", "type": "number", "value": ["3.14"]},
            {"path": "b.d", "type": "string", "value": ["hello,world", "hello, world"]},
        ]
    }
    assert passes(filters, {"a": True, "b": {"c": 3.14, "d": "hello, world"}})
    assert not passes(filters, {"a": True, "b": {"c": 3.15, "d": "hello, world"}})


def test_missing_path_rejects_with_an_error() -> None:
    outcome = filter_event(dep(data_filter("nope", "string", ["x"])), event("example", {"a": 1}))
    assert outcome == type(outcome)(False, "data filter error (path 'nope' does not exist)")


def test_data_logical_operator_or() -> None:
    filters = {
        "dataLogicalOperator": "or",
        "data": [
            {"path": "a", "type": "string", "value": ["x"]},
            {"path": "b", "type": "number", "value": ["2"]},
        ],
    }
    assert passes(filters, {"a": "no", "b": 2})
    assert passes(filters, {"a": "x", "b": 1})
    assert not passes(filters, {"a": "no", "b": 1})
    # a missing path is only an error when nothing else matched
    assert passes(filters, {"b": 2})
    outcome = filter_event(dep(filters), event("example", {"b": 1}))
    assert outcome.error == "data filter errors [path 'a' does not exist]"


def test_data_filter_template_transforms_the_value() -> None:
    filters = data_filter("repo", "string", ["^ARGO$"], template="{{ .Input | upper }}")
    assert passes(filters, {"repo": "argo"})
    assert not passes(filters, {"repo": "other"})
    empty = data_filter("repo", "string", ["x"], template="{{ .Input.nothing }}")
    outcome = filter_event(dep(empty), event("example", {"repo": "argo"}))
    assert not outcome.passed and outcome.error is not None


def test_no_data_passes_and_invalid_json_fails() -> None:
    filters = data_filter("a", "string", ["x"])
    assert passes(filters, None)
    raw = new_event(id="1", source="webhook", type="webhook", subject="example", data=b"not json")
    outcome = filter_event(dep(filters), raw)
    assert outcome.error == "data filter error (event data not valid JSON)"


# ---------------------------------------------------------------- expr filters (govaluate)

EXPR_PAYLOAD = {"a": "b", "a-longer-name": 10, "nested": {"path": {"can-get": {"longer": False}}}}


def test_expr_filters_all_must_pass() -> None:
    filters = {
        "exprs": [
            {
                "expr": 'a == "b" || c == 10',
                "fields": [{"name": "a", "path": "a"}, {"name": "c", "path": "a-longer-name"}],
            },
            {"expr": "e == false", "fields": [{"name": "e", "path": "nested.path.can-get.longer"}]},
        ]
    }
    assert passes(filters, EXPR_PAYLOAD)
    assert not passes(
        filters,
        {**EXPR_PAYLOAD, "a-longer-name": 10, "a": "x", "nested": {"path": {"can-get": {"longer": True}}}},
    )


def test_expr_filters_in_or() -> None:
    filters = {
        "exprLogicalOperator": "or",
        "exprs": [
            {
                "expr": 'a == "b" || c != 10',
                "fields": [{"name": "a", "path": "a"}, {"name": "c", "path": "a-longer-name"}],
            },
            {"expr": "e == false", "fields": [{"name": "e", "path": "nested.path.can-get.longer"}]},
        ],
    }
    assert passes(filters, {**EXPR_PAYLOAD, "a": "z"})
    assert not passes(filters, {**EXPR_PAYLOAD, "a": "z", "nested": {"path": {"can-get": {"longer": True}}}})


def test_expr_filter_numbers_regex_and_errors() -> None:
    assert passes(
        {"exprs": [{"expr": "n > 5 && n <= 10.5", "fields": [{"name": "n", "path": "n"}]}]}, {"n": 7}
    )
    assert passes(
        {"exprs": [{"expr": "s =~ '^feat'", "fields": [{"name": "s", "path": "s"}]}]}, {"s": "feature"}
    )
    assert passes({"exprs": [{"expr": "[a-b] == 1", "fields": [{"name": "a-b", "path": "x"}]}]}, {"x": 1})
    outcome = filter_event(
        dep({"exprs": [{"expr": "n > 5", "fields": [{"name": "n", "path": "missing"}]}]}),
        event("example", {"n": 1}),
    )
    assert outcome.error == "expr filter error (path 'missing' does not exist)"
    bad = filter_event(
        dep({"exprs": [{"expr": "n >", "fields": [{"name": "n", "path": "n"}]}]}), event("example", {"n": 1})
    )
    assert not bad.passed and bad.error is not None and bad.error.startswith("expr filter error")


def test_govaluate_parameters() -> None:
    assert evaluate_govaluate("a + 1 == 3", {"a": 2}) is True
    assert evaluate_govaluate("'x' in list", {"list": ["x", "y"]}) is True
    with pytest.raises(ExpressionError, match="No parameter 'b' found"):
        evaluate_govaluate("b == 1", {"a": 1})


# ---------------------------------------------------------------- context and time filters


def test_context_filter_compares_the_given_fields() -> None:
    assert passes({"context": {"source": "webhook", "type": "webhook"}}, {"a": 1})
    assert not passes({"context": {"source": "other"}}, {"a": 1})
    assert passes({"context": {"subject": "example", "datacontenttype": "application/json"}}, {"a": 1})


@pytest.mark.parametrize(
    ("start", "stop", "clock", "expected"),
    [
        ("09:00:00", "17:00:00", "12:00:00", True),
        ("09:00:00", "17:00:00", "09:00:00", True),  # start is inclusive
        ("09:00:00", "17:00:00", "17:00:00", False),  # stop is exclusive
        ("09:00:00", "17:00:00", "08:59:59", False),
        ("22:00:00", "02:00:00", "23:30:00", True),  # spans midnight
        ("22:00:00", "02:00:00", "01:59:59", True),
        ("22:00:00", "02:00:00", "02:00:00", False),
        ("22:00:00", "02:00:00", "12:00:00", False),
    ],
)
def test_time_windows(start: str, stop: str, clock: str, expected: bool) -> None:
    hour, minute, second = (int(x) for x in clock.split(":"))
    when = datetime(2024, 5, 6, hour, minute, second, tzinfo=UTC)
    assert passes({"time": {"start": start, "stop": stop}}, {"a": 1}, time=when) is expected


def test_time_window_in_a_time_zone() -> None:
    # 12:00 UTC is 08:00 in New York (EDT)
    window = {"time": {"start": "07:00:00", "stop": "09:00:00", "timezone": "America/New_York"}}
    assert passes(window, {"a": 1}, time=T0)
    assert not passes({"time": {"start": "07:00:00", "stop": "09:00:00"}}, {"a": 1}, time=T0)


def test_parse_clock_time_errors() -> None:
    assert parse_clock_time("9:05:00", T0) == datetime(2024, 5, 6, 9, 5, tzinfo=UTC)
    with pytest.raises(FilterError):
        parse_clock_time("25:00:00", T0)
    with pytest.raises(FilterError):
        parse_clock_time("noon", T0)
    with pytest.raises(FilterError, match="invalid timezone"):
        parse_clock_time("10:00:00", T0, "Mars/Olympus")


# ---------------------------------------------------------------- filters combined


def test_filters_logical_operator_or_and_and() -> None:
    filters = {"data": [{"path": "a", "type": "string", "value": ["x"]}], "context": {"source": "webhook"}}
    assert not passes(filters, {"a": "y"})
    assert passes(filters, {"a": "y"}, operator="or")
    assert not passes({**filters, "context": {"source": "other"}}, {"a": "y"}, operator="or")


def test_or_with_an_error_rejects_the_event_as_argo_does() -> None:
    filters = {
        "data": [{"path": "missing", "type": "string", "value": ["x"]}],
        "context": {"source": "webhook"},
    }
    outcome = filter_event(dep(filters, "or"), event("example", {"a": 1}))
    assert not outcome.passed and outcome.error is not None


def test_no_filters_pass() -> None:
    assert filter_event(dep(), event("example", {"a": 1})).passed


def test_event_data_forms() -> None:
    assert event_data(event("example", {"a": 1})).raw == b'{"a":1}'
    assert not event_data(event("example", None)).present
    text = new_event(id="1", source="s", type="t", subject="x", data='{"a": 2}', datacontenttype="text/plain")
    assert event_data(text).value == {"a": 2}
