"""Go ``regexp`` (RE2) semantics on top of Python's ``re``.

expr-lang's ``matches``, govaluate's ``=~`` and sprig's ``regex*`` functions take Go patterns and
use Go's rules for ``FindAll``, ``Split`` and ``$1`` replacement templates, which differ from
Python's in small but visible ways (``$`` anchoring, empty matches, ``${name}`` expansion).
"""

from __future__ import annotations

import re
from functools import lru_cache

_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7F", "blank": "\\t ",
    "cntrl": "\\x00-\\x1F\\x7F", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z",
    "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}  # fmt: skip


def _translate(pattern: str) -> str:
    """Rewrite the few RE2 spellings Python reads differently."""
    multiline = re.search(r"\(\?[a-zA-Z]*m", pattern) is not None
    out: list[str] = []
    i = 0
    in_class = False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append("\\Z" if pattern[i + 1] == "z" and not in_class else pattern[i : i + 2])
            i += 2
        elif in_class and pattern.startswith("[:", i) and ":]" in pattern[i:]:
            end = pattern.index(":]", i)
            name = pattern[i + 2 : end]
            if name not in _POSIX_CLASSES:
                raise ValueError(f"error parsing regexp: invalid character class range: `[:{name}:]`")
            out.append(_POSIX_CLASSES[name])
            i = end + 2
        elif in_class:
            in_class = ch != "]"
            out.append(ch)
            i += 1
        elif ch == "[":
            in_class = True
            start = i + 1 + (pattern[i + 1 : i + 2] == "^")
            out.append(pattern[i:start])
            if pattern[start : start + 1] == "]":
                out.append("\\]")
                start += 1
            i = start
        elif ch == "$" and not multiline:
            out.append("\\Z")
            i += 1
        elif pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in ("=", "!"):
            out.append("(?P<")
            i += 3
        else:
            out.append(ch)
            i += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def compile_go_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Go pattern; ``ValueError`` with Go's wording when it is invalid."""
    try:
        return re.compile(_translate(pattern))
    except re.error as exc:
        raise ValueError(f"error parsing regexp: {exc.msg}: `{pattern}`") from None


def find_all(pattern: str, text: str, limit: int = -1) -> list[re.Match[str]]:
    """Go's ``FindAll``: empty matches right after a previous match are skipped."""
    if limit == 0:
        return []
    out: list[re.Match[str]] = []
    previous_end = -1
    for match in compile_go_regex(pattern).finditer(text):
        if match.start() == match.end() == previous_end:
            continue
        out.append(match)
        previous_end = match.end()
        if len(out) == limit:
            break
    return out


_TEMPLATE_REF = re.compile(r"\$(?:\{(\w+)\}|(\w+)|(\$))")


def expand(template: str, match: re.Match[str]) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}`` and ``$$``."""

    def group(ref: re.Match[str]) -> str:
        if ref.group(3):
            return "$"
        name = ref.group(1) or ref.group(2)
        if name.isdigit():
            index = int(name)
            return (match.group(index) or "") if index <= (match.re.groups or 0) else ""
        return (match.group(name) or "") if name in match.re.groupindex else ""

    return _TEMPLATE_REF.sub(group, template)


def replace_all(pattern: str, text: str, replacement: str, *, literal: bool) -> str:
    """Go's ``ReplaceAllString`` (``literal=False``) or ``ReplaceAllLiteralString``."""
    pieces: list[str] = []
    last = 0
    for match in find_all(pattern, text):
        pieces.append(text[last : match.start()])
        pieces.append(replacement if literal else expand(replacement, match))
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces)


def split(pattern: str, text: str, limit: int) -> list[str]:
    """Go's ``Regexp.Split``."""
    if limit == 0:
        return []
    if pattern and not text:
        return [""]
    parts: list[str] = []
    begin = end = 0
    for match in find_all(pattern, text, limit):
        if limit > 0 and len(parts) == limit - 1:
            break
        end = match.start()
        if match.end() != 0:
            parts.append(text[begin:end])
        begin = match.end()
    if end != len(text):
        parts.append(text[begin:])
    return parts
