"""``withItems`` / ``withParam`` / ``withSequence``: turn one step or task into its expanded copies.

Naming and item rendering follow Argo's ``processItem``: ``name(index:summary)`` where a map item's
summary is its sorted ``key:value`` pairs, and ``{{item}}`` of a map or list is its JSON.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from workflow_runtime.spec.common import Sequence


class LoopError(ValueError):
    """The loop source cannot be expanded (bad JSON, bad sequence)."""


@dataclass(frozen=True, slots=True)
class Expansion:
    """One copy of a looped step/task: its name suffix and the ``item`` variables it sees."""

    index: int
    name: str
    variables: dict[str, str]


def go_json(value: Any) -> str:
    """JSON as Go's ``encoding/json`` writes it: compact, sorted keys, HTML characters escaped."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def item_text(value: Any) -> str:
    """How Argo's ``Item.String()`` prints a value inside names and ``{{item.key}}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, int | float):
        return json.dumps(value)
    return go_json(value)


def _go_list(values: list[Any]) -> str:
    """Go's ``%v`` of a decoded JSON list: ``[a b c]``."""
    return "[" + " ".join(_go_list(v) if isinstance(v, list) else item_text(v) for v in values) + "]"


def expand_items(base_name: str, items: list[Any]) -> list[Expansion]:
    expansions = []
    for index, item in enumerate(items):
        variables: dict[str, str]
        if isinstance(item, dict):
            variables = {f"item.{key}": item_text(value) for key, value in item.items()}
            variables["item"] = go_json(item)
            summary = ",".join(sorted(f"{key}:{item_text(value)}" for key, value in item.items()))
            name = f"{base_name}({index}:{summary})"
        elif isinstance(item, list):
            variables = {"item": go_json(item)}
            name = f"{base_name}({index}:{_go_list(item)})"
        elif isinstance(item, str | int | float | bool):
            text = item_text(item)
            variables = {"item": text}
            clean = text.replace("(", "").replace(")", "")
            name = f"{base_name}({index}:{clean})"
        else:
            raise LoopError(f"withItems[{index}] expected string, number, list, or map. received: {item!r}")
        expansions.append(Expansion(index, name, variables))
    return expansions


def parse_with_param(value: str) -> list[Any]:
    """A ``withParam`` JSON list; an empty value (a step that printed nothing) is an empty list."""
    if not value.strip():
        return []
    try:
        items = json.loads(value)
    except json.JSONDecodeError as exc:
        raise LoopError(
            f"withParam value could not be parsed as a JSON list: {value.strip()}: {exc}"
        ) from exc
    if not isinstance(items, list):
        raise LoopError(f"withParam value could not be parsed as a JSON list: {value.strip()}")
    return items


_VERB = re.compile(r"%([-+# 0]*)(\d*)([dxXobc%])")


def go_sprintf_int(fmt: str, number: int) -> str:
    """Go's ``fmt.Sprintf(format, i)`` for the integer verbs ``withSequence.format`` uses."""

    def substitute(match: re.Match[str]) -> str:
        flags, width, verb = match.groups()
        if verb == "%":
            return "%"
        if verb == "b":
            digits = format(abs(number), "b")
            text = ("-" if number < 0 else "") + digits
            pad = "0" if "0" in flags and "-" not in flags else " "
            return text.ljust(int(width or 0)) if "-" in flags else text.rjust(int(width or 0), pad)
        if verb == "c":
            return chr(number)
        return f"%{flags}{width}{verb}" % number

    return _VERB.sub(substitute, fmt)


def _int_field(value: str | None, field: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise LoopError(f"withSequence.{field} must be an integer, got {value!r}") from exc


def expand_sequence(sequence: Sequence) -> list[str]:
    start = _int_field(sequence.start, "start") or 0
    end = _int_field(sequence.end, "end")
    count = _int_field(sequence.count, "count")
    if end is None:
        if count is None:
            raise LoopError("neither end nor count was specified in withSequence")
        if count == 0:
            return []
        end = start + count - 1
    fmt = sequence.format or "%d"
    step = 1 if start <= end else -1
    return [go_sprintf_int(fmt, number) for number in range(start, end + step, step)]
