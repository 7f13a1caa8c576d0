"""Argo ``when`` conditions (govaluate after substitution): results, quirks and error messages."""

from __future__ import annotations

import pytest

from triggerfish.expressions.errors import ExpressionError
from triggerfish.expressions.govaluate import evaluate_when


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        # bare words become strings (Argo's VARIABLE -> STRING rewrite)
        ("heads == heads", True),
        ("tails == heads", False),
        ("Failed != Succeeded", True),
        ("Succeeded == Succeeded", True),
        ("even == even", True),
        # the forms used in Argo's examples, after {{...}} substitution
        ('"FAILED" == "FAILED"', True),
        ('"SUCCESS" != "SUCCESS" && "SUCCESS" == "SUCCESS"', False),
        ('"running" != "failed"', True),
        ('"true" == "true"', True),
        ("true == true", True),
        ("true", True),
        ("false", False),
        ('"" in ("always","test","")', True),
        ('"always" in ("always","test","")', True),
        ('"other" in ("always","test","")', False),
        # numbers are float64; quoted numbers stay strings
        ("5 > 3", True),
        ("1 == 1.0", True),
        ('"1" == 1', False),
        ("10 >= 10", True),
        ("1 + 2 == 3", True),
        ("7 % 4 == 3", True),
        ("2 ** 3 == 8", True),
        ("1 - 1 - 1 == -1", True),
        ("(1 + 2) * 3 == 9", True),
        ("0x1F == 31", True),
        ("-1 < 0", True),
        ("3 & 1 == 1", True),
        # strings
        ('"abc" < "abd"', True),
        ('"a" + 1 == "a1"', True),
        ('"abc" =~ "^a.c$"', True),
        ('"abc" !~ "^z"', True),
        ("abc =~ b", True),
        ("'it\\'s' == \"it\\'s\"", True),  # a backslash escapes any character
        # logic, prefixes, ternaries
        ("!false", True),
        ("!(1 == 2)", True),
        ("true && false || true", True),
        ("false && nothing == 1", False),
        ("Succeeded == Succeeded || foo", True),
        ("true ? false : true", False),
        ("false ? false : true", True),
        # identifiers may contain digits, '_' and '.' accessors; '-' splits them
        ("step_1 == step_1", True),
        ("v1 == v1", True),
        ("2021-01-01 == 2019", True),  # read as 2021 - 1 - 1
        ('"2021-01-01" == "2021-01-01"', True),  # dates become Unix times
        ('"2021-01-01" < "2021-01-02"', True),
        ('[my var] == "my var"', True),
    ],
)
def test_when(when: str, expected: bool) -> None:
    assert evaluate_when(when) is expected


def test_empty_when_always_runs() -> None:
    assert evaluate_when("") is True


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("heads", "Expected boolean evaluation for 'heads'. Got heads"),
        ("1 + 1", "Expected boolean evaluation for '1 + 1'. Got 2"),
        ("false ? 1 : 2", "Expected boolean evaluation for 'false ? 1 : 2'. Got 2"),
        (
            "a==-1",
            "Invalid 'when' expression 'a==-1': Invalid token: '==-' "
            '(hint: try wrapping the affected expression in quotes ("))',
        ),
        (
            "heads == {{steps.flip.outputs.result}}",
            "Invalid 'when' expression 'heads == {{steps.flip.outputs.result}}': Invalid token: '{{' "
            '(hint: try wrapping the affected expression in quotes ("))',
        ),
        (
            "hello world == x",
            "Invalid 'when' expression 'hello world == x': "
            "Cannot transition token types from VARIABLE [hello] to VARIABLE [world]",
        ),
        ("(a == b", "Invalid 'when' expression '(a == b': Unbalanced parenthesis"),
        ("a ==", "Invalid 'when' expression 'a ==': Unexpected end of expression"),
        (" ", "Invalid 'when' expression ' ': Unexpected end of expression"),
        ('"open', "Invalid 'when' expression '\"open': Unclosed string literal"),
        # either quote ends a string: "it's" is the string it, the word s, then an unclosed string
        ('x == "it\'s"', "Invalid 'when' expression 'x == \"it's\"': Unclosed string literal"),
        (
            "abc =~ ^a",
            "Invalid 'when' expression 'abc =~ ^a': "
            "Cannot transition token types from COMPARATOR [=~] to MODIFIER [^]",
        ),
        ("x(1)", "Invalid 'when' expression 'x(1)': Undefined function x"),
        (
            "1.2.3 == 1",
            "Invalid 'when' expression '1.2.3 == 1': Unable to parse numeric value '1.2.3' to float64\n",
        ),
        (
            "result == foo.bar",
            "Invalid 'when' expression 'result == foo.bar': "
            "Unable to access unexported field 'bar' in token 'foo.bar'",
        ),
        (
            '"5" > 3',
            "Failed to evaluate 'when' expresion '\"5\" > 3': "
            "Value '5' cannot be used with the comparator '>', it is not a number",
        ),
        (
            "my-value == my-value",
            "Failed to evaluate 'when' expresion 'my-value == my-value': "
            "Value 'my' cannot be used with the modifier '-', it is not a number",
        ),
        (
            'true && "x"',
            "Failed to evaluate 'when' expresion 'true && \"x\"': "
            "Value 'x' cannot be used with the logical operator '&&', it is not a bool",
        ),
        (
            "a ? b : c",
            "Failed to evaluate 'when' expresion 'a ? b : c': "
            "Value 'a' cannot be used with the ternary operator '?', it is not a bool",
        ),
        ("!x", "Failed to evaluate 'when' expresion '!x': Value 'x' cannot be used with the prefix '!'"),
        ("Foo.Bar == x", "Failed to evaluate 'when' expresion 'Foo.Bar == x': No parameter 'Foo' found."),
        (
            '"a" in "a"',
            "Failed to evaluate 'when' expresion '\"a\" in \"a\"': "
            "Value 'a' cannot be used with the comparator 'in', it is not a number",
        ),
    ],
)
def test_errors_carry_argos_messages(when: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_when(when)
    assert caught.value.reason == message
    assert caught.value.expression == when


def test_error_positions_point_at_the_token() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_when("hello world == x")
    assert caught.value.position == 6
    with pytest.raises(ExpressionError) as caught:
        evaluate_when("a==-1")
    assert caught.value.position == 1
