"""expr-lang's runtime operators with Go semantics (vm/runtime in expr-lang/expr).

``int / int`` is a float, ``%`` only takes integers, ``==`` compares 1 and 1.0 as equal but never
a string with a number, member access on a missing map key yields nil. Every failure raises
``EvalFault`` carrying the message expr-lang would give.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from triggerfish.expressions import goregex
from triggerfish.expressions.gofmt import go_format, go_type_name
from triggerfish.expressions.govalues import deep_equal, is_number, wrap_int64


class EvalFault(Exception):
    """An evaluation error; ``pos`` is filled in by the node that knows where it happened."""

    def __init__(self, reason: str, pos: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pos = pos


def _mismatch(op: str, a: Any, b: Any) -> EvalFault:
    return EvalFault(f"invalid operation: {go_type_name(a)} {op} {go_type_name(b)}")


def _int_result(value: int) -> int:
    return wrap_int64(value)


def add(a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        return _int_result(a + b) if isinstance(a, int) and isinstance(b, int) else float(a) + float(b)
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, datetime | timedelta) and isinstance(b, timedelta):
        return a + b
    if isinstance(a, timedelta) and isinstance(b, datetime):
        return b + a
    raise _mismatch("+", a, b)


def subtract(a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        return _int_result(a - b) if isinstance(a, int) and isinstance(b, int) else float(a) - float(b)
    if isinstance(a, datetime) and isinstance(b, datetime | timedelta):
        return a - b
    if isinstance(a, timedelta) and isinstance(b, timedelta):
        return a - b
    raise _mismatch("-", a, b)


def multiply(a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        return _int_result(a * b) if isinstance(a, int) and isinstance(b, int) else float(a) * float(b)
    if isinstance(a, timedelta) and is_number(b):
        return a * b
    if is_number(a) and isinstance(b, timedelta):
        return b * a
    raise _mismatch("*", a, b)


def divide(a: Any, b: Any) -> float:
    """Always a float64, as in Go's expr (``5 / 2 == 2.5``); x/0 is ±Inf or NaN."""
    if not (is_number(a) and is_number(b)):
        raise _mismatch("/", a, b)
    if b == 0:
        return math.nan if a == 0 or a != a else math.copysign(math.inf, a) * math.copysign(1.0, b)
    return float(a) / float(b)


def modulo(a: Any, b: Any) -> int:
    """Integers only, truncated like Go's ``%`` (the result takes the sign of ``a``)."""
    if not (isinstance(a, int) and isinstance(b, int)) or isinstance(a, bool) or isinstance(b, bool):
        raise _mismatch("%", a, b)
    if b == 0:
        raise EvalFault("runtime error: integer divide by zero")
    remainder = abs(a) % abs(b)
    return -remainder if a < 0 else remainder


def to_float(value: Any) -> float:
    if not is_number(value):
        raise EvalFault(f"invalid operation: float({go_type_name(value)})")
    return float(value)


def power(a: Any, b: Any) -> float:
    """``**`` and ``^`` are ``math.Pow`` on float64s."""
    x, y = to_float(a), to_float(b)
    try:
        return math.pow(x, y)
    except OverflowError:
        return math.inf
    except ValueError:
        return math.nan


def negate(value: Any) -> Any:
    if is_number(value) or isinstance(value, timedelta):
        return -value
    raise EvalFault(f"invalid operation: - {go_type_name(value)}")


def unary_plus(value: Any) -> Any:
    if is_number(value):
        return value
    raise EvalFault(f"invalid operation: + {go_type_name(value)}")


def truth(value: Any, what: str) -> bool:
    """Boolean operators and conditions accept only bools, like expr's VM."""
    if isinstance(value, bool):
        return value
    raise EvalFault(f"non-bool expression (type {go_type_name(value)}) used as {what}")


def equal(a: Any, b: Any) -> bool:
    """runtime.Equal: numbers compare by value across int/float, arrays element-wise, maps deeply."""
    if is_number(a) and is_number(b):
        return bool(a == b)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if a is None or b is None:
        return a is None and b is None
    return deep_equal(a, b)


def _ordered(a: Any, b: Any) -> bool:
    return (
        (is_number(a) and is_number(b))
        or (isinstance(a, str) and isinstance(b, str))
        or (isinstance(a, datetime) and isinstance(b, datetime))
        or (isinstance(a, timedelta) and isinstance(b, timedelta))
    )


def less(a: Any, b: Any) -> bool:
    if not _ordered(a, b):
        raise _mismatch("<", a, b)
    return bool(a < b)


def more(a: Any, b: Any) -> bool:
    if not _ordered(a, b):
        raise _mismatch(">", a, b)
    return bool(a > b)


def less_equal(a: Any, b: Any) -> bool:
    if not _ordered(a, b):
        raise _mismatch("<=", a, b)
    return bool(a <= b)


def more_equal(a: Any, b: Any) -> bool:
    if not _ordered(a, b):
        raise _mismatch(">=", a, b)
    return bool(a >= b)


def contained_in(needle: Any, haystack: Any) -> bool:
    """The ``in`` operator: element of an array or key of a map."""
    if haystack is None:
        return False
    if isinstance(haystack, list | tuple):
        return any(equal(item, needle) for item in haystack)
    if isinstance(haystack, Mapping):
        if needle is not None and not isinstance(needle, str):
            raise EvalFault(f"cannot use {go_type_name(needle)} as map key of type string")
        return needle in haystack
    raise EvalFault(f'operator "in" not defined on {go_type_name(haystack)}')


def _strings(op: str, a: Any, b: Any) -> tuple[str, str]:
    if isinstance(a, str) and isinstance(b, str):
        return a, b
    raise _mismatch(op, a, b)


def contains(a: Any, b: Any) -> bool:
    text, part = _strings("contains", a, b)
    return part in text


def starts_with(a: Any, b: Any) -> bool:
    text, prefix = _strings("startsWith", a, b)
    return text.startswith(prefix)


def ends_with(a: Any, b: Any) -> bool:
    text, suffix = _strings("endsWith", a, b)
    return text.endswith(suffix)


def matches(a: Any, b: Any) -> bool:
    text, pattern = _strings("matches", a, b)
    try:
        return goregex.compile_go_regex(pattern).search(text) is not None
    except ValueError as exc:
        raise EvalFault(str(exc)) from None


MEMORY_BUDGET = 1_000_000  # expr-lang's default conf.MemoryBudget


def make_range(a: Any, b: Any) -> list[int]:
    if not (isinstance(a, int) and isinstance(b, int)) or isinstance(a, bool) or isinstance(b, bool):
        raise _mismatch("..", a, b)
    if b - a >= MEMORY_BUDGET:
        raise EvalFault("memory budget exceeded")
    return list(range(a, b + 1))


def to_int(value: Any) -> int:
    """runtime.ToInt for indexes: any number, truncated."""
    if is_number(value):
        return int(value)
    raise EvalFault(f"invalid operation: int({go_type_name(value)})")


def fetch(obj: Any, key: Any) -> Any:
    """runtime.Fetch: map lookup (missing key is nil), array/string index (negative from the end)."""
    if isinstance(obj, Mapping):
        if not isinstance(key, str):
            raise EvalFault(f"cannot fetch {go_format(key)} from {go_type_name(obj)}")
        return obj.get(key)
    if isinstance(obj, list | tuple | str):
        index = to_int(key)
        sequence: Any = obj.encode() if isinstance(obj, str) else obj
        length = len(sequence)
        if index < 0:
            index += length
        if not 0 <= index < length:
            raise EvalFault(f"index out of range: {index} (array length is {length})")
        return sequence[index]
    raise EvalFault(f"cannot fetch {go_format(key)} from {go_type_name(obj)}")


def slice_of(obj: Any, start: Any, end: Any) -> Any:
    """runtime.Slice: bounds are clamped, never an error for out-of-range."""
    if not isinstance(obj, list | tuple | str):
        raise EvalFault(f"cannot slice {go_type_name(obj)}")
    sequence: Any = obj.encode() if isinstance(obj, str) else obj
    length = len(sequence)
    a = 0 if start is None else to_int(start)
    b = length if end is None else to_int(end)
    a = max(a + length if a < 0 else a, 0)
    b = min(max(b + length if b < 0 else b, 0), length)
    a = min(a, b)
    part = sequence[a:b]
    return part.decode(errors="replace") if isinstance(obj, str) else list(part)
