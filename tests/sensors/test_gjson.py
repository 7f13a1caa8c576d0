"""GJSON paths against the examples of GJSON's SYNTAX.md and gjson's Result semantics."""

from __future__ import annotations

import json
from typing import Any

import pytest

from triggerfish.expressions.gjson import Result, format_number, get, match_pattern, raw_json, valid

DOC = json.loads(
    """{
  "name": {"first": "Tom", "last": "Anderson"},
  "age":37,
  "children": ["Sara","Alex","Jack"],
  "fav.movie": "Deer Hunter",
  "friends": [
    {"first": "Dale", "last": "Murphy", "age": 44, "nets": ["ig", "fb", "tw"]},
    {"first": "Roger", "last": "Craig", "age": 68, "nets": ["fb", "tw"]},
    {"first": "Jane", "last": "Murphy", "age": 47, "nets": ["ig", "tw"]}
  ]
}"""
)

DALE = {"first": "Dale", "last": "Murphy", "age": 44, "nets": ["ig", "fb", "tw"]}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("name.last", "Anderson"),
        ("name.first", "Tom"),
        ("age", 37),
        ("children", ["Sara", "Alex", "Jack"]),
        ("children.0", "Sara"),
        ("children.1", "Alex"),
        ("friends.1.first", "Roger"),
        ("child*.2", "Jack"),
        ("c?ildren.0", "Sara"),
        ("fav\\.movie", "Deer Hunter"),
        ("friends.#", 3),
        ("friends.#.age", [44, 68, 47]),
        ('friends.#(last=="Murphy").first', "Dale"),
        ('friends.#(last=="Murphy")#.first', ["Dale", "Jane"]),
        ("friends.#(age>45)#.last", ["Craig", "Murphy"]),
        ('friends.#(first%"D*").last', "Murphy"),
        ('friends.#(first!%"D*").last', "Craig"),
        ('children.#(!%"*a*")', "Alex"),
        ('children.#(%"*a*")#', ["Sara", "Jack"]),
        ('friends.#(nets.#(=="fb"))#.first', ["Dale", "Roger"]),
        ("friends.0.first", "Dale"),
        ("friends|0.first", "Dale"),
        ("friends.0|first", "Dale"),
        ("friends|0|first", "Dale"),
        ("friends|#", 3),
        ('friends.#(last="Murphy")#.first', ["Dale", "Jane"]),
        ('friends.#(last="Murphy")#.0', []),
        ('friends.#(last="Murphy")#|0', DALE),
        ('friends.#(last="Murphy")#.#', []),
        ('friends.#(last="Murphy")#|#', 2),
        ("children.@reverse", ["Jack", "Alex", "Sara"]),
        ("children.@reverse.0", "Jack"),
        ("@this.name.first", "Tom"),
    ],
)
def test_documented_paths(path: str, expected: Any) -> None:
    result = get(DOC, path)
    assert result.exists
    assert result.value == expected


@pytest.mark.parametrize(
    "path",
    [
        "missing",
        "name.middle",
        "children.3",
        "children.x",
        "age.x",
        'friends.#(last="Murphy")#|first',
        "",
        "x.#(",
    ],
)
def test_paths_that_do_not_exist(path: str) -> None:
    assert not get(DOC, path).exists


def test_keys_starting_with_at_are_plain_keys_unless_a_modifier() -> None:
    assert get({"@timestamp": 5}, "@timestamp").value == 5


def test_headers_with_dashes_and_escaped_wildcards() -> None:
    doc = {"headers": {"X-Github-Event": ["push"]}, "a*b": 1, "a.b": {"c": 2}}
    assert get(doc, "headers.X-Github-Event.0").value == "push"
    assert get(doc, "a\\*b").value == 1
    assert get(doc, "a\\.b.c").value == 2


def test_result_types_and_text_forms() -> None:
    doc = {
        "s": "x",
        "i": 21500,
        "f": 3.14,
        "g": 2.0,
        "big": 1e21,
        "t": True,
        "n": None,
        "o": {"a": [1, "<b>"]},
    }
    assert [get(doc, k).type for k in ("s", "i", "f", "t", "n", "o")] == [
        "String",
        "Number",
        "Number",
        "True",
        "Null",
        "JSON",
    ]
    assert get(doc, "i").string() == "21500"
    assert get(doc, "f").string() == "3.14"
    assert get(doc, "g").string() == "2"
    assert get(doc, "big").string() == "1000000000000000000000"
    assert get(doc, "n").string() == ""
    assert get(doc, "o").string() == '{"a":[1,"\\u003cb\\u003e"]}'
    assert get(doc, "missing").string() == ""


def test_float_and_bool_conversions() -> None:
    doc = {"n": 7, "s": "2.5", "bad": "x", "t": True, "yes": "T", "one": "1", "zero": 0}
    assert get(doc, "n").float() == 7.0
    assert get(doc, "s").float() == 2.5
    assert get(doc, "bad").float() == 0.0
    assert get(doc, "t").float() == 1.0
    assert get(doc, "yes").bool() is True
    assert get(doc, "one").bool() is True
    assert get(doc, "zero").bool() is False
    assert get(doc, "n").bool() is True
    assert get(doc, "missing").bool() is False


def test_go_value_turns_numbers_into_floats() -> None:
    assert get({"a": {"b": [1, 2.5, True]}}, "a").go_value() == {"b": [1.0, 2.5, True]}
    assert isinstance(get({"a": 1}, "a").go_value(), float)
    assert Result(False).go_value() is None


def test_wildcards_match_the_first_key_in_document_order() -> None:
    assert get({"beta": 1, "bravo": 2}, "b*").value == 1
    assert match_pattern("hello", "h?llo")
    assert match_pattern("", "*")
    assert not match_pattern("hello", "h?lo")


def test_raw_json_and_validity() -> None:
    assert raw_json({"b": 1, "a": [True, None, 1.5]}) == '{"b":1,"a":[true,null,1.5]}'
    assert valid(b'{"a": 1}')
    assert not valid(b"{a: 1}")
    assert format_number(-0.0) == "-0"
    assert format_number(1e-7) == "0.0000001"


def test_raw_json_escapes_as_go_whether_or_not_orjson_writes_it() -> None:
    """Without floats orjson writes the JSON; Go's HTML and line-separator escapes must survive."""
    text = 'a<b>&c "q" \\ \n\t\b\f \x01 \u2028\u2029 é 😀'
    expected = '"a\\u003cb\\u003e\\u0026c \\"q\\" \\\\ \\n\\t\\b\\f \\u0001 \\u2028\\u2029 é 😀"'
    assert raw_json(text) == expected
    assert raw_json({"k<": [text, 2**63 - 1, -5, True, None]}) == (
        '{"k\\u003c":[' + expected + ",9223372036854775807,-5,true,null]}"
    )
    assert raw_json({"big": 2**70}) == '{"big":1180591620717411303424}'  # beyond orjson's integers
    assert raw_json({"f": 2.0, "s": "<"}) == '{"f":2,"s":"\\u003c"}'  # floats: Go's formatting
    assert raw_json({1: "int key"}) == '{"1":"int key"}'
    assert raw_json(("tuple", 1)) == '["tuple",1]'
    deep = {"a": [{"b": [1, {"c": 2.0}]}], "d": {"e": [None, [3.5]]}}  # floats below the top level
    assert raw_json(deep) == '{"a":[{"b":[1,{"c":2}]}],"d":{"e":[null,[3.5]]}}'
    assert raw_json([{"k": ["x", {1: "int key below"}]}]) == '[{"k":["x",{"1":"int key below"}]}]'
