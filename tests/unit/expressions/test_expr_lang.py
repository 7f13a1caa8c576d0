"""expr-lang as Argo uses it: values, Go semantics, errors, references, Argo's own expressions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from triggerfish.expressions.errors import ExpressionError
from triggerfish.expressions.expr_lang import compile_expression
from workflow_runtime.templating import find_tags

ENV: dict[str, Any] = {
    "inputs": {
        "parameters": {"msg": "hello", "my-param": "x", "n": "5", "test": "true", "list": '["a","b"]'}
    },
    "tasks": {"flip-coin": {"outputs": {"result": "heads"}}},
    "items": [1, 2, 3, 4],
    "users": [{"name": "ann", "age": 31}, {"name": "bob", "age": 25}],
    "item": {"name": "first", "type": ""},
    "workflow": {
        "parameters": {
            "data": '{"id": 7, "tags": ["a", "b"]}',
            "json": '[{"name":"should-print","value":"true"}]',
        },
    },
    "nothing": None,
}


def run(source: str, env: dict[str, Any] | None = None) -> Any:
    return compile_expression(source).evaluate(ENV if env is None else env)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # literals
        ("42", 42),
        ("0x2A", 42),
        ("0o52", 42),
        ("0b101010", 42),
        ("1_000", 1000),
        ("0.5", 0.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ('"a\\tb\\u00e9"', "a\tb\u00e9"),
        ("'single'", "single"),
        ("`raw \\n`", "raw \\n"),
        ("true", True),
        ("nil", None),
        ("[1, 'a', nil]", [1, "a", None]),
        ('{a: 1, "b": 2, 3: "c"}', {"a": 1, "b": 2, "3": "c"}),
        ("[1, 2,]", [1, 2]),
        # arithmetic with Go's types: int / int is a float, % is integer-only and truncated
        ("1 + 2", 3),
        ("7 / 2", 3.5),
        ("4 / 2", 2.0),
        ("7 % 3", 1),
        ("-7 % 3", -1),
        ("2 ** 3", 8.0),
        ("2 ^ 3", 8.0),
        ("-2 ** 2", -4.0),
        ("1 + 2.5", 3.5),
        ("1 / 0", float("inf")),
        ('"ab" + "cd"', "abcd"),
        ("2 * 3 + 4", 10),
        ("2 * (3 + 4)", 14),
        ("10 - 2 - 3", 5),
        # comparisons
        ("1 == 1.0", True),
        ('"1" == 1', False),
        ("nil == nil", True),
        ("[1, 2] == [1.0, 2]", True),
        ("1 < 2.5", True),
        ('"abc" < "abd"', True),
        ("1 < 2 < 3", True),
        ("3 > 2 > 2", False),
        ("not true", False),
        ("!false && true", True),
        ("not (1 == 2)", True),
        ("true || 1 / 0 > 1", True),
        ("false and nothing.x", False),
        # membership and strings
        ("2 in items", True),
        ("5 not in items", True),
        ('"msg" in inputs.parameters', True),
        ("1 in nothing", False),
        ('"hello" contains "ell"', True),
        ('"hello" not contains "z"', True),
        ('"hello" startsWith "he"', True),
        ('"hello" endsWith "lo"', True),
        ('"hello" matches "^h.l+o$"', True),
        ('"hello" not matches "^x"', True),
        # ranges, slices, indexes
        ("1..3", [1, 2, 3]),
        ("3..1", []),
        ("items[0]", 1),
        ("items[-1]", 4),
        ("items[1:3]", [2, 3]),
        ("items[:2]", [1, 2]),
        ("items[2:]", [3, 4]),
        ("items[:]", [1, 2, 3, 4]),
        ("items[-2:]", [3, 4]),
        ("items[1:100]", [2, 3, 4]),
        # members, optional chaining, nil coalescing
        ("inputs.parameters.msg", "hello"),
        ('inputs.parameters["my-param"]', "x"),
        ("inputs.parameters['my-param']", "x"),
        ('tasks["flip-coin"].outputs.result == "heads"', True),
        ("item.missing", None),
        ("item.missing?.deeper.still", None),
        ("nothing?.x", None),
        ("nothing?.[0]", None),
        ("item?.name", "first"),
        ('nothing ?? "default"', "default"),
        ('item.type ?? "default"', ""),
        ('get(item, "type") ?? "always"', ""),
        ('get(item, "kind") ?? "always"', "always"),
        # ternary and pipes
        ('true ? "a" : "b"', "a"),
        ('false ? "a" : true ? "b" : "c"', "b"),
        ("inputs.parameters.msg | upper()", "HELLO"),
        ('inputs.parameters.msg | upper() | split("L")', ["HE", "", "O"]),
        ("items | filter(# > 2) | map(# * 10)", [30, 40]),
        ("(1 + 2) | string()", "3"),
    ],
)
def test_evaluates_like_expr_lang(source: str, expected: Any) -> None:
    result = run(source)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("all(items, # > 0)", True),
        ("all([], false)", True),
        ("any(items, # > 3)", True),
        ("any([], true)", False),
        ("none(items, # > 4)", True),
        ("one(items, # == 2)", True),
        ("one(items, # > 2)", False),
        ("filter(items, # % 2 == 0)", [2, 4]),
        ("filter(items, {# % 2 == 0})", [2, 4]),
        ("map(users, .name)", ["ann", "bob"]),
        ("map(users, #.name)", ["ann", "bob"]),
        ("map(items, #index)", [0, 1, 2, 3]),
        ("count(items, # > 1)", 3),
        ("count([true, false, true])", 2),
        ("sum(items)", 10),
        ("sum(items, # * 0.5)", 5.0),
        ("find(items, # > 2)", 3),
        ("find(items, # > 9)", None),
        ("findIndex(items, # > 2)", 2),
        ("findIndex(items, # > 9)", -1),
        ("findLast(items, # < 3)", 2),
        ("findLastIndex(items, # < 3)", 1),
        ("groupBy(items, # % 2 == 0)", {False: [1, 3], True: [2, 4]}),
        ("sortBy(users, .age)", [{"name": "bob", "age": 25}, {"name": "ann", "age": 31}]),
        ('sortBy(users, .name, "desc")', [{"name": "bob", "age": 25}, {"name": "ann", "age": 31}]),
        ("reduce(items, #acc + #)", 10),
        ("reduce(items, #acc + #, 100)", 110),
        ("map(filter(users, .age > 30), .name)", ["ann"]),
        ("map([[1, 2], [3]], sum(#))", [3, 3]),
    ],
)
def test_closure_builtins(source: str, expected: Any) -> None:
    assert run(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('len("héllo")', 6),  # Go's len counts bytes
        ("len(items)", 4),
        ('len({"a": 1})', 1),
        ("abs(-3)", 3),
        ("abs(-2.5)", 2.5),
        ('int("42")', 42),
        ("int(3.9)", 3),
        ('float("1.5")', 1.5),
        ("float(2)", 2.0),
        ("string(1.5)", "1.5"),
        ("string(1000000.0)", "1e+06"),
        ("string([1, 'a'])", "[1 a]"),
        ('upper("abc")', "ABC"),
        ('lower("ABC")', "abc"),
        ('trim("  x  ")', "x"),
        ('trim("__x__", "_")', "x"),
        ('trimPrefix("HelloWorld", "Hello")', "World"),
        ('trimSuffix("HelloWorld", "World")', "Hello"),
        ('split("a,b,c", ",")', ["a", "b", "c"]),
        ('split("a,b,c", ",", 2)', ["a", "b,c"]),
        ('splitAfter("a,b,c", ",")', ["a,", "b,", "c"]),
        ('join(["a", "b"], "-")', "a-b"),
        ('join(["a", "b"])', "ab"),
        ('replace("aaa", "a", "b")', "bbb"),
        ('replace("aaa", "a", "b", 2)', "bba"),
        ('repeat("ab", 3)', "ababab"),
        ('indexOf("apple pie", "pie")', 6),
        ('lastIndexOf("apple pie apple", "apple")', 10),
        ('hasPrefix("HelloWorld", "Hello")', True),
        ('hasSuffix("HelloWorld", "World")', True),
        ('toJSON({"b": [1, 2], "a": "x"})', '{\n  "a": "x",\n  "b": [\n    1,\n    2\n  ]\n}'),
        ('fromJSON("{\\"a\\": 1}")', {"a": 1.0}),
        ('toBase64("Hello World")', "SGVsbG8gV29ybGQ="),
        ('fromBase64("SGVsbG8gV29ybGQ=")', "Hello World"),
        ('keys({"a": 1, "b": 2})', ["a", "b"]),
        ('values({"a": 1, "b": 2})', [1, 2]),
        ('toPairs({"a": 1})', [["a", 1]]),
        ('fromPairs([["a", 1]])', {"a": 1}),
        ("first(items)", 1),
        ("last(items)", 4),
        ("first([])", None),
        ("get(items, 10)", None),
        ("take(items, 2)", [1, 2]),
        ("max(1, 7, 3)", 7),
        ("max(items)", 4),
        ("min(1, 2.5, -1)", -1),
        ("mean(items)", 2.5),
        ("median([3, 1, 2])", 2.0),
        ("sort([3, 1, 2])", [1, 2, 3]),
        ('sort(["b", "a"], "desc")', ["b", "a"]),
        ("concat([1], [2, 3])", [1, 2, 3]),
        ("flatten([1, [2, [3]]])", [1, 2, 3]),
        ("uniq([1, 1.0, 2])", [1, 2]),
        ("reverse([1, 2])", [2, 1]),
        ("ceil(1.2)", 2.0),
        ("floor(1.8)", 1.0),
        ("round(2.5)", 3.0),
        ("round(-2.5)", -3.0),
        ("type(1.0)", "float"),
        ("type(items)", "array"),
        ("bitand(12, 10)", 8),
        ("bitshl(1, 4)", 16),
        ('duration("1h30m") > duration("90m") - duration("1s")', True),
        ('string(duration("1h30m"))', "1h30m0s"),
        ('date("2023-08-14") == date("2023-08-14 00:00:00")', True),
        ('string(date("2023-08-14T10:00:00Z"))', "2023-08-14 10:00:00 +0000 UTC"),
        ('string(date("14/08/2023", "02/01/2006"))', "2023-08-14 00:00:00 +0000 UTC"),
        ('date("2024-01-01") - date("2023-12-31") == duration("24h")', True),
    ],
)
def test_builtins(source: str, expected: Any) -> None:
    assert run(source) == expected


def test_time_values_are_python_datetimes() -> None:
    assert run('date("2023-08-14")') == datetime(2023, 8, 14, tzinfo=UTC)
    assert run('duration("1.5s")') == timedelta(seconds=1.5)
    assert run("now()").tzinfo is not None


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('asInt("42") + 1', 43),
        ('asFloat("1.5") * 2', 3.0),
        ('toJson({"b": 1, "a": [true, nil]})', '{"a":[true,null],"b":1}'),
        ('toJson("<&>")', '"\\u003c\\u0026\\u003e"'),
        ('jsonpath(workflow.parameters.data, "$.id")', 7.0),
        ('jsonpath(workflow.parameters.data, "$.tags[*]")', ["a", "b"]),
        ("jsonpath(workflow.parameters.json, '$[0].value') == 'true'", True),
        ('sprig.trim("  padded  ")', "padded"),
        ('sprig.upper("x")', "X"),
        ('sprig.replace("a", "o", "banana")', "bonono"),
        ('sprig.int("12")', 12),
        ('sprig.int("abc")', 0),
        ("sprig.add(1, 2, 3)", 6),
        ('sprig.default("d", "")', "d"),
        ("sprig.trunc(3, inputs.parameters.msg)", "hel"),
        ('sprig.substr(1, 3, "hello")', "el"),
        ('sprig.toJson(["x"])', '["x"]'),
    ],
)
def test_argo_functions(source: str, expected: Any) -> None:
    assert run(source) == expected


# The expressions used by Argo's own example and e2e workflows.
@pytest.mark.parametrize(
    ("source", "env", "expected"),
    [
        (
            "concat(['always'], inputs.parameters.test == 'true' ? ['test'] : []) | toJSON()",
            {"inputs": {"parameters": {"test": "true"}}},
            '[\n  "always",\n  "test"\n]',
        ),
        (
            "concat(['always'], inputs.parameters.test == 'true' ? ['test'] : []) | toJSON()",
            {"inputs": {"parameters": {"test": "false"}}},
            '[\n  "always"\n]',
        ),
        ("get(item, 'type') ?? 'always'", {"item": {"name": "fourth"}}, "always"),
        ("get(item, 'type') ?? 'always'", {"item": {"name": "first", "type": ""}}, ""),
        (
            "inputs.parameters.list | fromJSON() | join('\",\"')",
            {"inputs": {"parameters": {"list": '[\n  "always",\n  "test"\n]'}}},
            'always","test',
        ),
        ("workflow.parameters.data != ''", {"workflow": {"parameters": {"data": ""}}}, False),
        (
            "jsonpath(workflow.parameters.data, '$.id')",
            {"workflow": {"parameters": {"data": '{"id": "x"}'}}},
            "x",
        ),
        (
            "inputs.parameters[\"should-print\"] == 'true'",
            {"inputs": {"parameters": {"should-print": "true"}}},
            True,
        ),
        ("asInt(retries) < 2", {"retries": "1"}, True),
        ("sprig.int(retries) * 2", {"retries": "3"}, 6),
        ("lastRetry.status == 'Error'", {"lastRetry": {"status": "Failed"}}, False),
        ("asInt(lastRetry.exitCode) == 1", {"lastRetry": {"exitCode": "1"}}, True),
    ],
)
def test_argo_example_expressions(source: str, env: dict[str, Any], expected: Any) -> None:
    assert compile_expression(source).evaluate(env) == expected


@pytest.mark.parametrize(
    ("source", "reason", "position"),
    [
        ("a +", "unexpected end of input", 3),
        ("(1 + 2", "unexpected end of input", 6),
        ("1 + * 2", "unexpected token *", 4),
        (
            "a ?? b + c",
            "Operator (+) and coalesce expressions (??) cannot be mixed. Wrap either by parentheses.",
            0,
        ),
        ("# > 1", "cannot use pointer accessor outside predicate", 0),
        ("len(1, 2)", "invalid number of arguments for len (expected 1, got 2)", 0),
        ("filter(items)", "invalid number of arguments for filter (expected 2, got 1)", 0),
        ("map(items, #foo)", "unknown pointer #foo", 11),
        ('"\\q"', "invalid char escape", 1),
        ("99999999999999999999", "integer literal is too large", 0),
        ("a ~ b", "unrecognized character '~'", 2),
    ],
)
def test_syntax_errors(source: str, reason: str, position: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    assert caught.value.reason == reason
    assert caught.value.position == position
    assert caught.value.expression == source


def test_error_message_format() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("a +")
    assert str(caught.value) == 'invalid expression "a +": unexpected end of input at 3'


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("missing", "unknown name missing"),
        ("inputs.parameters.msg + missing", "unknown name missing"),
        ("undefinedFunction(1)", "unknown name undefinedFunction"),
        ("item.missing.deeper", "cannot fetch deeper from <nil>"),
        ('1 + "a"', "invalid operation: int + string"),
        ('"a" < 1', "invalid operation: string < int"),
        ("1.5 % 2", "invalid operation: float64 % int"),
        ("5 % 0", "runtime error: integer divide by zero"),
        ("items[10]", "index out of range: 10 (array length is 4)"),
        ('"a" in "abc"', 'operator "in" not defined on string'),
        ('int("x")', "invalid operation: int(x)"),
        ("true && 1", "non-bool expression (type int) used as operand of &&"),
        ("1 ? 2 : 3", "non-bool expression (type int) used as condition"),
        ("filter(items, #)", "non-bool expression (type int) used as predicate"),
        ("!1", "non-bool expression (type int) used as operand of !"),
        ("not 1 == 2", "non-bool expression (type int) used as operand of !"),
        ("1.5..3", "invalid operation: float64 .. int"),
        ("upper(1)", "invalid argument for upper (type int)"),
        ('repeat("a", -1)', "invalid argument for repeat (expected positive integer, got -1)"),
        ('repeat("a", 2000000)', "memory budget exceeded"),
        ("len(1..2000000)", "memory budget exceeded"),
        ('fromJSON("{")', "invalid JSON: Expecting property name enclosed in double quotes at offset 1"),
        ('jsonpath(workflow.parameters.data, "$.nope")', "jsonpath $.nope: no value found"),
        ("sprig.nope(1)", "nope is not a function (type <nil>)"),
        ('sprig.trunc("3", "abc")', "wrong type for value; expected int; got string"),
    ],
)
def test_runtime_errors(source: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        run(source)
    assert caught.value.reason == reason


def test_runtime_error_position_points_at_the_failing_node() -> None:
    with pytest.raises(ExpressionError) as caught:
        run("items[0] + missing")
    assert caught.value.position == 11


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("tasks['flip-coin'].outputs.result == 'x'", {"tasks.flip-coin.outputs.result"}),
        ("inputs.parameters.x", {"inputs.parameters.x"}),
        ("inputs.parameters[key].y", {"inputs.parameters", "key"}),
        ("items[0].name", {"items"}),
        ("item?.name ?? 'x'", {"item.name"}),
        ("filter(steps.a.outputs.result | fromJSON(), #.ok).x", {"steps.a.outputs.result"}),
        ("map(users, .name)", {"users"}),
        ("sprig.trim(inputs.parameters.msg) + asInt(retries)", {"inputs.parameters.msg", "retries"}),
        ("jsonpath(workflow.parameters.json, '$[0]')", {"workflow.parameters.json"}),
        ("mystery(1)", {"mystery"}),
        ("1 + 2", set()),
    ],
)
def test_references(source: str, expected: set[str]) -> None:
    assert compile_expression(source).references() == frozenset(expected)


def test_compiled_expressions_are_cached_and_reusable() -> None:
    first = compile_expression("inputs.parameters.msg + '!'")
    assert compile_expression("inputs.parameters.msg + '!'") is first
    assert first.evaluate({"inputs": {"parameters": {"msg": "a"}}}) == "a!"
    assert first.evaluate({"inputs": {"parameters": {"msg": "b"}}}) == "b!"


def test_environment_is_not_mutated_by_sprig_set() -> None:
    env = {"d": {"a": 1}}
    assert compile_expression('sprig.set(d, "b", 2)').evaluate(env) == {"a": 1, "b": 2}
    assert env == {"d": {"a": 1}}


def _argo_expressions() -> list[str]:
    """Every ``{{= }}`` expression and ``expression:`` field in Argo's conformance workflows."""
    root = Path("/work/shared/conformance/argo-workflows")
    found: list[str] = []

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str):
            if key == "expression":
                found.append(node)
            if "{{=" in node:
                found.extend(tag.text for tag in find_tags(node) if tag.kind == "expression")

    for path in sorted(root.rglob("*.yaml")) if root.is_dir() else []:
        try:
            documents = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError:
            continue
        for document in documents:
            walk(document)
    return found


@pytest.mark.parametrize("source", _argo_expressions() or ["1"])
def test_every_conformance_expression_compiles(source: str) -> None:
    assert compile_expression(source).source == source
