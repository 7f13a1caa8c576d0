"""Argo's ``when`` conditions: Knetic/govaluate semantics after ``{{...}}`` substitution.

Argo (workflow/controller/steps.go ``shouldExecute``) parses the substituted text with govaluate,
turns every bare identifier into a string literal of its own text (``heads == heads`` is true),
evaluates without parameters and requires a boolean. The lexer below is a port of govaluate's
``readToken`` (it decides prefix-minus vs minus from the previous token, lets either quote end a
string, reads ``2021-01-01`` as ``2021 - 1 - 1`` and quoted dates as times); the token stream is then
parsed with the lark grammar ``govaluate.lark``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput
from lark.lexer import Lexer

from triggerfish.expressions import goregex
from triggerfish.expressions.errors import ExpressionError
from triggerfish.expressions.gofmt import go_format
from triggerfish.expressions.gotime import load_location, parse_time

__all__ = ["evaluate_when"]

_PREFIX = {"-", "!", "~"}
_MODIFIERS = {"+", "-", "*", "/", "%", "**", "&", "|", "^", ">>", "<<"}
_LOGICAL = {"&&", "||"}
_COMPARATORS = {"==", "!=", ">", ">=", "<", "<=", "=~", "!~", "in"}
_TERNARY = {"?", ":", "??"}

_VALUE_KINDS = (
    "PREFIX",
    "NUMERIC",
    "BOOLEAN",
    "VARIABLE",
    "PATTERN",
    "FUNCTION",
    "ACCESSOR",
    "STRING",
    "TIME",
    "CLAUSE",
)
_AFTER_VALUE = ("MODIFIER", "COMPARATOR", "LOGICALOP", "CLAUSE_CLOSE", "TERNARY", "SEPARATOR")
# lexerState.go: which token kind may follow which, and which kinds may end an expression.
_NEXT: dict[str, tuple[str, ...]] = {
    "UNKNOWN": _VALUE_KINDS,
    "CLAUSE": (*_VALUE_KINDS, "CLAUSE_CLOSE"),
    "CLAUSE_CLOSE": ("COMPARATOR", "MODIFIER", "NUMERIC", "BOOLEAN", "VARIABLE", "STRING", "PATTERN",
                     "TIME", "CLAUSE", "CLAUSE_CLOSE", "LOGICALOP", "TERNARY", "SEPARATOR"),
    "NUMERIC": _AFTER_VALUE, "BOOLEAN": _AFTER_VALUE, "STRING": _AFTER_VALUE, "VARIABLE": _AFTER_VALUE,
    "TIME": ("MODIFIER", "COMPARATOR", "LOGICALOP", "CLAUSE_CLOSE", "SEPARATOR"),
    "PATTERN": ("MODIFIER", "COMPARATOR", "LOGICALOP", "CLAUSE_CLOSE", "SEPARATOR"),
    "MODIFIER": ("PREFIX", "NUMERIC", "VARIABLE", "FUNCTION", "ACCESSOR", "STRING", "BOOLEAN", "CLAUSE",
                 "CLAUSE_CLOSE"),
    "COMPARATOR": (*_VALUE_KINDS, "CLAUSE_CLOSE"),
    "LOGICALOP": tuple(k for k in (*_VALUE_KINDS, "CLAUSE_CLOSE") if k != "PATTERN"),
    "PREFIX": ("NUMERIC", "BOOLEAN", "VARIABLE", "FUNCTION", "ACCESSOR", "CLAUSE", "CLAUSE_CLOSE"),
    "TERNARY": ("PREFIX", "NUMERIC", "BOOLEAN", "STRING", "TIME", "VARIABLE", "FUNCTION", "ACCESSOR",
                "CLAUSE", "SEPARATOR"),
    "ACCESSOR": ("CLAUSE", *_AFTER_VALUE),
    "SEPARATOR": ("PREFIX", "NUMERIC", "BOOLEAN", "STRING", "TIME", "VARIABLE", "FUNCTION", "ACCESSOR",
                  "CLAUSE"),
}  # fmt: skip
_CAN_END = {"CLAUSE_CLOSE", "NUMERIC", "BOOLEAN", "STRING", "TIME", "PATTERN", "VARIABLE", "ACCESSOR"}

# govaluate tries these layouts (in this order) on every quoted string.
_TIME_LAYOUTS = (
    "Mon Jan _2 15:04:05 2006", "Mon Jan _2 15:04:05 MST 2006", "Mon Jan 02 15:04:05 -0700 2006", "3:04PM",
    "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02", "2006-01-02 15:04",
    "2006-01-02 15:04:05", "2006-01-02 15:04:05-07:00", "2006-01-02T15Z0700", "2006-01-02T15:04Z0700",
    "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05.999999999Z0700",
)  # fmt: skip


class _Fault(Exception):
    def __init__(self, message: str, pos: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


@dataclass(frozen=True, slots=True)
class _Tok:
    """A govaluate token: its kind (VARIABLE, NUMERIC...), Go value and source offset."""

    kind: str
    value: Any
    pos: int


# ---------------------------------------------------------------- lexer (port of parsing.go)


def _is_digit(ch: str) -> bool:
    return ch.isdecimal()


def _is_numeric(ch: str) -> bool:
    return _is_digit(ch) or ch == "."


def _is_variable_name(ch: str) -> bool:
    return ch.isalpha() or _is_digit(ch) or ch in "_."


def _is_not_alphanumeric(ch: str) -> bool:
    return not (_is_digit(ch) or ch.isalpha() or ch in "()[]'\"")


class _Stream:
    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0

    def can_read(self) -> bool:
        return self.pos < len(self.source)

    def read(self) -> str:
        ch = self.source[self.pos] if self.can_read() else ""
        self.pos += 1
        return ch

    def read_until_false(
        self, include_space: bool, break_space: bool, condition: Callable[[str], bool]
    ) -> tuple[str, bool]:
        """readUntilFalse: backslash escapes the next character; True when stopped by ``condition``."""
        buffer: list[str] = []
        while self.can_read():
            ch = self.read()
            if ch == "\\":
                buffer.append(self.read())
                continue
            if ch.isspace():
                if break_space and buffer:
                    return "".join(buffer), True
                if not include_space:
                    continue
            if condition(ch):
                buffer.append(ch)
            else:
                self.pos -= 1
                return "".join(buffer), True
        return "".join(buffer), False

    def read_token(self, condition: Callable[[str], bool]) -> str:
        self.pos -= 1
        return self.read_until_false(False, True, condition)[0]


def _parse_float(text: str, pos: int) -> float:
    if re.fullmatch(r"\d*\.?\d*", text) and any(c.isdigit() for c in text):
        return float(text)
    raise _Fault(f"Unable to parse numeric value '{text}' to float64\n", pos)


def _try_time(text: str) -> float | None:
    """govaluate turns a quoted string that parses as a date into its Unix time (local zone)."""
    local = load_location("Local")
    for layout in _TIME_LAYOUTS:
        try:
            parsed: datetime = parse_time(layout, text, local)
        except ValueError:
            continue
        return float(math.floor(parsed.timestamp()))
    return None


def _read_word(stream: _Stream, start: int) -> _Tok:
    word = stream.read_token(_is_variable_name)
    if word in ("true", "false"):
        return _Tok("BOOLEAN", word == "true", start)
    if word in ("in", "IN"):
        return _Tok("COMPARATOR", "in", start)
    if "." in word:
        if word.endswith("."):
            raise _Fault(f"Hanging accessor on token '{word}'", start)
        parts = word.split(".")
        for part in parts[1:]:
            if part[:1].upper() != part[:1]:
                raise _Fault(f"Unable to access unexported field '{part}' in token '{word}'", start)
        return _Tok("ACCESSOR", word, start)
    return _Tok("VARIABLE", word, start)


def _read_symbol(stream: _Stream, start: int, previous: str) -> _Tok:
    symbol = stream.read_token(_is_not_alphanumeric)
    if symbol in _PREFIX and "PREFIX" in _NEXT[previous]:
        return _Tok("PREFIX", symbol, start)
    for kind, symbols in (
        ("MODIFIER", _MODIFIERS),
        ("LOGICALOP", _LOGICAL),
        ("COMPARATOR", _COMPARATORS),
        ("TERNARY", _TERNARY),
    ):
        if symbol in symbols:
            return _Tok(kind, symbol, start)
    raise _Fault(f"Invalid token: '{symbol}'", start)


def _read_number(stream: _Stream, first: str, start: int) -> _Tok:
    if first == "0" and stream.can_read():
        if stream.read() == "x" and stream.can_read():
            digits = stream.read_until_false(False, True, lambda c: c in "0123456789abcdefABCDEF")[0]
            try:
                return _Tok("NUMERIC", float(int(digits, 16)), start)
            except ValueError:
                raise _Fault(f"Unable to parse hex value '{digits}' to uint64\n", start) from None
        stream.pos -= 1
    text = stream.read_token(_is_numeric)
    return _Tok("NUMERIC", _parse_float(text, start), start)


def _read_one(stream: _Stream, previous: str) -> _Tok | None:
    while stream.can_read():
        start = stream.pos
        ch = stream.read()
        if ch.isspace():
            continue
        if _is_numeric(ch):
            return _read_number(stream, ch, start)
        if ch == ",":
            return _Tok("SEPARATOR", ",", start)
        if ch == "[":
            name, completed = stream.read_until_false(True, False, lambda c: c != "]")
            if not completed:
                raise _Fault("Unclosed parameter bracket", start)
            stream.pos += 1
            return _Tok("VARIABLE", name, start)
        if ch.isalpha():
            return _read_word(stream, start)
        if ch in "'\"":
            text, completed = stream.read_until_false(True, False, lambda c: c not in "'\"")
            if not completed:
                raise _Fault("Unclosed string literal", start)
            stream.pos += 1
            when = _try_time(text)
            return _Tok("STRING", text, start) if when is None else _Tok("TIME", when, start)
        if ch == "(":
            return _Tok("CLAUSE", ord("("), start)
        if ch == ")":
            return _Tok("CLAUSE_CLOSE", ord(")"), start)
        return _read_symbol(stream, start, previous)
    return None


def _lex(source: str) -> list[_Tok]:
    stream = _Stream(source)
    tokens: list[_Tok] = []
    previous = "UNKNOWN"
    while (token := _read_one(stream, previous)) is not None:
        tokens.append(token)
        previous = token.kind
    if sum(1 if t.kind == "CLAUSE" else -1 if t.kind == "CLAUSE_CLOSE" else 0 for t in tokens) != 0:
        raise _Fault("Unbalanced parenthesis")
    return tokens


def _check_syntax(tokens: list[_Tok]) -> None:
    """checkExpressionSyntax: every token must be allowed after the previous one."""
    state, last = "UNKNOWN", None
    for token in tokens:
        if token.kind not in _NEXT[state]:
            if state == "VARIABLE" and token.kind == "CLAUSE" and last is not None:
                raise _Fault(f"Undefined function {last.value}", token.pos)
            shown = "<nil>" if last is None else go_format(last.value)
            after = f"{token.kind} [{go_format(token.value)}]"
            raise _Fault(f"Cannot transition token types from {state} [{shown}] to {after}", token.pos)
        state, last = token.kind, token
    if state not in _CAN_END:
        raise _Fault("Unexpected end of expression", tokens[-1].pos if tokens else 0)


def _argo_tokens(tokens: list[_Tok]) -> list[_Tok]:
    """Argo's rewrite: VARIABLE tokens become strings; a string after =~ / !~ becomes a pattern."""
    out: list[_Tok] = []
    for token in tokens:
        if token.kind == "VARIABLE":
            token = _Tok("STRING", token.value, token.pos)
        if token.kind == "STRING" and out and out[-1].value in ("=~", "!~"):
            try:
                token = _Tok("PATTERN", goregex.compile_go_regex(token.value), token.pos)
            except ValueError as exc:
                raise _Fault(str(exc), token.pos) from None
        out.append(token)
    return out


# ---------------------------------------------------------------- parsing with the lark grammar


def _terminal(token: _Tok) -> str:
    if token.kind in ("CLAUSE", "CLAUSE_CLOSE", "SEPARATOR", "PREFIX", "TERNARY"):
        return {"CLAUSE": "LPAREN", "CLAUSE_CLOSE": "RPAREN", "SEPARATOR": "COMMA"}.get(
            token.kind, token.kind + "_OP"
        )
    if token.kind == "LOGICALOP":
        return "AND_OP" if token.value == "&&" else "OR_OP"
    if token.kind == "COMPARATOR":
        return "CMP_OP"
    if token.kind == "MODIFIER":
        groups = {"+": "ADD_OP", "-": "ADD_OP", "*": "MUL_OP", "/": "MUL_OP", "%": "MUL_OP", "**": "EXP_OP"}
        return groups.get(token.value, "SHIFT_OP" if token.value in ("<<", ">>") else "BIT_OP")
    return str(token.kind)


class _Feeder(Lexer):
    """Hands the pre-lexed tokens to lark; each lark token's text is its index in the list."""

    def __init__(self, conf: Any) -> None:
        self.conf = conf

    def lex(self, tokens: list[_Tok]) -> Iterator[Token]:  # type: ignore[override]  # lark's "interface 0"
        for index, token in enumerate(tokens):
            yield Token(_terminal(token), str(index), start_pos=token.pos)


@dataclass(frozen=True, slots=True)
class _Lit:
    value: Any


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class _Op:
    symbol: str
    left: _Node | None
    right: _Node
    pos: int


@dataclass(frozen=True, slots=True)
class _Separate:
    left: _Node
    right: _Node


_Node = _Lit | _Param | _Op | _Separate


class _ToNodes(Transformer[Token, _Node]):
    def __init__(self, tokens: list[_Tok]) -> None:
        super().__init__()
        self.tokens = tokens

    def _tok(self, token: Token) -> _Tok:
        return self.tokens[int(token)]

    def literal(self, children: list[Token]) -> _Node:
        return _Lit(self._tok(children[0]).value)

    def parameter(self, children: list[Token]) -> _Node:
        token = self._tok(children[0])
        return _Param(str(token.value).split(".")[0], token.pos)

    def group(self, children: list[Any]) -> _Node:
        node: _Node = children[1]
        return node

    def prefix(self, children: list[Any]) -> _Node:
        token = self._tok(children[0])
        return _Op(token.value, None, children[1], token.pos)

    def binary(self, children: list[Any]) -> _Node:
        token = self._tok(children[1])
        return _Op(token.value, children[0], children[2], token.pos)

    def separate(self, children: list[Any]) -> _Node:
        return _Separate(children[0], children[2])


@cache
def _parser() -> Lark:
    grammar = Path(__file__).with_name("govaluate.lark").read_text()
    return Lark(grammar, parser="lalr", lexer=_Feeder)


# ---------------------------------------------------------------- evaluation (evaluationStage.go)


def _is_float(value: Any) -> bool:
    return isinstance(value, float)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


_LOGICAL_ERROR = "Value '{}' cannot be used with the logical operator '{}', it is not a bool"
_MODIFIER_ERROR = "Value '{}' cannot be used with the modifier '{}', it is not a number"
_COMPARATOR_ERROR = "Value '{}' cannot be used with the comparator '{}', it is not a number"
_TERNARY_ERROR = "Value '{}' cannot be used with the ternary operator '{}', it is not a bool"
_PREFIX_ERROR = "Value '{}' cannot be used with the prefix '{}'"

_Check = Callable[[Any], bool] | None
# symbol -> (left check, right check, message); "both" checks live in _combined_check.
_CHECKS: dict[str, tuple[_Check, _Check, str]] = {
    "&&": (_is_bool, _is_bool, _LOGICAL_ERROR), "||": (_is_bool, _is_bool, _LOGICAL_ERROR),
    "=~": (lambda v: isinstance(v, str), lambda v: isinstance(v, str | re.Pattern), _COMPARATOR_ERROR),
    "!~": (lambda v: isinstance(v, str), lambda v: isinstance(v, str | re.Pattern), _COMPARATOR_ERROR),
    "in": (None, lambda v: isinstance(v, list), _COMPARATOR_ERROR),
    "?": (_is_bool, None, _TERNARY_ERROR),
    **{op: (_is_float, _is_float, _MODIFIER_ERROR) for op in ("-", "*", "/", "%", "**", "&", "|", "^")},
    "<<": (_is_float, _is_float, _MODIFIER_ERROR), ">>": (_is_float, _is_float, _MODIFIER_ERROR),
}  # fmt: skip
_PREFIX_CHECKS: dict[str, Callable[[Any], bool]] = {"-": _is_float, "!": _is_bool, "~": _is_float}


def _combined_check(symbol: str, left: Any, right: Any) -> None:
    if symbol == "+":
        ok = (_is_float(left) and _is_float(right)) or isinstance(left, str) or isinstance(right, str)
        if not ok:
            raise _Fault(_MODIFIER_ERROR.format(go_format(left), symbol))
    elif symbol in ("<", ">", "<=", ">="):
        ok = (_is_float(left) and _is_float(right)) or (isinstance(left, str) and isinstance(right, str))
        if not ok:
            raise _Fault(_COMPARATOR_ERROR.format(go_format(left), symbol))
    elif symbol in _CHECKS:
        left_check, right_check, message = _CHECKS[symbol]
        for check, value in ((left_check, left), (right_check, right)):
            if check is not None and not check(value):
                raise _Fault(message.format(go_format(value), symbol))


def _go_equal(a: Any, b: Any) -> bool:
    """reflect.DeepEqual over govaluate's values (float64, string, bool, []interface{})."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_go_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _matches(left: str, right: str | re.Pattern[str]) -> bool:
    if isinstance(right, str):
        try:
            right = goregex.compile_go_regex(right)
        except ValueError as exc:
            raise _Fault(f"Unable to compile regexp pattern '{right}': {exc}") from None
    return right.search(left) is not None


def _int64(value: float) -> int:
    return int(value)


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": _go_equal, "!=": lambda a, b: not _go_equal(a, b),
    "<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
    "=~": _matches, "!~": lambda a, b: not _matches(a, b),
    "&&": lambda a, b: a and b, "||": lambda a, b: a or b,
    "in": lambda a, b: any(type(a) is type(v) and a == v for v in b),
    "+": lambda a, b: go_format(a) + go_format(b) if isinstance(a, str) or isinstance(b, str) else a + b,
    "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b if b else (math.nan if a == 0 else math.copysign(math.inf, a)),
    "%": lambda a, b: math.fmod(a, b) if b else math.nan,
    "**": lambda a, b: _pow(a, b),
    "&": lambda a, b: float(_int64(a) & _int64(b)), "|": lambda a, b: float(_int64(a) | _int64(b)),
    "^": lambda a, b: float(_int64(a) ^ _int64(b)),
    "<<": lambda a, b: float((_int64(a) % 2**64 << _int64(b)) % 2**64),
    ">>": lambda a, b: float(_int64(a) % 2**64 >> _int64(b)),
    "?": lambda a, b: b if a else None,
    ":": lambda a, b: a if a is not None else b,
    "??": lambda a, b: a if a is not None else b,
}  # fmt: skip


def _pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf
    except ValueError:
        return math.nan


_SKIP = object()


def _evaluate(node: _Node) -> Any:
    if isinstance(node, _Lit):
        return node.value
    if isinstance(node, _Param):
        raise _Fault(f"No parameter '{node.name}' found.", node.pos)
    if isinstance(node, _Separate):
        left, right = _evaluate(node.left), _evaluate(node.right)
        return [*left, right] if isinstance(left, list) else [left, right]
    try:
        return _evaluate_op(node)
    except _Fault as fault:
        if fault.pos is None:
            fault.pos = node.pos
        raise


def _evaluate_op(node: _Op) -> Any:
    symbol = node.symbol
    if node.left is None:
        value = _evaluate(node.right)
        if not _PREFIX_CHECKS[symbol](value):
            raise _Fault(_PREFIX_ERROR.format(go_format(value), symbol))
        return -value if symbol == "-" else (not value) if symbol == "!" else float(~_int64(value))
    left = _evaluate(node.left)
    if (symbol == "&&" and left is False) or (symbol == "||" and left is True):
        return left
    if symbol == "??" and left is not None:
        return left
    skip_right = (symbol == "?" and left is False) or (symbol == ":" and left is not None)
    right = _SKIP if skip_right else _evaluate(node.right)
    _combined_check(symbol, left, right)
    return _OPERATORS[symbol](left, right)


# ---------------------------------------------------------------- entry point


@lru_cache(maxsize=4096)
def _compile(source: str) -> _Node:
    try:
        tokens = _lex(source)
        _check_syntax(tokens)
        tokens = _argo_tokens(tokens)
    except _Fault as fault:
        hint = (
            ' (hint: try wrapping the affected expression in quotes ("))'
            if "Invalid token" in fault.message
            else ""
        )
        raise ExpressionError(
            source, f"Invalid 'when' expression '{source}': {fault.message}{hint}", fault.pos
        ) from None
    try:
        tree = _parser().parse(tokens)
    except UnexpectedInput as exc:
        position = getattr(exc, "pos_in_stream", None)
        raise ExpressionError(
            source, f"Invalid 'when' expression '{source}': unexpected token", position
        ) from None
    node: _Node = _ToNodes(tokens).transform(tree)
    return node


def evaluate_when(source: str) -> bool:
    """Decide a step's/task's ``when`` like Argo; ``ExpressionError`` with Argo's message otherwise."""
    if source == "":
        return True
    node = _compile(source)
    try:
        result = _evaluate(node)
    except _Fault as fault:
        raise ExpressionError(
            source, f"Failed to evaluate 'when' expresion '{source}': {fault.message}", fault.pos
        ) from None
    if not isinstance(result, bool):
        raise ExpressionError(source, f"Expected boolean evaluation for '{source}'. Got {go_format(result)}")
    return result
