"""Go's text forms of values: ``%v``, ``%T``, ``strconv.Quote`` and ``encoding/json``.

Argo and sprig turn values into text with these Go routines; reproducing them byte for byte
keeps rendered parameters identical to what a real Argo controller would produce.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from triggerfish.expressions.gotime import RFC3339_NANO, duration_nanoseconds, duration_string, format_time
from triggerfish.expressions.gotime import time_string as _time_string


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits of a positive float and the decimal point position."""
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    raw = whole + fraction
    stripped = raw.lstrip("0")
    point = len(whole) + (int(exponent) if exponent else 0) - (len(raw) - len(stripped))
    return (stripped.rstrip("0") or "0"), point


def _exponent_form(digits: str, point: int, min_exp_digits: int) -> str:
    exp = point - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):0{min_exp_digits}d}"


def _fixed_form(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _special_float(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    return None


def format_float(value: float) -> str:
    """``%v`` of a float64: shortest digits, exponent form below 1e-4 or from 1e+06 (Go's %g)."""
    special = _special_float(value)
    if special is not None:
        return special
    digits, point = _shortest_digits(abs(value))
    sign = "-" if value < 0 else ""
    if point - 1 < -4 or point - 1 >= 6:
        return sign + _exponent_form(digits, point, 2)
    return sign + _fixed_form(digits, point)


def _json_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"json: unsupported value: {format_float(value)}")
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    digits, point = _shortest_digits(abs(value))
    sign = "-" if value < 0 else ""
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        return sign + _exponent_form(digits, point, 1)
    return sign + _fixed_form(digits, point)


def _sort_key(key: Any) -> tuple[int, Any]:
    if isinstance(key, bool):
        return (0, key)
    if isinstance(key, int | float):
        return (1, key)
    return (2, str(key))


def go_format(value: Any) -> str:
    """``fmt.Sprintf("%v", value)`` for the values expressions produce."""
    if value is None:
        return "<nil>"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_format(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: _sort_key(kv[0]))
        return "map[" + " ".join(f"{go_format(k)}:{go_format(v)}" for k, v in items) + "]"
    if isinstance(value, datetime):
        return _time_string(value)
    if isinstance(value, timedelta):
        return duration_string(value)
    return str(value)


def go_type_name(value: Any) -> str:
    """``fmt.Sprintf("%T", value)`` as Go would print the decoded JSON-like value."""
    if value is None:
        return "<nil>"
    names: tuple[tuple[type, str], ...] = (
        (bool, "bool"), (int, "int"), (float, "float64"), (str, "string"),
        (list, "[]interface {}"), (tuple, "[]interface {}"), (dict, "map[string]interface {}"),
        (datetime, "time.Time"), (timedelta, "time.Duration"),
    )  # fmt: skip
    for kind, name in names:
        if isinstance(value, kind):
            return name
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if callable(value):
        return "func(...interface {}) interface {}"
    return type(value).__name__


_QUOTE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(text: str) -> str:
    """``strconv.Quote``: a double-quoted Go string literal (also ``%q``)."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            out.append("\\ufffd")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def _json_string(text: str, escape_html: bool) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _JSON_ESCAPES:
            out.append(_JSON_ESCAPES[ch])
        elif code < 0x20 or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        elif escape_html and ch in _HTML_ESCAPES:
            out.append(_HTML_ESCAPES[ch])
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_json(value: Any, *, indent: bool = False, escape_html: bool = True) -> str:
    """``json.Marshal`` (or ``json.MarshalIndent(v, "", "  ")``): sorted keys, Go number forms.

    Raises ``ValueError`` for values Go cannot encode (NaN, infinities, functions).
    """
    return _encode(value, "", indent, escape_html)


def _encode(item: Any, pad: str, indent: bool, escape_html: bool) -> str:
    if item is None:
        return "null"
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        return _json_float(item)
    if isinstance(item, str):
        return _json_string(item, escape_html)
    if isinstance(item, datetime):
        return _json_string(format_time(item, RFC3339_NANO), escape_html)
    if isinstance(item, timedelta):
        return str(duration_nanoseconds(item))
    inner = pad + "  "
    if isinstance(item, list | tuple):
        return _join([_encode(v, inner, indent, escape_html) for v in item], "[", "]", pad, indent)
    if isinstance(item, Mapping):
        sep = ": " if indent else ":"
        members = [
            _json_string(go_format(k), escape_html) + sep + _encode(item[k], inner, indent, escape_html)
            for k in sorted(item, key=go_format)
        ]
        return _join(members, "{", "}", pad, indent)
    raise ValueError(f"json: unsupported type: {go_type_name(item)}")


def _join(parts: list[str], left: str, right: str, pad: str, indent: bool) -> str:
    if not parts:
        return left + right
    if not indent:
        return left + ",".join(parts) + right
    inner = pad + "  "
    return left + "\n" + ",\n".join(inner + p for p in parts) + "\n" + pad + right
