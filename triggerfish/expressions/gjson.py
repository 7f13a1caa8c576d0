"""GJSON paths (github.com/tidwall/gjson) over decoded JSON values, as Argo Events uses them.

Argo Events selects event data with GJSON (``dataKey``, data filter ``path``, expr filter fields).
This is an independent implementation of the documented path syntax (SYNTAX.md): ``.``-separated
keys with ``\\`` escapes, ``*``/``?`` wildcards in keys, array indexes, ``#`` (length) and
``#.key`` (map over an array), queries ``#(key==value)`` / ``#(...)#``, ``|`` chaining and the
simple modifiers (``@this``, ``@reverse``, ``@flatten``, ``@keys``, ``@values``, ``@valid``,
``@ugly``, ``@pretty``). Multipaths (``[a,b]`` / ``{a,b}``) and static ``!`` values are not
implemented: such paths do not exist.

The document is the decoded value (``dict``/``list``/``str``/``int``/``float``/``bool``/``None``),
not the raw bytes; :meth:`Result.raw` re-encodes compactly in key order, which is what Go's
``encoding/json`` produced for the event in the first place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from triggerfish.expressions.govalues import parse_go_float

__all__ = ["Result", "get", "match_pattern", "raw_json", "valid"]


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Result:
    """What ``gjson.Get`` returns: whether the path exists and the value found there."""

    exists: bool
    value: Any = None

    @property
    def type(self) -> str:
        """gjson's ``Type.String()``: Null, False, Number, String, True or JSON."""
        value = self.value
        if not self.exists or value is None:
            return "Null"
        if value is True:
            return "True"
        if value is False:
            return "False"
        if isinstance(value, int | float):
            return "Number"
        if isinstance(value, str):
            return "String"
        return "JSON"

    def string(self) -> str:
        """gjson's ``String()``: strings as-is, numbers in shortest form, JSON as raw text."""
        if not self.exists or self.value is None:
            return ""
        value = self.value
        if value is True:
            return "true"
        if value is False:
            return "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return format_number(value)
        if isinstance(value, str):
            return value
        return raw_json(value)

    def raw(self) -> str:
        """The value as JSON text (``Raw``); empty when the path does not exist."""
        return raw_json(self.value) if self.exists else ""

    def float(self) -> float:
        """gjson's ``Float()``: numbers, parsed strings, ``true`` as 1, anything else 0."""
        value = self.value
        if not self.exists or value is None or value is False:
            return 0.0
        if value is True:
            return 1.0
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            return _parse_float_lenient(value)
        return 0.0

    def bool(self) -> bool:
        """gjson's ``Bool()``: ``true``, non-zero numbers, strings strconv.ParseBool accepts."""
        value = self.value
        if not self.exists or value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return value != 0
        if isinstance(value, str):
            return value.lower() in ("1", "t", "true")
        return False

    def go_value(self) -> Any:
        """gjson's ``Value()``: numbers become float64 (Python ``float``), missing becomes nil."""
        return to_go_value(self.value) if self.exists else None


def to_go_value(value: Any) -> Any:
    """The value as Go's ``encoding/json`` decodes into ``interface{}``: every number a float64."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): to_go_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_go_value(v) for v in value]
    return value


def _parse_float_lenient(text: str) -> float:
    """``strconv.ParseFloat`` ignoring the error, as gjson's ``Float()`` does."""
    try:
        return parse_go_float(text)
    except ValueError:
        return 0.0


def format_number(value: float) -> str:
    """``strconv.FormatFloat(f, 'f', -1, 64)``: shortest round-trip digits, never an exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    text = format(Decimal(repr(value)).normalize(), "f")
    return text


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def _json_string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _JSON_ESCAPES:
            out.append(_JSON_ESCAPES[ch])
        elif code < 0x20 or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        elif ch in _HTML_ESCAPES:
            out.append(_HTML_ESCAPES[ch])
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_GO_ONLY_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"))
"""What Go escapes and orjson does not; outside strings, JSON never contains these characters."""

_GO_LINE_SEPARATOR_ESCAPES = (("\u2028", "\\u2028"), ("\u2029", "\\u2029"))
"""Escaped by Go too; looked for only in text that is not all ASCII."""


_ORJSON_EXACT = frozenset((dict, list, str, int, bool, type(None)))
"""Types orjson writes exactly as :func:`raw_json` does, but for :data:`_GO_ONLY_ESCAPES` (floats,
for one, it does not)."""


def _plain(value: Any) -> bool:
    """Only dicts, lists, strings, integers, booleans and nulls (orjson refuses keys that are not
    strings). Checked a container at a time, not an item at a time: the walk cost more than the
    encoding."""
    if type(value) not in _ORJSON_EXACT:
        return False
    stack = [value] if type(value) is dict or type(value) is list else []
    while stack:
        item = stack.pop()
        items = item.values() if type(item) is dict else item
        kinds = set(map(type, items))
        if not kinds <= _ORJSON_EXACT:
            return False
        if dict in kinds or list in kinds:
            stack.extend([child for child in items if type(child) is dict or type(child) is list])
    return True


def raw_json(value: Any) -> str:
    """Compact JSON in the value's own key order, escaped as Go's ``json.Marshal`` escapes.

    Event payloads are written by orjson when they hold no floats (a 7 KB webhook body took
    milliseconds character by character, and every filter and log trigger needs it)."""
    if _plain(value):
        try:
            text = orjson.dumps(value)
        except orjson.JSONEncodeError:  # integers beyond 64 bits, lone surrogates
            return _raw_json(value)
        out = text.decode()
        for plain, escaped in _GO_ONLY_ESCAPES:
            if plain in out:
                out = out.replace(plain, escaped)
        if not out.isascii():
            for plain, escaped in _GO_LINE_SEPARATOR_ESCAPES:
                out = out.replace(plain, escaped)
        return out
    return _raw_json(value)


def _raw_json(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "null"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_json_string(str(k))}:{_raw_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_raw_json(v) for v in value) + "]"
    return _json_string(str(value))


def valid(text: str | bytes) -> bool:
    """Whether the bytes are one JSON value (gjson.Valid)."""
    import json

    try:
        json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return False
    return True


# ---------------------------------------------------------------- wildcard keys (match.go)


def match_pattern(text: str, pattern: str) -> bool:
    """``*`` matches any run of characters, ``?`` exactly one; ``\\`` escapes the next one."""
    return _match(text, 0, pattern, 0)


def _match(text: str, ti: int, pattern: str, pi: int) -> bool:
    while pi < len(pattern):
        ch = pattern[pi]
        if ch == "*":
            while pi < len(pattern) and pattern[pi] == "*":
                pi += 1
            if pi == len(pattern):
                return True
            return any(_match(text, start, pattern, pi) for start in range(ti, len(text) + 1))
        if ti >= len(text):
            return False
        if ch == "?":
            ti, pi = ti + 1, pi + 1
            continue
        if ch == "\\" and pi + 1 < len(pattern):
            pi += 1
            ch = pattern[pi]
        if text[ti] != ch:
            return False
        ti, pi = ti + 1, pi + 1
    return ti == len(text)


# ---------------------------------------------------------------- path parsing


@dataclass(frozen=True, slots=True)
class _Key:
    text: str  # unescaped
    pattern: str | None  # wildcard pattern (escapes kept) when the key has unescaped * or ?


@dataclass(frozen=True, slots=True)
class _Count:
    pass


@dataclass(frozen=True, slots=True)
class _Query:
    path: str
    op: str
    value: str
    all: bool


@dataclass(frozen=True, slots=True)
class _Modifier:
    name: str


_Component = _Key | _Count | _Query | _Modifier

_MODIFIERS = {"this", "reverse", "flatten", "keys", "values", "valid", "ugly", "pretty"}


@dataclass(frozen=True, slots=True)
class _Step:
    component: _Component
    piped: bool
    """Reached through ``|`` rather than ``.`` (matters only right after ``#`` and ``#(...)#``)."""


def _read_query(path: str, start: int) -> tuple[str, int]:
    """The text between ``#(`` and its matching ``)``; quotes and nesting respected."""
    depth = 0
    i = start
    while i < len(path):
        ch = path[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            i += 1
            while i < len(path) and path[i] != '"':
                i += 2 if path[i] == "\\" else 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return path[start + 1 : i], i + 1
        i += 1
    raise ValueError("unclosed query")


_OPERATORS = ("==", "!=", "<=", ">=", "!%", "=", "<", ">", "%")


def _parse_query(text: str, all_matches: bool) -> _Query:
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "(":  # a nested query inside the left path: skip it whole
            _, i = _read_query(text, i)
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                left = text[:i].strip()
                right = text[i + len(op) :].strip()
                return _Query(left, "==" if op == "=" else op, right, all_matches)
        i += 1
    return _Query(text.strip(), "", "", all_matches)


@lru_cache(maxsize=4096)
def _parse(path: str) -> tuple[_Step, ...]:
    """Split a path into components; ``ValueError`` when it cannot be read."""
    steps: list[_Step] = []
    i = 0
    piped = False
    while True:
        component: _Component
        if path.startswith("#(", i):
            body, i = _read_query(path, i + 1)
            all_matches = i < len(path) and path[i] == "#"
            if all_matches:
                i += 1
            component = _parse_query(body, all_matches)
        else:
            raw: list[str] = []
            pattern: list[str] = []
            wild = False
            while i < len(path) and path[i] not in ".|":
                ch = path[i]
                if ch == "\\" and i + 1 < len(path):
                    raw.append(path[i + 1])
                    pattern.append(path[i : i + 2])
                    i += 2
                    continue
                wild = wild or ch in "*?"
                raw.append(ch)
                pattern.append(ch)
                i += 1
            text, escaped = "".join(raw), "".join(pattern)
            if escaped == "#":
                component = _Count()
            elif escaped.startswith("@") and escaped[1:] in _MODIFIERS:
                component = _Modifier(escaped[1:])
            else:
                component = _Key(text, escaped if wild else None)
        steps.append(_Step(component, piped))
        if i >= len(path):
            return tuple(steps)
        if path[i] not in ".|":
            raise ValueError(f"unexpected {path[i]!r} at {i}")
        piped = path[i] == "|"
        i += 1


# ---------------------------------------------------------------- evaluation

_MISSING = object()


def get(document: Any, path: str) -> Result:
    """``gjson.Get(json, path)`` on a decoded document."""
    if path == "":
        return Result(False)
    try:
        steps = _parse(path)
    except ValueError:
        return Result(False)
    value = _walk(document, steps, 0)
    return Result(False) if value is _MISSING else Result(True, value)


def _walk(value: Any, steps: Sequence[_Step], index: int) -> Any:
    while index < len(steps):
        step = steps[index]
        component = step.component
        rest_piped = index + 1 < len(steps) and steps[index + 1].piped
        if isinstance(component, _Modifier):
            value = _modify(value, component.name)
            if value is _MISSING:
                return _MISSING
            index += 1
            continue
        if isinstance(value, list):
            if isinstance(component, _Count):
                if index + 1 == len(steps) or rest_piped:
                    value = len(value)
                    index += 1
                    continue
                # ``#.key``: apply the rest to every element, keeping those that exist
                mapped = [_walk(item, steps, index + 1) for item in value]
                return [item for item in mapped if item is not _MISSING]
            if isinstance(component, _Query):
                matches = [item for item in value if _query_matches(item, component)]
                if not component.all:
                    if not matches:
                        return _MISSING
                    value = matches[0]
                    index += 1
                    continue
                if index + 1 == len(steps) or rest_piped:
                    value = matches
                    index += 1
                    continue
                mapped = [_walk(item, steps, index + 1) for item in matches]
                return [item for item in mapped if item is not _MISSING]
            assert isinstance(component, _Key)
            if component.pattern is not None or not component.text.isdigit():
                return _MISSING
            position = int(component.text)
            if position >= len(value):
                return _MISSING
            value = value[position]
            index += 1
            continue
        if isinstance(value, Mapping):
            if isinstance(component, _Query):
                return _MISSING
            key = "#" if isinstance(component, _Count) else component.text
            pattern = component.pattern if isinstance(component, _Key) else None
            if pattern is None:
                if key not in value:
                    return _MISSING
                value = value[key]
            else:
                found = next((k for k in value if match_pattern(str(k), pattern)), _MISSING)
                if found is _MISSING:
                    return _MISSING
                value = value[found]
            index += 1
            continue
        return _MISSING
    return value


def _modify(value: Any, name: str) -> Any:
    if name in ("this", "valid", "ugly", "pretty"):
        return value
    if name == "reverse":
        if isinstance(value, list):
            return list(reversed(value))
        if isinstance(value, Mapping):
            return dict(reversed(list(value.items())))
        return value
    if name == "flatten":
        if not isinstance(value, list):
            return value
        out: list[Any] = []
        for item in value:
            if isinstance(item, list):
                out.extend(item)
            else:
                out.append(item)
        return out
    if name == "keys":
        return list(value.keys()) if isinstance(value, Mapping) else []
    if name == "values":
        return list(value.values()) if isinstance(value, Mapping) else []
    return _MISSING


def _literal(text: str) -> Any:
    """The right-hand side of a query: a JSON string, number, true/false/null, or bare text."""
    import json

    if text.startswith('"'):
        try:
            return json.loads(text)
        except ValueError:
            return text.strip('"')
    if text in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[text]
    try:
        return float(text)
    except ValueError:
        return text


def _query_matches(item: Any, query: _Query) -> bool:
    if query.path:
        found = get(item, query.path)
        if not found.exists:
            return False
        value = found.value
    else:
        value = item
    if not query.op:
        return True
    expected = _literal(query.value)
    op = query.op
    if isinstance(expected, str):
        if not isinstance(value, str):
            return False
        if op == "%":
            return match_pattern(value, expected)
        if op == "!%":
            return not match_pattern(value, expected)
        return _compare(value, expected, op)
    if isinstance(expected, bool):
        if not isinstance(value, bool):
            return False
        return _compare(int(value), int(expected), op)
    if expected is None:
        return value is None and op == "=="
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return _compare(float(value), float(expected), op)


def _compare(left: Any, right: Any, op: str) -> bool:
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    return False
