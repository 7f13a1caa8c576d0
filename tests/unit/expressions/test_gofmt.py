"""Go's printing of values: %v, %q, %T and encoding/json, as Argo and sprig produce them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from triggerfish.expressions.gofmt import go_format, go_json, go_quote, go_type_name


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "text"),
        ("", ""),
        (None, "<nil>"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-42, "-42"),
        (3.0, "3"),
        (3.5, "3.5"),
        (-2.25, "-2.25"),
        (0.1, "0.1"),
        (100000.0, "100000"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (1e21, "1e+21"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-07, "1.5e-07"),
        (1 / 3, "0.3333333333333333"),
        (-0.0, "-0"),
        (float("nan"), "NaN"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (["a", "b", "c"], "[a b c]"),
        ([1, "two", None, 3.5], "[1 two <nil> 3.5]"),
        ([], "[]"),
        ({"b": 2, "a": 1}, "map[a:1 b:2]"),
        ({"k": ["x", {"z": None}]}, "map[k:[x map[z:<nil>]]]"),
        ({}, "map[]"),
        (timedelta(hours=1), "1h0m0s"),
        (timedelta(minutes=1, seconds=30), "1m30s"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(milliseconds=250), "250ms"),
        (timedelta(microseconds=1), "1µs"),
        (timedelta(0), "0s"),
        (-timedelta(hours=2, minutes=3), "-2h3m0s"),
        (datetime(2024, 3, 5, 7, 8, 9, tzinfo=UTC), "2024-03-05 07:08:09 +0000 UTC"),
        (datetime(2024, 3, 5, 7, 8, 9, 500000, tzinfo=UTC), "2024-03-05 07:08:09.5 +0000 UTC"),
        (
            datetime(2024, 3, 5, 7, 8, 9, tzinfo=timezone(timedelta(hours=2))),
            "2024-03-05 07:08:09 +0200 +0200",
        ),
    ],
)
def test_go_format(value: Any, expected: str) -> None:
    assert go_format(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "true"),
        (3, "3"),
        (3.0, "3"),
        (1e6, "1000000"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e-07, "1.5e-7"),
        (0.000001, "0.000001"),
        ('a"b\\c\n\t\b\f\x01', '"a\\"b\\\\c\\n\\t\\b\\f\\u0001"'),
        ("<a&b>", '"\\u003ca\\u0026b\\u003e"'),
        ("\u2028", '"\\u2028"'),
        ("é", '"é"'),
        ([1, "x", None], '[1,"x",null]'),
        ({"b": 1, "a": {"d": [], "c": {}}}, '{"a":{"c":{},"d":[]},"b":1}'),
        (datetime(2024, 3, 5, 7, 8, 9, 120000, tzinfo=UTC), '"2024-03-05T07:08:09.12Z"'),
        (timedelta(seconds=2), "2000000000"),
    ],
)
def test_go_json(value: Any, expected: str) -> None:
    assert go_json(value) == expected


def test_go_json_indent_and_raw() -> None:
    assert go_json({"b": [1, 2], "a": {}}, indent=True) == '{\n  "a": {},\n  "b": [\n    1,\n    2\n  ]\n}'
    assert go_json([], indent=True) == "[]"
    assert go_json({"a": "<"}, escape_html=False) == '{"a":"<"}'


@pytest.mark.parametrize("value", [float("nan"), float("inf"), [float("-inf")], len])
def test_go_json_rejects_what_go_cannot_encode(value: Any) -> None:
    with pytest.raises(ValueError, match=r"^json: unsupported"):
        go_json(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("line\nbreak\ttab", '"line\\nbreak\\ttab"'),
        ("\x07\x00", '"\\a\\x00"'),
        ("é€", '"é€"'),
        ("\u00a0", '"\\u00a0"'),
        ("\U0001f600", '"\U0001f600"'),
    ],
)
def test_go_quote(text: str, expected: str) -> None:
    assert go_quote(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "<nil>"),
        (True, "bool"),
        (1, "int"),
        (1.0, "float64"),
        ("s", "string"),
        ([1], "[]interface {}"),
        ({"a": 1}, "map[string]interface {}"),
        (datetime(2024, 1, 1, tzinfo=UTC), "time.Time"),
        (timedelta(1), "time.Duration"),
    ],
)
def test_go_type_name(value: Any, expected: str) -> None:
    assert go_type_name(value) == expected
