"""Durations as Argo accepts them: plain seconds (``30``) or Go durations (``1m30s``, ``500ms``)."""

from __future__ import annotations

import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")


def parse_duration(text: str | int | float) -> float:
    """Seconds for ``text``; raises ValueError naming the text when it is not a duration."""
    if isinstance(text, int | float):
        return float(text)
    value = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value)
    sign = -1.0 if value.startswith("-") else 1.0
    body = value.lstrip("+-")
    position, total = 0, 0.0
    for match in _PART.finditer(body):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not body or position != len(body):
        raise ValueError(f"invalid duration {text!r}: expected seconds or a Go duration like '1m30s'")
    return sign * total


def humanize(seconds: float) -> str:
    """Short human form used in messages (``Backoff for 2 seconds``)."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}" + (f" {rest} seconds" if rest else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} hour{'s' if hours != 1 else ''}" + (f" {minutes} minutes" if minutes else "")
