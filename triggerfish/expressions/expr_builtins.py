"""expr-lang's builtin functions (builtin/builtin.go) and the ones Argo adds to the environment.

Argo's ``util/expr/env`` adds ``asInt``/``asFloat`` (aliases of ``int``/``float``), ``jsonpath``,
``toJson`` (compact JSON) and the ``sprig`` function map to every expression environment.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any

from jsonpath_ng.ext.parser import parse as parse_jsonpath

from triggerfish.expressions import expr_runtime as rt
from triggerfish.expressions.expr_runtime import EvalFault
from triggerfish.expressions.gofmt import go_format, go_json, go_type_name
from triggerfish.expressions.gostrings import split_n, trim_space
from triggerfish.expressions.gotime import RFC3339, load_location, parse_duration, parse_time
from triggerfish.expressions.govalues import is_number, json_decode, parse_go_atoi, parse_go_float, wrap_int64
from triggerfish.expressions.sprig import SPRIG_FUNCTIONS


@dataclass(frozen=True, slots=True)
class Builtin:
    """A builtin and the argument counts expr-lang accepts (checked when compiling)."""

    fn: Callable[..., Any]
    min_args: int
    max_args: int | None


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise EvalFault(f"invalid argument for {name} (type {go_type_name(value)})")
    return value


def _array(value: Any, name: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise EvalFault(f"invalid argument for {name} (type {go_type_name(value)})")
    return value


def _map(value: Any, name: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise EvalFault(f"cannot get {name} from {go_type_name(value)}")
    return value


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise EvalFault(f"invalid argument for {name} (type {go_type_name(value)})")
    return value


def to_int(value: Any) -> int:
    """expr's ``int()`` (Argo's ``asInt``): numbers truncate, strings must be decimal integers."""
    if is_number(value):
        return int(value)
    if isinstance(value, str):
        try:
            return parse_go_atoi(value)
        except ValueError:
            raise EvalFault(f"invalid operation: int({value})") from None
    raise EvalFault(f"invalid operation: int({go_type_name(value)})")


def to_float(value: Any) -> float:
    """expr's ``float()`` (Argo's ``asFloat``)."""
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return parse_go_float(value)
        except ValueError:
            raise EvalFault(f"invalid operation: float({value})") from None
    raise EvalFault(f"invalid operation: float({go_type_name(value)})")


def _len(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, list | tuple | Mapping):
        return len(value)
    raise EvalFault(f"invalid argument for len (type {go_type_name(value)})")


def _abs(value: Any) -> Any:
    if not is_number(value):
        raise EvalFault(f"invalid argument for abs (type {go_type_name(value)})")
    return abs(value)


def _rounding(name: str, fn: Callable[[float], float]) -> Callable[[Any], float]:
    def apply(value: Any) -> float:
        if not is_number(value):
            raise EvalFault(f"invalid argument for {name} (type {go_type_name(value)})")
        return float(fn(float(value)))

    return apply


def _round_half_away(value: float) -> float:
    return math.copysign(math.floor(abs(value) + 0.5), value)


def _type(value: Any) -> str:
    if value is None:
        return "nil"
    kinds: tuple[tuple[type | tuple[type, ...], str], ...] = (
        (bool, "bool"), (int, "int"), (float, "float"), (str, "string"), ((list, tuple), "array"),
        (datetime, "time.Time"), (timedelta, "time.Duration"),
    )  # fmt: skip
    for kind, name in kinds:
        if isinstance(value, kind):
            return name
    if isinstance(value, Mapping):
        return "map"
    return "func" if callable(value) else "unknown"


def _trim(text: Any, chars: Any = None) -> str:
    value = _text(text, "trim")
    return trim_space(value) if chars is None else value.strip(_text(chars, "trim"))


def _split(text: Any, sep: Any, limit: Any = -1) -> list[str]:
    return split_n(_text(text, "split"), _text(sep, "split"), rt.to_int(limit))


def _split_after(text: Any, sep: Any, limit: Any = -1) -> list[str]:
    return split_n(_text(text, "splitAfter"), _text(sep, "splitAfter"), rt.to_int(limit), after=True)


def _replace(text: Any, old: Any, new: Any, count: Any = -1) -> str:
    n = rt.to_int(count)
    return _text(text, "replace").replace(_text(old, "replace"), _text(new, "replace"), n if n >= 0 else -1)


def _repeat(text: Any, count: Any) -> str:
    n = rt.to_int(count)
    if n < 0:
        raise EvalFault(f"invalid argument for repeat (expected positive integer, got {n})")
    if n > rt.MEMORY_BUDGET:
        raise EvalFault("memory budget exceeded")
    return _text(text, "repeat") * n


def _join(items: Any, glue: Any = "") -> str:
    parts = _array(items, "join")
    if not all(isinstance(p, str) for p in parts):
        raise EvalFault("invalid argument for join (expected an array of strings)")
    return _text(glue, "join").join(parts)


def _byte_index(text: Any, part: Any, name: str, last: bool) -> int:
    data, sub = _text(text, name).encode(), _text(part, name).encode()
    return data.rfind(sub) if last else data.find(sub)


def _min_max(name: str, pick_new: Callable[[Any, Any], bool], args: tuple[Any, ...]) -> Any:
    best: Any = None
    for arg in args:
        values = arg if isinstance(arg, list | tuple) else [arg]
        for value in values:
            if isinstance(value, list | tuple):
                value = _min_max(name, pick_new, (value,))
            if not is_number(value):
                if len(args) == 1 and not isinstance(arg, list | tuple):
                    return arg
                raise EvalFault(f"invalid argument for {name} (type {go_type_name(value)})")
            if best is None or pick_new(best, value):
                best = value
    return best


def _numbers(args: tuple[Any, ...], name: str) -> list[float]:
    out: list[float] = []
    for arg in args:
        if isinstance(arg, list | tuple):
            out.extend(_numbers(tuple(arg), name))
        elif is_number(arg):
            out.append(float(arg))
        else:
            raise EvalFault(f"invalid argument for {name} (type {go_type_name(arg)})")
    return out


def _mean(*args: Any) -> float:
    values = _numbers(args, "mean")
    return sum(values) / len(values) if values else 0.0


def _median(*args: Any) -> float:
    values = sorted(_numbers(args, "median"))
    if not values:
        return 0.0
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _to_json(value: Any) -> str:
    try:
        return go_json(value, indent=True)
    except ValueError as exc:
        raise EvalFault(str(exc)) from None


def _from_json(text: Any) -> Any:
    try:
        return json_decode(_text(text, "fromJSON"))
    except ValueError as exc:
        raise EvalFault(str(exc)) from None


def _from_base64(text: Any) -> str:
    value = _text(text, "fromBase64")
    try:
        return base64.b64decode(value, validate=True).decode(errors="replace")
    except (binascii.Error, ValueError):
        raise EvalFault("illegal base64 data at input byte 0") from None


def _keys(value: Any) -> list[Any]:
    return list(_map(value, "keys"))


def _values(value: Any) -> list[Any]:
    return list(_map(value, "values").values())


def _to_pairs(value: Any) -> list[list[Any]]:
    return [[k, v] for k, v in _map(value, "pairs").items()]


def _from_pairs(value: Any) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for pair in _array(value, "fromPairs"):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise EvalFault(f"invalid pair {go_format(pair)}")
        out[pair[0]] = pair[1]
    return out


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list | tuple) and value else None


def _last(value: Any) -> Any:
    return value[-1] if isinstance(value, list | tuple) and value else None


def _get(value: Any, key: Any) -> Any:
    try:
        return rt.fetch(value, key)
    except EvalFault:
        return None


def _take(value: Any, count: Any) -> Sequence[Any]:
    items = _array(value, "take")
    return list(items[: max(_integer(count, "take"), 0)])


def _uniq(value: Any) -> list[Any]:
    out: list[Any] = []
    for item in _array(value, "uniq"):
        if not any(rt.equal(item, seen) for seen in out):
            out.append(item)
    return out


def _concat(*arrays: Any) -> list[Any]:
    return [item for array in arrays for item in _array(array, "concat")]


def _flatten(value: Any) -> list[Any]:
    out: list[Any] = []
    for item in _array(value, "flatten"):
        out.extend(_flatten(item) if isinstance(item, list | tuple) else [item])
    return out


def _sort_values(values: Sequence[Any], order: Any = "asc") -> list[Any]:
    """expr's ``sort``: numbers or strings, ``asc`` or ``desc``."""
    if order not in ("asc", "desc"):
        raise EvalFault(f"invalid order {go_format(order)}, expected asc or desc")
    items = list(values)
    for a, b in pairwise(items):
        rt.less(a, b)  # raises for values that cannot be ordered against each other
    return sorted(items, reverse=order == "desc")


def _sort(value: Any, order: Any = "asc") -> list[Any]:
    return _sort_values(_array(value, "sort"), order)


def _now() -> datetime:
    return datetime.now().astimezone()


def _duration(text: Any) -> timedelta:
    try:
        return parse_duration(_text(text, "duration"))
    except ValueError as exc:
        raise EvalFault(str(exc)) from None


_DATE_LAYOUTS = (
    "2006-01-02", "15:04:05", "2006-01-02 15:04:05", RFC3339,
    "02 Jan 06 15:04 MST", "Monday, 02-Jan-06 15:04:05 MST", "Mon, 02 Jan 2006 15:04:05 MST",
)  # fmt: skip


def _date(text: Any, layout: Any = None, zone: Any = None) -> datetime:
    value = _text(text, "date")
    try:
        location = load_location(_text(zone, "date")) if zone is not None else UTC
        if layout is not None:
            return parse_time(_text(layout, "date"), value, location)
    except ValueError as exc:
        raise EvalFault(str(exc)) from None
    for candidate in _DATE_LAYOUTS:
        try:
            return parse_time(candidate, value, location)
        except ValueError:
            continue
    raise EvalFault(f"invalid date {value}")


def _bits(fn: Callable[[int, int], int]) -> Callable[[Any, Any], int]:
    def apply(a: Any, b: Any) -> int:
        return fn(_integer(a, "bit operation"), _integer(b, "bit operation"))

    return apply


def _shift(fn: Callable[[int, int], int]) -> Callable[[Any, Any], int]:
    def apply(a: Any, b: Any) -> int:
        count = _integer(b, "shift")
        if count < 0:
            raise EvalFault(f"invalid operation: negative shift count {count} (type int)")
        return fn(_integer(a, "shift"), count)

    return apply


BUILTINS: Mapping[str, Builtin] = {
    "len": Builtin(_len, 1, 1),
    "type": Builtin(_type, 1, 1),
    "abs": Builtin(_abs, 1, 1),
    "ceil": Builtin(_rounding("ceil", math.ceil), 1, 1),
    "floor": Builtin(_rounding("floor", math.floor), 1, 1),
    "round": Builtin(_rounding("round", _round_half_away), 1, 1),
    "int": Builtin(to_int, 1, 1),
    "float": Builtin(to_float, 1, 1),
    "string": Builtin(go_format, 1, 1),
    "trim": Builtin(_trim, 1, 2),
    "trimPrefix": Builtin(lambda s, p=" ": _text(s, "trimPrefix").removeprefix(_text(p, "trimPrefix")), 1, 2),
    "trimSuffix": Builtin(lambda s, p=" ": _text(s, "trimSuffix").removesuffix(_text(p, "trimSuffix")), 1, 2),
    "upper": Builtin(lambda s: _text(s, "upper").upper(), 1, 1),
    "lower": Builtin(lambda s: _text(s, "lower").lower(), 1, 1),
    "split": Builtin(_split, 2, 3),
    "splitAfter": Builtin(_split_after, 2, 3),
    "replace": Builtin(_replace, 3, 4),
    "repeat": Builtin(_repeat, 2, 2),
    "join": Builtin(_join, 1, 2),
    "indexOf": Builtin(lambda s, p: _byte_index(s, p, "indexOf", last=False), 2, 2),
    "lastIndexOf": Builtin(lambda s, p: _byte_index(s, p, "lastIndexOf", last=True), 2, 2),
    "hasPrefix": Builtin(lambda s, p: _text(s, "hasPrefix").startswith(_text(p, "hasPrefix")), 2, 2),
    "hasSuffix": Builtin(lambda s, p: _text(s, "hasSuffix").endswith(_text(p, "hasSuffix")), 2, 2),
    "max": Builtin(lambda *a: _min_max("max", rt.less, a), 1, None),
    "min": Builtin(lambda *a: _min_max("min", rt.more, a), 1, None),
    "mean": Builtin(_mean, 1, None),
    "median": Builtin(_median, 1, None),
    "toJSON": Builtin(_to_json, 1, 1),
    "fromJSON": Builtin(_from_json, 1, 1),
    "toBase64": Builtin(lambda s: base64.b64encode(_text(s, "toBase64").encode()).decode(), 1, 1),
    "fromBase64": Builtin(_from_base64, 1, 1),
    "now": Builtin(_now, 0, 0),
    "duration": Builtin(_duration, 1, 1),
    "date": Builtin(_date, 1, 3),
    "first": Builtin(_first, 1, 1),
    "last": Builtin(_last, 1, 1),
    "get": Builtin(_get, 2, 2),
    "take": Builtin(_take, 2, 2),
    "keys": Builtin(_keys, 1, 1),
    "values": Builtin(_values, 1, 1),
    "toPairs": Builtin(_to_pairs, 1, 1),
    "fromPairs": Builtin(_from_pairs, 1, 1),
    "reverse": Builtin(lambda v: list(_array(v, "reverse"))[::-1], 1, 1),
    "uniq": Builtin(_uniq, 1, 1),
    "concat": Builtin(_concat, 1, None),
    "flatten": Builtin(_flatten, 1, 1),
    "sort": Builtin(_sort, 1, 2),
    "bitand": Builtin(_bits(lambda a, b: a & b), 2, 2),
    "bitor": Builtin(_bits(lambda a, b: a | b), 2, 2),
    "bitxor": Builtin(_bits(lambda a, b: a ^ b), 2, 2),
    "bitnand": Builtin(_bits(lambda a, b: a & ~b), 2, 2),
    "bitnot": Builtin(lambda a: ~_integer(a, "bitnot"), 1, 1),
    "bitshl": Builtin(_shift(lambda a, b: wrap_int64(a << b)), 2, 2),
    "bitshr": Builtin(_shift(lambda a, b: a >> b), 2, 2),
    "bitushr": Builtin(_shift(lambda a, b: (a % 2**64) >> b), 2, 2),
}


# ---------------------------------------------------------------- Argo's additions


_INDEFINITE_MARKERS = ("*", "..", "?(", ",", ":")


@lru_cache(maxsize=512)
def _compiled_jsonpath(path: str) -> Any:
    try:
        return parse_jsonpath(path)
    except Exception as exc:  # jsonpath-ng raises plain Exception subclasses for syntax errors
        raise EvalFault(f"invalid jsonpath {path!r}: {exc}") from None


def jsonpath(document: Any, path: Any) -> Any:
    """Argo's ``jsonpath(json, path)``: one value for a definite path, a list otherwise."""
    source = _text(document, "jsonpath")
    query = _text(path, "jsonpath")
    try:
        data = json_decode(source)
    except ValueError as exc:
        raise EvalFault(str(exc)) from None
    found = [match.value for match in _compiled_jsonpath(query).find(data)]
    if any(marker in query for marker in _INDEFINITE_MARKERS):
        return found
    if not found:
        raise EvalFault(f"jsonpath {query}: no value found")
    return found[0]


def _argo_to_json(value: Any) -> str:
    try:
        return go_json(value)
    except ValueError as exc:
        raise EvalFault(str(exc)) from None


ARGO_FUNCTIONS: Mapping[str, Any] = {
    "asInt": to_int,
    "asFloat": to_float,
    "jsonpath": jsonpath,
    "toJson": _argo_to_json,
    "sprig": SPRIG_FUNCTIONS,
}
