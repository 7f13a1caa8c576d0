"""Go's time layouts and durations, so date functions format and parse exactly as Argo's do.

expr-lang's ``date``/``duration`` and sprig's ``date``/``toDate``/``duration`` take Go reference
layouts (``2006-01-02 15:04:05``) and print ``time.Time``/``time.Duration`` the Go way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_NANO = "2006-01-02T15:04:05.999999999Z07:00"
TIME_STRING_LAYOUT = "2006-01-02 15:04:05.999999999 -0700 MST"

# Longest first: the layout scanner takes the first that matches at a position.
_ZONE_TOKENS = (
    "Z07:00:00",
    "Z070000",
    "Z07:00",
    "Z0700",
    "Z07",
    "-07:00:00",
    "-070000",
    "-07:00",
    "-0700",
    "-07",
)
_WORD_TOKENS = ("January", "Jan", "Monday", "Mon", "MST", "2006", "002", "__2", "_2", "15", "PM", "pm")
_TWO_DIGIT = {"01", "02", "03", "04", "05", "06"}


@dataclass(frozen=True, slots=True)
class _Chunk:
    """A literal run or a Go layout element (``std`` holds the element's reference text)."""

    text: str
    std: bool


@lru_cache(maxsize=256)
def _chunks(layout: str) -> tuple[_Chunk, ...]:
    out: list[_Chunk] = []
    literal: list[str] = []
    i = 0
    while i < len(layout):
        token = _std_at(layout, i)
        if token is None:
            literal.append(layout[i])
            i += 1
            continue
        if literal:
            out.append(_Chunk("".join(literal), False))
            literal = []
        out.append(_Chunk(token, True))
        i += len(token)
    if literal:
        out.append(_Chunk("".join(literal), False))
    return tuple(out)


def _std_at(layout: str, i: int) -> str | None:
    rest = layout[i:]
    for token in (*_ZONE_TOKENS, *_WORD_TOKENS):
        if rest.startswith(token):
            return token
    if rest[:2] in _TWO_DIGIT:
        return rest[:2]
    if rest[:1] in ("1", "2", "3", "4", "5"):
        return rest[:1]
    if rest[:1] in (".", ",") and rest[1:2] in ("0", "9"):
        j = 1
        while j < len(rest) and rest[j] == rest[1]:
            j += 1
        if not rest[j : j + 1].isdigit():
            return rest[:j]
    return None


def _zone_text(t: datetime, token: str) -> str:
    offset = t.utcoffset() or timedelta(0)
    if token.startswith("Z") and not offset:
        return "Z"
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    hh, mm, ss = seconds // 3600, seconds // 60 % 60, seconds % 60
    colon = ":" if ":" in token else ""
    digits = len(token.lstrip("Z-").replace(":", ""))
    parts = [f"{hh:02d}", f"{mm:02d}", f"{ss:02d}"][: digits // 2]
    return sign + colon.join(parts)


def _zone_name(t: datetime) -> str:
    """The zone abbreviation Go prints for ``MST`` (a numeric offset when the zone has no name)."""
    name = t.tzname()
    if name is None or name.startswith(("UTC+", "UTC-")) or not name:
        return _zone_text(t, "-0700") if t.utcoffset() else "UTC"
    return name


def _fraction(t: datetime, token: str) -> str:
    digits = f"{t.microsecond:06d}000"[: len(token) - 1]
    if token[1] == "9":
        digits = digits.rstrip("0")
        return token[0] + digits if digits else ""
    return token[0] + digits


def _format_std(t: datetime, token: str) -> str:
    simple = {
        "2006": f"{t.year:04d}", "06": f"{t.year % 100:02d}",
        "January": _MONTHS[t.month - 1], "Jan": _MONTHS[t.month - 1][:3],
        "01": f"{t.month:02d}", "1": str(t.month),
        "Monday": _DAYS[t.weekday()], "Mon": _DAYS[t.weekday()][:3],
        "02": f"{t.day:02d}", "2": str(t.day), "_2": f"{t.day:2d}",
        "002": f"{t.timetuple().tm_yday:03d}", "__2": f"{t.timetuple().tm_yday:3d}",
        "15": f"{t.hour:02d}", "03": f"{(t.hour % 12) or 12:02d}", "3": str((t.hour % 12) or 12),
        "04": f"{t.minute:02d}", "4": str(t.minute), "05": f"{t.second:02d}", "5": str(t.second),
        "PM": "PM" if t.hour >= 12 else "AM", "pm": "pm" if t.hour >= 12 else "am",
        "MST": _zone_name(t),
    }  # fmt: skip
    if token in simple:
        return simple[token]
    if token[0] in ".,":
        return _fraction(t, token)
    return _zone_text(t, token)


def format_time(t: datetime, layout: str) -> str:
    """Go's ``t.Format(layout)``."""
    return "".join(_format_std(t, c.text) if c.std else c.text for c in _chunks(layout))


def time_string(t: datetime) -> str:
    """Go's ``time.Time.String()`` (what ``%v`` prints): ``format_time(t, TIME_STRING_LAYOUT)``,
    spelled out because every Kafka record's event data carries one."""
    fraction = f"{t.microsecond:06d}".rstrip("0")
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f"{'.' + fraction if fraction else ''} {_zone_text(t, '-0700')} {_zone_name(t)}"
    )


_PARSE_PATTERNS = {
    "2006": r"(?P<year>\d{4})", "06": r"(?P<year2>\d{2})",
    "January": r"(?P<monthname>[A-Za-z]+)", "Jan": r"(?P<monthabbr>[A-Za-z]{3})",
    "01": r"(?P<month>\d{2})", "1": r"(?P<month>\d{1,2})",
    "Monday": r"[A-Za-z]+", "Mon": r"[A-Za-z]{3}",
    "02": r"(?P<day>\d{2})", "2": r"(?P<day>\d{1,2})", "_2": r" ?(?P<day>\d{1,2})",
    "002": r"(?P<yday>\d{3})", "__2": r" {0,2}(?P<yday>\d{1,3})",
    "15": r"(?P<hour>\d{1,2})", "03": r"(?P<hour12>\d{2})", "3": r"(?P<hour12>\d{1,2})",
    "04": r"(?P<minute>\d{2})", "4": r"(?P<minute>\d{1,2})",
    "05": r"(?P<second>\d{2})(?:[.,](?P<frac>\d+))?", "5": r"(?P<second>\d{1,2})(?:[.,](?P<frac>\d+))?",
    "PM": r"(?P<ampm>AM|PM)", "pm": r"(?P<ampm>am|pm)",
    "MST": r"(?P<abbr>[A-Z]{3,5}|[+-]\d{2,4})",
}  # fmt: skip


def _parse_pattern(token: str) -> str:
    if token in _PARSE_PATTERNS:
        return _PARSE_PATTERNS[token]
    if token[0] in ".,":
        if token[1] == "9":
            return r"(?:[.,](?P<frac>\d+))?"
        return re.escape(token[0]) + rf"(?P<frac>\d{{{len(token) - 1}}})"
    zulu = "Z|" if token.startswith("Z") else ""
    body = (
        r"\d{2}" + (r":?\d{2}" if len(token.strip("Z-")) > 2 else "") + (r":?\d{2}" if len(token) > 6 else "")
    )
    return rf"(?P<offset>{zulu}[+-]{body})"


@lru_cache(maxsize=256)
def _layout_regex(layout: str) -> re.Pattern[str]:
    parts: list[str] = []
    seen: set[str] = set()
    for chunk in _chunks(layout):
        if not chunk.std:
            parts.append(re.escape(chunk.text))
            continue
        pattern = _parse_pattern(chunk.text)
        for name in re.findall(r"\?P<(\w+)>", pattern):
            if name in seen:  # a field repeated in the layout: later copies just have to be well-formed
                pattern = pattern.replace(f"?P<{name}>", "?:")
            seen.add(name)
        parts.append(pattern)
    return re.compile("".join(parts) + r"\Z")


def _month_from_name(name: str, value: str) -> int:
    for index, month in enumerate(_MONTHS):
        if name.lower() in (month.lower(), month[:3].lower()):
            return index + 1
    raise ValueError(f'parsing time "{value}": month out of range')


def _offset_zone(text: str) -> tzinfo:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes, seconds = int(digits[:2]), int(digits[2:4] or 0), int(digits[4:6] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes, seconds=seconds))


def parse_time(layout: str, value: str, default_zone: tzinfo | None = None) -> datetime:
    """Go's ``time.ParseInLocation(layout, value, zone)``; ``ValueError`` when it does not fit."""
    match = _layout_regex(layout).match(value)
    if match is None:
        raise ValueError(f'parsing time "{value}" as "{layout}": cannot parse')
    fields = {k: v for k, v in match.groupdict().items() if v is not None}
    year = int(fields.get("year", 0)) if "year" in fields else _two_digit_year(fields.get("year2"))
    month = int(fields.get("month", 1))
    if "monthname" in fields or "monthabbr" in fields:
        month = _month_from_name(fields.get("monthname") or fields["monthabbr"], value)
    hour = int(fields.get("hour", 0))
    if "hour12" in fields:
        hour = int(fields["hour12"]) % 12 + (12 if fields.get("ampm", "").upper() == "PM" else 0)
    zone = default_zone or UTC
    if "offset" in fields:
        zone = _offset_zone(fields["offset"])
    elif fields.get("abbr") in ("UTC", "GMT", "Z"):
        zone = UTC
    micro = int((fields.get("frac", "") + "000000")[:6])
    try:
        result = datetime(year or 1, month, int(fields.get("day", 1)), hour, int(fields.get("minute", 0)),
                          int(fields.get("second", 0)), micro, tzinfo=zone)  # fmt: skip
    except ValueError as exc:
        raise ValueError(f'parsing time "{value}": {exc}') from None
    if "yday" in fields:
        result = result.replace(month=1, day=1) + timedelta(days=int(fields["yday"]) - 1)
    return result


def _two_digit_year(text: str | None) -> int:
    if text is None:
        return 0
    year = int(text)
    return year + (1900 if year >= 69 else 2000)


def load_location(name: str) -> tzinfo:
    """Go's ``time.LoadLocation``: ``""``/``UTC`` is UTC, ``Local`` the host zone, else IANA names."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name}") from None


_NS_PER = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]*)")


def parse_duration(text: str) -> timedelta:
    """Go's ``time.ParseDuration`` (microsecond resolution: Python's timedelta has no nanoseconds)."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return timedelta(0)
    if not body:
        raise ValueError(f'time: invalid duration "{text}"')
    total_ns = 0
    pos = 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if match is None or match.end() == pos or not (match.group(1) or match.group(2)):
            raise ValueError(f'time: invalid duration "{text}"')
        whole, frac, unit = match.group(1) or "0", match.group(2) or "", match.group(3)
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        if unit not in _NS_PER:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        scale = _NS_PER[unit]
        total_ns += int(whole) * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        pos = match.end()
    if text.startswith("-"):
        total_ns = -total_ns
    return timedelta(microseconds=total_ns / 1000)


def duration_nanoseconds(d: timedelta) -> int:
    """The duration as Go's int64 nanosecond count."""
    return (d // timedelta(microseconds=1)) * 1000


def _frac(value: int, precision: int) -> tuple[str, int]:
    digits = ""
    for _ in range(precision):
        digits = str(value % 10) + digits
        value //= 10
    digits = digits.rstrip("0")
    return ("." + digits if digits else ""), value


def duration_string(d: timedelta) -> str:
    """Go's ``time.Duration.String()`` such as ``1h0m0s``, ``1.5s`` or ``250ms``."""
    ns = duration_nanoseconds(d)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 10**9:
        if u < 1_000:
            return f"{sign}{u}ns"
        if u < 1_000_000:
            frac, whole = _frac(u, 3)
            return f"{sign}{whole}{frac}µs"
        frac, whole = _frac(u, 6)
        return f"{sign}{whole}{frac}ms"
    frac, seconds = _frac(u, 9)
    out = f"{seconds % 60}{frac}s"
    minutes = seconds // 60
    if minutes:
        out = f"{minutes % 60}m{out}"
        if minutes // 60:
            out = f"{minutes // 60}h{out}"
    return sign + out
