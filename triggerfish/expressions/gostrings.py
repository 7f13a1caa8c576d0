"""Go string algorithms sprig relies on, from Go's ``strings``, huandu/xstrings and goutils.

Kept separate from the sprig function table because they are ports of third-party algorithms
(word splitting for snake/kebab/camel case, word wrapping, abbreviation) with their own quirks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

_GO_SPACE_EDGES = re.compile(r"^[^\S\x1c-\x1f]+|[^\S\x1c-\x1f]+$")


def trim_space(text: str) -> str:
    """Go's ``strings.TrimSpace`` (Python's ``strip`` also drops the \\x1c-\\x1f separators)."""
    return _GO_SPACE_EDGES.sub("", text)


def title(text: str) -> str:
    """Go's ``strings.Title``: upper-case the first letter after every separator."""

    def separator(ch: str) -> bool:
        if ord(ch) <= 0x7F:
            return not (ch.isascii() and (ch.isalnum() or ch == "_"))
        return not (ch.isalpha() or unicodedata.category(ch) == "Nd") and ch.isspace()

    out: list[str] = []
    previous = " "
    for ch in text:
        out.append(ch.title() if separator(previous) else ch)
        previous = ch
    return "".join(out)


def untitle(text: str) -> str:
    """goutils.Uncapitalize: lower-case the first letter of every whitespace-separated word."""
    out: list[str] = []
    previous_space = True
    for ch in text:
        out.append(ch.lower() if previous_space and not ch.isspace() else ch)
        previous_space = ch.isspace()
    return "".join(out)


def abbreviate(text: str, offset: int, width: int) -> str:
    """goutils.AbbreviateFull."""
    if not text or len(text) <= width:
        return text
    offset = min(offset, len(text))
    if len(text) - offset < width - 3:
        offset = len(text) - (width - 3)
    if offset <= 4:
        return text[: width - 3] + "..."
    if width < 7:
        return ""
    if offset + width - 3 < len(text):
        return "..." + abbreviate(text[offset:], 0, width - 3)
    return "..." + text[len(text) - (width - 3) :]


def initials(text: str) -> str:
    """goutils.Initials: the first character of every whitespace-separated word."""
    out: list[str] = []
    gap = True
    for ch in text:
        if ch.isspace():
            gap = True
        elif gap:
            out.append(ch)
            gap = False
    return "".join(out)


def wrap(text: str, width: int, newline: str, wrap_long: bool) -> str:
    """goutils.WrapCustom: break at spaces so lines fit ``width`` columns."""
    if not text:
        return ""
    newline = newline or "\n"
    width = max(width, 1)
    out: list[str] = []
    offset = 0
    while len(text) - offset > width:
        if text[offset] == " ":
            offset += 1
            continue
        space = text.rfind(" ", offset, width + offset + 1)
        if space >= offset:
            out += [text[offset:space], newline]
            offset = space + 1
        elif wrap_long:
            out += [text[offset : offset + width], newline]
            offset += width
        else:
            space = text.find(" ", width + offset)
            if space < 0:
                out.append(text[offset:])
                offset = len(text)
            else:
                out += [text[offset:space], newline]
                offset = space + 1
    out.append(text[offset:])
    return "".join(out)


def swapcase(text: str) -> str:
    """goutils.SwapCase: a lower-case letter that starts a word becomes title case."""
    out: list[str] = []
    word_start = True
    for ch in text:
        if ch.isupper() or ch.istitle():
            out.append(ch.lower())
            word_start = False
        elif ch.islower():
            out.append(ch.title() if word_start else ch.upper())
            word_start = False
        else:
            out.append(ch)
            word_start = ch.isspace()
    return "".join(out)


def _is_connector(ch: str) -> bool:
    return ch in "-_" or ch.isspace()


def _is_alphabet(ch: str) -> bool:
    """xstrings: a letter that is not CJK."""
    return ch.isalpha() and not (
        0x3400 <= ord(ch) <= 0x9FFF or 0xF900 <= ord(ch) <= 0xFAFF or ord(ch) >= 0x20000
    )


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def _is_number(ch: str) -> bool:
    return unicodedata.category(ch).startswith("N")


def _next_word(text: str) -> tuple[str, str, str]:
    """xstrings' nextWord: the kind and text of the leading word, and the rest of the string."""
    if not text:
        return "invalid", "", ""
    first = text[0]
    end = 1

    def run(accept: Callable[[str], bool]) -> int:
        i = end
        while i < len(text) and accept(text[i]):
            i += 1
        return i

    if _is_connector(first):
        kind, end = "connector", run(_is_connector)
    elif _is_punct(first):
        kind, end = "punct", run(_is_punct)
    elif first.isupper():
        kind = "upper"
        if end < len(text) and text[end].isupper():
            end = run(str.isupper)
            if end < len(text) and _is_alphabet(text[end]):
                end -= 1  # "HTTPServer": the S starts the next word
        elif end < len(text) and _is_alphabet(text[end]):
            end = run(lambda c: _is_alphabet(c) and not c.isupper())
    elif _is_alphabet(first):
        kind, end = "alpha", run(lambda c: _is_alphabet(c) and not c.isupper())
    elif _is_number(first):
        kind, end = "number", run(_is_number)
    else:
        kind = "other"
        end = run(lambda c: not (_is_connector(c) or _is_alphabet(c) or _is_number(c) or _is_punct(c)))
    return kind, text[:end], text[end:]


def _lower_word(kind: str, word: str, connector: str) -> str:
    if kind not in ("upper", "connector"):
        return word
    return "".join(connector if _is_connector(c) else c.lower() for c in word)


def lower_case_words(text: str, connector: str) -> str:
    """xstrings' camelCaseToLowerCase (snakecase / kebabcase), transcribed step for step."""
    out: list[str] = []
    kind, word, rest = _next_word(text)
    wordy = ("alpha", "number")
    separate = ("invalid", "punct", "connector")
    while rest:
        if kind != "connector":
            out.append(_lower_word(kind, word, connector))
        prev, last = kind, word
        kind, word, rest = _next_word(rest)
        if prev == "number":
            while kind in wordy:
                out.append(_lower_word(kind, word, connector))
                kind, word, rest = _next_word(rest)
            if kind not in separate:
                out.append(connector)
        elif prev == "connector":
            out.append(_lower_word(prev, last, connector))
        elif prev != "punct":
            if kind != "number":
                if kind not in separate:
                    out.append(connector)
                continue
            if not rest:
                continue
            number = word
            kind, word, rest = _next_word(rest)
            if kind != "alpha":
                out.append(number)
                if kind not in separate:
                    out.append(connector)
                continue
            out += [connector, number]
            while kind in wordy:
                out.append(_lower_word(kind, word, connector))
                kind, word, rest = _next_word(rest)
            if kind not in separate:
                out.append(connector)
    out.append(_lower_word(kind, word, connector))
    return "".join(out)


def pascal_case(text: str) -> str:
    """xstrings.ToPascalCase (sprig's ``camelcase``): ``http_server`` becomes ``HttpServer``."""
    lead = len(text) - len(text.lstrip("".join(c for c in set(text) if _is_connector(c))))
    out = [text[:lead]]
    if lead == len(text):
        return text
    first_upper = text[lead].isupper()
    current = text[lead].upper()
    for ch in text[lead + 1 :]:
        previous, current = current, ch
        if _is_connector(current) and _is_connector(previous):
            out.append(previous)
            continue
        if _is_connector(previous):
            first_upper = current.isupper()
            current = current.upper()
            continue
        if first_upper:
            if current.isupper():
                current = current.lower()
            else:
                first_upper = False
        out.append(previous)
    out.append(current)
    return "".join(out)


def split_n(text: str, sep: str, limit: int = -1, *, after: bool = False) -> list[str]:
    """Go's ``strings.SplitN`` / ``SplitAfterN``: at most ``limit`` parts (all when negative).

    An empty separator splits into characters, as Go does.
    """
    if limit == 0:
        return []
    if sep == "":
        chars = list(text)
        if 0 < limit < len(chars):
            return [*chars[: limit - 1], "".join(chars[limit - 1 :])]
        return chars
    pieces = text.split(sep, limit - 1 if limit > 0 else -1)
    if after:
        pieces = [p + sep for p in pieces[:-1]] + pieces[-1:]
    return pieces
