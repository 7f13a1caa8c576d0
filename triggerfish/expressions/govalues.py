"""Go value semantics that the expression languages share.

``reflect.DeepEqual`` (int 1 and float 1.0 differ), sprig's notion of "empty", spf13/cast's
lenient number conversions and ``encoding/json`` decoding (every JSON number is a float64).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def is_number(value: Any) -> bool:
    """True for Go ints and floats (a Python bool is not a Go number)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def wrap_int64(value: int) -> int:
    """Two's-complement wrap-around, as Go's int64 arithmetic overflows."""
    return (value - INT64_MIN) % 2**64 + INT64_MIN


def _kind(value: Any) -> type:
    if isinstance(value, bool):
        return bool
    if isinstance(value, int):
        return int
    if isinstance(value, float):
        return float
    if isinstance(value, list | tuple):
        return list
    if isinstance(value, Mapping):
        return dict
    return type(value)


def deep_equal(a: Any, b: Any) -> bool:
    """``reflect.DeepEqual`` for JSON-like values: types must match exactly, containers recursively."""
    if _kind(a) is not _kind(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping):
        return a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def is_empty(value: Any) -> bool:
    """sprig's ``empty``: nil, zero numbers, false, and zero-length strings, lists and maps."""
    if value is None:
        return True
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) == 0
    if isinstance(value, bool | int | float | timedelta):
        return not value
    return False


_GO_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|0[0-7_]*|[1-9][0-9_]*)")


def parse_go_int(text: str) -> int:
    """``strconv.ParseInt(text, 0, 64)``: Go literal syntax (0x, 0o, 0b, leading-0 octal, ``_``)."""
    match = _GO_INT.fullmatch(text)
    if match is None or "__" in text or text.endswith("_"):
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    sign, body = match.groups()
    if body[:2].lower() in ("0x", "0b", "0o"):
        value = int(body[2:], {"x": 16, "b": 2, "o": 8}[body[1].lower()])
    elif len(body) > 1 and body[0] == "0":
        value = int(body[1:].lstrip("_") or "0", 8)
    else:
        value = int(body)
    value = -value if sign == "-" else value
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def parse_go_atoi(text: str) -> int:
    """``strconv.Atoi``: an optionally signed run of ASCII digits within int64."""
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f'strconv.Atoi: parsing "{text}": value out of range')
    return value


def _trim_zero_decimal(text: str) -> str:
    """cast's trimZeroDecimal: ``"1.00"`` becomes ``"1"`` so it still parses as an integer."""
    whole, dot, frac = text.partition(".")
    return whole if dot and frac and set(frac) == {"0"} else text


def cast_int(value: Any) -> int:
    """spf13/cast ``ToInt64``: never fails, unconvertible values are 0 (what sprig's ``int`` does)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return wrap_int64(value)
    if isinstance(value, float):
        return wrap_int64(int(value)) if value == value and abs(value) != float("inf") else INT64_MIN
    if isinstance(value, str):
        try:
            return parse_go_int(_trim_zero_decimal(value))
        except ValueError:
            return 0
    return 0


def cast_float(value: Any) -> float:
    """spf13/cast ``ToFloat64``: never fails, unconvertible values are 0."""
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return parse_go_float(value)
        except ValueError:
            return 0.0
    return 0.0


_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?|\d[\d_]*\.|0[xX][\da-fA-F_.]+[pP][+-]?\d+|inf(?:inity)?|nan)",
    re.IGNORECASE,
)


def parse_go_float(text: str) -> float:
    """``strconv.ParseFloat(text, 64)``."""
    if _GO_FLOAT.fullmatch(text) is None:
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    body = text.replace("_", "")
    if "x" in body.lower():
        return float.fromhex(body)
    return float(body)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def json_decode(text: str) -> Any:
    """``json.Unmarshal`` into ``interface{}``: numbers become float64, NaN/Infinity are rejected."""
    try:
        return json.loads(text, parse_int=float, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at offset {exc.pos}") from None
