"""The sprig template function library (Masterminds/sprig v3) as plain Python callables.

Argo exposes these as ``sprig.<name>(...)`` inside ``{{= }}`` expressions and Argo Events uses
them in Go templates, so the argument order (``replace old new src``, ``trunc n s``) and the Go
behaviour (cast's lenient numbers, byte-indexed substrings, ``get`` returning ``""``) follow sprig.
Functions that would mutate their arguments (``set``, ``unset``, ``merge``) return updated copies
instead, so a template can never alter the caller's shared data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import secrets
import string
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from triggerfish.expressions import goregex, gostrings
from triggerfish.expressions.gofmt import go_format, go_json, go_quote, go_type_name
from triggerfish.expressions.gotime import (
    duration_string,
    format_time,
    load_location,
    parse_duration,
    parse_time,
)
from triggerfish.expressions.govalues import (
    cast_float,
    cast_int,
    deep_equal,
    is_empty,
    json_decode,
    parse_go_atoi,
    wrap_int64,
)

# ---------------------------------------------------------------- argument checks


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"wrong type for value; expected string; got {go_type_name(value)}")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"wrong type for value; expected int; got {go_type_name(value)}")
    return value


def _dict(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(
            f"wrong type for value; expected map[string]interface {{}}; got {go_type_name(value)}"
        )
    return value


def _kind(value: Any) -> str:
    """reflect.Kind name used in sprig's error messages."""
    if isinstance(value, Mapping):
        return "map"
    return go_type_name(value)


def _list(value: Any, action: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise TypeError(f"Cannot {action} on type {_kind(value)}")
    return list(value)


def strval(value: Any) -> str:
    """sprig's ``toString``: strings as-is, everything else as Go's ``%v``."""
    return value if isinstance(value, str) else go_format(value)


def strslice(value: Any) -> list[str]:
    """sprig's ``toStrings``: a list of ``strval`` of the non-nil items (a scalar becomes one item)."""
    if isinstance(value, list | tuple):
        return [strval(v) for v in value if v is not None]
    return [] if value is None else [strval(value)]


def _byte_slice(text: str, start: int, end: int | None = None) -> str:
    data = text.encode()
    if not 0 <= start <= (len(data) if end is None else end) <= len(data):
        raise IndexError(
            f"slice bounds out of range [{start}:{'' if end is None else end}] with length {len(data)}"
        )
    return data[start:end].decode(errors="replace")


# ---------------------------------------------------------------- strings


def _substr(start: Any, end: Any, text: Any) -> str:
    start, end, text = _int(start), _int(end), _str(text)
    if start < 0:
        return _byte_slice(text, 0, end)
    if end < 0 or end > len(text.encode()):
        return _byte_slice(text, start)
    return _byte_slice(text, start, end)


def _trunc(count: Any, text: Any) -> str:
    n, s = _int(count), _str(text)
    size = len(s.encode())
    if n < 0 and size + n > 0:
        return _byte_slice(s, size + n)
    if n >= 0 and size > n:
        return _byte_slice(s, 0, n)
    return s


def _abbrev(width: Any, text: Any) -> str:
    w, s = _int(width), _str(text)
    return s if w < 4 else gostrings.abbreviate(s, 0, w)


def _abbrevboth(left: Any, right: Any, text: Any) -> str:
    offset, width, s = _int(left), _int(right), _str(text)
    if width < 4 or (offset > 0 and width < 7):
        return s
    return gostrings.abbreviate(s, offset, width)


def _random(alphabet: str) -> Callable[[Any], str]:
    def generate(count: Any) -> str:
        count = _int(count)
        return "".join(secrets.choice(alphabet) for _ in range(max(count, 0)))

    return generate


def _quote(*values: Any) -> str:
    return " ".join(go_quote(strval(v)) for v in values if v is not None)


def _squote(*values: Any) -> str:
    return " ".join(f"'{go_format(v)}'" for v in values if v is not None)


def _cat(*values: Any) -> str:
    return " ".join(go_format(v) for v in values if v is not None)


def _indent(spaces: Any, text: Any) -> str:
    pad = " " * _int(spaces)
    return pad + _str(text).replace("\n", "\n" + pad)


def _plural(one: Any, many: Any, count: Any) -> str:
    return _str(one) if _int(count) == 1 else _str(many)


# ---------------------------------------------------------------- conversion and encoding


def _atoi(text: Any) -> int:
    """``strconv.Atoi`` with the error dropped, as sprig's ``atoi`` does."""
    try:
        return parse_go_atoi(_str(text))
    except ValueError:
        return 0


def _b64dec(text: Any) -> str:
    try:
        return base64.b64decode(_str(text), validate=True).decode(errors="replace")
    except (binascii.Error, ValueError):
        at = _first_invalid(text, string.ascii_letters + string.digits + "+/=")
        return f"illegal base64 data at input byte {at}"


def _b32dec(text: Any) -> str:
    try:
        return base64.b32decode(_str(text)).decode(errors="replace")
    except (binascii.Error, ValueError):
        return f"illegal base32 data at input byte {_first_invalid(text, string.ascii_uppercase + '234567=')}"


def _first_invalid(text: str, alphabet: str) -> int:
    return next((i for i, ch in enumerate(text) if ch not in alphabet), len(text))


def _to_json(value: Any) -> str:
    try:
        return go_json(value)
    except ValueError:
        return ""


def _must_to_json(value: Any) -> str:
    return go_json(value)


def _to_pretty_json(value: Any) -> str:
    try:
        return go_json(value, indent=True)
    except ValueError:
        return ""


def _to_raw_json(value: Any) -> str:
    try:
        return go_json(value, escape_html=False)
    except ValueError:
        return ""


def _from_json(text: Any) -> Any:
    try:
        return json_decode(_str(text))
    except ValueError:
        return None


def _must_from_json(text: Any) -> Any:
    return json_decode(_str(text))


# ---------------------------------------------------------------- math


def _int_div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("integer divide by zero")
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b >= 0) else -quotient


def _int_mod(a: int, b: int) -> int:
    return a - b * _int_div(a, b)


def _add(*values: Any) -> int:
    return wrap_int64(sum(cast_int(v) for v in values))


def _mul(first: Any, *rest: Any) -> int:
    total = cast_int(first)
    for value in rest:
        total = wrap_int64(total * cast_int(value))
    return total


def _round(value: Any, places: Any, *round_on: Any) -> float:
    """sprig's ``round``: ceil when the fraction reaches ``round_on`` (default .5), else floor."""
    threshold = cast_float(round_on[0]) if round_on else 0.5
    power = math.pow(10.0, cast_float(places))
    digit = power * cast_float(value)
    rounded = math.ceil(digit) if math.modf(digit)[0] >= threshold else math.floor(digit)
    return rounded / power


# Go would allocate whatever is asked; a controller must not, so huge results are refused.
SIZE_LIMIT = 10_000_000


def _within_budget(size: int) -> None:
    if size > SIZE_LIMIT:
        raise ValueError("memory budget exceeded")


def _repeat(count: Any, text: Any) -> str:
    times, s = max(_int(count), 0), _str(text)
    _within_budget(times * len(s))
    return s * times


def _until_step(start: Any, stop: Any, step: Any) -> list[int]:
    first, end, by = _int(start), _int(stop), _int(step)
    if by == 0 or (end < first) != (by < 0):
        return []
    numbers = range(first, end, by)
    _within_budget(len(numbers))
    return list(numbers)


def _until(count: Any) -> list[int]:
    count = _int(count)
    return _until_step(0, count, -1 if count < 0 else 1)


def _seq(*params: Any) -> str:
    values = [_int(p) for p in params]
    if len(values) == 1:
        start, end, step = 1, values[0], (-1 if values[0] < 1 else 1)
    elif len(values) == 2:
        start, end = values
        step = -1 if end < start else 1
    elif len(values) == 3:
        start, step, end = values
        if end < start and step > 0:
            return ""
    else:
        return ""
    increment = -1 if end < start else 1
    return " ".join(str(v) for v in _until_step(start, end + increment, step))


def _max(first: Any, *rest: Any) -> int:
    return max([cast_int(first), *(cast_int(v) for v in rest)])


def _min(first: Any, *rest: Any) -> int:
    return min([cast_int(first), *(cast_int(v) for v in rest)])


# ---------------------------------------------------------------- lists


def _first(values: Any) -> Any:
    items = _list(values, "find first")
    return items[0] if items else None


def _last(values: Any) -> Any:
    items = _list(values, "find last")
    return items[-1] if items else None


def _rest(values: Any) -> list[Any] | None:
    items = _list(values, "find rest")
    return items[1:] if items else None


def _initial(values: Any) -> list[Any] | None:
    items = _list(values, "find initial")
    return items[:-1] if items else None


def _push(values: Any, item: Any) -> list[Any]:
    return [*_list(values, "push"), item]


def _prepend(values: Any, item: Any) -> list[Any]:
    return [item, *_list(values, "prepend")]


def _concat(*lists: Any) -> list[Any]:
    out: list[Any] = []
    for values in lists:
        if not isinstance(values, list | tuple):
            raise TypeError(f"Cannot concat type {_kind(values)} as list")
        out.extend(values)
    return out


def _contains(haystack: Sequence[Any], needle: Any) -> bool:
    return any(deep_equal(needle, item) for item in haystack)


def _uniq(values: Any) -> list[Any]:
    out: list[Any] = []
    for item in _list(values, "find uniq"):
        if not _contains(out, item):
            out.append(item)
    return out


def _without(values: Any, *omit: Any) -> list[Any]:
    return [item for item in _list(values, "find without") if not _contains(omit, item)]


def _has(needle: Any, haystack: Any) -> bool:
    return _contains(_list(haystack, "find has"), needle)


def _compact(values: Any) -> list[Any]:
    return [item for item in _list(values, "compact") if not is_empty(item)]


def _slice(values: Any, *indices: Any) -> list[Any] | None:
    if not isinstance(values, list | tuple):
        raise TypeError(f"list should be type of slice or array but {_kind(values)}")
    items = list(values)
    if not items:
        return None
    start = cast_int(indices[0]) if indices else 0
    end = cast_int(indices[1]) if len(indices) > 1 else len(items)
    if not 0 <= start <= end <= len(items):
        raise IndexError(f"slice bounds out of range [{start}:{end}] with capacity {len(items)}")
    return items[start:end]


def _reverse(values: Any) -> list[Any]:
    return _list(values, "find reverse")[::-1]


def _sort_alpha(values: Any) -> list[str]:
    return sorted(strslice(values)) if isinstance(values, list | tuple) else [strval(values)]


def _join(sep: Any, values: Any) -> str:
    return _str(sep).join(strslice(values))


def _split(sep: Any, text: Any) -> dict[str, str]:
    return {f"_{i}": part for i, part in enumerate(gostrings.split_n(_str(text), _str(sep)))}


def _split_list(sep: Any, text: Any) -> list[str]:
    return gostrings.split_n(_str(text), _str(sep))


def _splitn(sep: Any, count: Any, text: Any) -> dict[str, str]:
    return {f"_{i}": part for i, part in enumerate(gostrings.split_n(_str(text), _str(sep), _int(count)))}


# ---------------------------------------------------------------- dicts


def _make_dict(*pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(pairs), 2):
        out[strval(pairs[i])] = pairs[i + 1] if i + 1 < len(pairs) else ""
    return out


def _get(mapping: Any, key: Any) -> Any:
    return _dict(mapping).get(_str(key), "")


def _set(mapping: Any, key: Any, value: Any) -> dict[str, Any]:
    return {**_dict(mapping), _str(key): value}


def _unset(mapping: Any, key: Any) -> dict[str, Any]:
    key = _str(key)
    return {k: v for k, v in _dict(mapping).items() if k != key}


def _has_key(mapping: Any, key: Any) -> bool:
    return _str(key) in _dict(mapping)


def _pluck(key: Any, *dicts: Any) -> list[Any]:
    key = _str(key)
    return [d[key] for d in map(_dict, dicts) if key in d]


def _keys(*dicts: Any) -> list[str]:
    return [k for d in dicts for k in _dict(d)]


def _values(mapping: Any) -> list[Any]:
    return list(_dict(mapping).values())


def _pick(mapping: Any, *keys: Any) -> dict[str, Any]:
    source = _dict(mapping)
    return {k: source[k] for k in map(_str, keys) if k in source}


def _omit(mapping: Any, *keys: Any) -> dict[str, Any]:
    dropped = set(map(_str, keys))
    return {k: v for k, v in _dict(mapping).items() if k not in dropped}


def _merged(dst: Mapping[str, Any], src: Mapping[str, Any], overwrite: bool) -> dict[str, Any]:
    """mergo.Merge: nested maps merge recursively, empty destination values are filled in."""
    out = dict(dst)
    for key, value in src.items():
        current = out.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            out[key] = _merged(current, value, overwrite)
        elif key not in out or is_empty(current) or (overwrite and not is_empty(value)):
            out[key] = value
    return out


def _merge(dst: Any, *sources: Any) -> dict[str, Any]:
    out = dict(_dict(dst))
    for source in sources:
        out = _merged(out, _dict(source), overwrite=False)
    return out


def _merge_overwrite(dst: Any, *sources: Any) -> dict[str, Any]:
    out = dict(_dict(dst))
    for source in sources:
        out = _merged(out, _dict(source), overwrite=True)
    return out


def _dig(*args: Any) -> Any:
    if len(args) < 3:
        raise TypeError("dig needs at least three arguments")
    current: Any = _dict(args[-1])
    default = args[-2]
    keys = [_str(k) for k in args[:-2]]
    for index, key in enumerate(keys):
        if key not in current:
            return default
        current = current[key]
        if index < len(keys) - 1:
            current = _dict(current)
    return current


# ---------------------------------------------------------------- regular expressions


def _regex_match(pattern: Any, text: Any) -> bool:
    try:
        return goregex.compile_go_regex(_str(pattern)).search(_str(text)) is not None
    except ValueError:
        return False


def _must_regex_match(pattern: Any, text: Any) -> bool:
    return goregex.compile_go_regex(_str(pattern)).search(_str(text)) is not None


def _regex_find(pattern: Any, text: Any) -> str:
    match = goregex.compile_go_regex(_str(pattern)).search(_str(text))
    return match.group(0) if match else ""


def _regex_find_all(pattern: Any, text: Any, limit: Any) -> list[str]:
    return [m.group(0) for m in goregex.find_all(_str(pattern), _str(text), _int(limit))]


def _regex_replace_all(pattern: Any, text: Any, replacement: Any) -> str:
    return goregex.replace_all(_str(pattern), _str(text), _str(replacement), literal=False)


def _regex_replace_all_literal(pattern: Any, text: Any, replacement: Any) -> str:
    return goregex.replace_all(_str(pattern), _str(text), _str(replacement), literal=True)


def _regex_split(pattern: Any, text: Any, limit: Any) -> list[str]:
    return goregex.split(_str(pattern), _str(text), _int(limit))


def _regex_quote_meta(text: Any) -> str:
    return "".join("\\" + ch if ch in r"\.+*?()|[]{}^$" else ch for ch in _str(text))


# ---------------------------------------------------------------- dates


def _as_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return datetime.now(UTC)


def _date_in_zone(layout: Any, value: Any, zone: Any) -> str:
    try:
        location = load_location(_str(zone))
    except ValueError:
        location = UTC
    return format_time(_as_time(value).astimezone(location), _str(layout))


def _date(layout: Any, value: Any) -> str:
    return _date_in_zone(layout, value, "Local")


def _html_date(value: Any) -> str:
    return _date_in_zone("2006-01-02", value, "Local")


def _now() -> datetime:
    return datetime.now().astimezone()


def _unix_epoch(value: Any) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"wrong type for value; expected time.Time; got {go_type_name(value)}")
    return str(int(value.timestamp()))


_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def _must_to_date(layout: Any, text: Any) -> datetime:
    return parse_time(_str(layout), _str(text), load_location("Local"))


def _to_date(layout: Any, text: Any) -> datetime:
    try:
        return _must_to_date(layout, text)
    except ValueError:
        return _ZERO_TIME


def _duration(seconds: Any) -> str:
    if isinstance(seconds, str):
        count = _atoi(seconds)
    elif isinstance(seconds, int) and not isinstance(seconds, bool):
        count = seconds
    else:
        count = 0
    return duration_string(timedelta(seconds=count))


def _date_modify(modifier: Any, value: Any) -> datetime:
    when = _as_time(value)
    try:
        return when + parse_duration(_str(modifier))
    except ValueError:
        return when


# ---------------------------------------------------------------- defaults


def _default(fallback: Any, *given: Any) -> Any:
    return fallback if not given or is_empty(given[0]) else given[0]


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if not is_empty(v)), None)


def _ternary(if_true: Any, if_false: Any, condition: Any) -> Any:
    if not isinstance(condition, bool):
        raise TypeError(f"wrong type for value; expected bool; got {go_type_name(condition)}")
    return if_true if condition else if_false


def _trim_all(cutset: Any, text: Any) -> str:
    return _str(text).strip(_str(cutset))


def _hash(algorithm: str) -> Callable[[Any], str]:
    def digest(text: Any) -> str:
        return hashlib.new(algorithm, _str(text).encode()).hexdigest()

    return digest


_ALNUM = string.ascii_letters + string.digits
_ASCII = "".join(chr(c) for c in range(32, 127))

SPRIG_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    # strings
    "trim": lambda s: gostrings.trim_space(_str(s)),
    "trimAll": _trim_all,
    "trimall": _trim_all,
    "trimPrefix": lambda prefix, s: _str(s).removeprefix(_str(prefix)),
    "trimSuffix": lambda suffix, s: _str(s).removesuffix(_str(suffix)),
    "upper": lambda s: _str(s).upper(),
    "lower": lambda s: _str(s).lower(),
    "title": lambda s: gostrings.title(_str(s)),
    "untitle": lambda s: gostrings.untitle(_str(s)),
    "replace": lambda old, new, src: _str(src).replace(_str(old), _str(new)),
    "substr": _substr,
    "trunc": _trunc,
    "repeat": _repeat,
    "contains": lambda sub, s: _str(sub) in _str(s),
    "hasPrefix": lambda prefix, s: _str(s).startswith(_str(prefix)),
    "hasSuffix": lambda suffix, s: _str(s).endswith(_str(suffix)),
    "quote": _quote,
    "squote": _squote,
    "cat": _cat,
    "indent": _indent,
    "nindent": lambda spaces, s: "\n" + _indent(spaces, s),
    "nospace": lambda s: "".join(ch for ch in _str(s) if not ch.isspace()),
    "abbrev": _abbrev,
    "abbrevboth": _abbrevboth,
    "initials": lambda s: gostrings.initials(_str(s)),
    "wrap": lambda width, s: gostrings.wrap(_str(s), _int(width), "\n", False),
    "wrapWith": lambda width, sep, s: gostrings.wrap(_str(s), _int(width), _str(sep), True),
    "snakecase": lambda s: gostrings.lower_case_words(_str(s), "_"),
    "kebabcase": lambda s: gostrings.lower_case_words(_str(s), "-"),
    "camelcase": lambda s: gostrings.pascal_case(_str(s)),
    "swapcase": lambda s: gostrings.swapcase(_str(s)),
    "plural": _plural,
    "randAlphaNum": _random(_ALNUM),
    "randAlpha": _random(string.ascii_letters),
    "randNumeric": _random(string.digits),
    "randAscii": _random(_ASCII),
    # conversion and encoding
    "atoi": _atoi,
    "int": cast_int,
    "int64": cast_int,
    "float64": cast_float,
    "toString": strval,
    "toStrings": strslice,
    "toJson": _to_json,
    "mustToJson": _must_to_json,
    "toPrettyJson": _to_pretty_json,
    "mustToPrettyJson": lambda v: go_json(v, indent=True),
    "toRawJson": _to_raw_json,
    "mustToRawJson": lambda v: go_json(v, escape_html=False),
    "fromJson": _from_json,
    "mustFromJson": _must_from_json,
    "b64enc": lambda s: base64.b64encode(_str(s).encode()).decode(),
    "b64dec": _b64dec,
    "b32enc": lambda s: base64.b32encode(_str(s).encode()).decode(),
    "b32dec": _b32dec,
    # math
    "add": _add,
    "add1": lambda v: wrap_int64(cast_int(v) + 1),
    "sub": lambda a, b: wrap_int64(cast_int(a) - cast_int(b)),
    "mul": _mul,
    "div": lambda a, b: _int_div(cast_int(a), cast_int(b)),
    "mod": lambda a, b: _int_mod(cast_int(a), cast_int(b)),
    "max": _max,
    "biggest": _max,
    "min": _min,
    "floor": lambda v: float(math.floor(cast_float(v))),
    "ceil": lambda v: float(math.ceil(cast_float(v))),
    "round": _round,
    "seq": _seq,
    "until": _until,
    "untilStep": _until_step,
    # lists
    "list": lambda *items: list(items),
    "tuple": lambda *items: list(items),
    "first": _first,
    "last": _last,
    "rest": _rest,
    "initial": _initial,
    "append": _push,
    "push": _push,
    "prepend": _prepend,
    "concat": _concat,
    "uniq": _uniq,
    "without": _without,
    "has": _has,
    "compact": _compact,
    "slice": _slice,
    "reverse": _reverse,
    "sortAlpha": _sort_alpha,
    "join": _join,
    "split": _split,
    "splitList": _split_list,
    "splitn": _splitn,
    # dicts
    "dict": _make_dict,
    "get": _get,
    "set": _set,
    "unset": _unset,
    "hasKey": _has_key,
    "pluck": _pluck,
    "keys": _keys,
    "values": _values,
    "pick": _pick,
    "omit": _omit,
    "merge": _merge,
    "mergeOverwrite": _merge_overwrite,
    "dig": _dig,
    # regular expressions
    "regexMatch": _regex_match,
    "mustRegexMatch": _must_regex_match,
    "regexFind": _regex_find,
    "regexFindAll": _regex_find_all,
    "regexReplaceAll": _regex_replace_all,
    "regexReplaceAllLiteral": _regex_replace_all_literal,
    "regexSplit": _regex_split,
    "regexQuoteMeta": _regex_quote_meta,
    # hashes
    "sha1sum": _hash("sha1"),
    "sha256sum": _hash("sha256"),
    "adler32sum": lambda s: str(zlib.adler32(_str(s).encode())),
    # defaults
    "default": _default,
    "empty": is_empty,
    "coalesce": _coalesce,
    "ternary": _ternary,
    "all": lambda *values: all(not is_empty(v) for v in values),
    "any": lambda *values: any(not is_empty(v) for v in values),
    # dates
    "now": _now,
    "date": _date,
    "dateInZone": _date_in_zone,
    "date_in_zone": _date_in_zone,
    "htmlDate": _html_date,
    "unixEpoch": _unix_epoch,
    "toDate": _to_date,
    "mustToDate": _must_to_date,
    "duration": _duration,
    "dateModify": _date_modify,
    "date_modify": _date_modify,
}
