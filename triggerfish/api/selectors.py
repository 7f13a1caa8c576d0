"""Kubernetes label selectors (``a=b,c!=d,e in (x,y),f notin (z),g,!h``) and the field selectors
(``metadata.name=x``) of Argo's list and watch APIs."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

LabelPredicate = Callable[[Mapping[str, str]], bool]

_SET = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQUALITY = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_./-]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*$")


class SelectorError(ValueError):
    pass


def _split_terms(selector: str) -> list[str]:
    """Split on commas outside parentheses."""
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t for t in terms if t.strip()]


def _term(text: str) -> LabelPredicate:
    if match := _SET.match(text):
        key, op, values = (
            match.group(1),
            match.group(2),
            {v.strip() for v in match.group(3).split(",") if v.strip()},
        )
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EQUALITY.match(text):
        key, op, value = match.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS.match(text):
        negate, key = match.group(1) == "!", match.group(2)
        return lambda labels: (key in labels) != negate
    raise SelectorError(f"invalid label selector term {text.strip()!r}")


def parse_selector(selector: str | None) -> LabelPredicate:
    """A predicate over a label map; every term must hold. Raises SelectorError naming the bad term."""
    predicates = [_term(term) for term in _split_terms(selector or "")]
    return lambda labels: all(predicate(labels) for predicate in predicates)


DocumentPredicate = Callable[[Mapping[str, Any]], bool]

FIELDS = ("metadata.name", "metadata.namespace")
_FIELD_TERM = re.compile(r"^\s*([A-Za-z.]+)\s*(==|=|!=)\s*(.*?)\s*$")
SHOW_REMAINING = "ext.showRemainingItemCount"


def parse_field_selector(selector: str | None) -> tuple[DocumentPredicate, bool]:
    """A predicate over documents for ``listOptions.fieldSelector`` (Argo Server supports
    ``metadata.name`` and ``metadata.namespace``), and whether ``ext.showRemainingItemCount=true``
    was asked for. Raises SelectorError for any other field, as Argo does."""
    checks: list[tuple[str, bool, str]] = []
    show_remaining = False
    for text in _split_terms(selector or ""):
        match = _FIELD_TERM.match(text)
        if match is None:
            raise SelectorError(f"invalid field selector term {text.strip()!r}")
        field, op, value = match.groups()
        if field == SHOW_REMAINING and op != "!=":
            show_remaining = value.lower() == "true"
            continue
        if field not in FIELDS:
            raise SelectorError(f"unsupported requirement {text.strip()}: fields are {', '.join(FIELDS)}")
        checks.append((field.split(".", 1)[1], op == "!=", value))

    def predicate(document: Mapping[str, Any]) -> bool:
        metadata = document.get("metadata") or {}
        return all((str(metadata.get(key, "")) == value) != negate for key, negate, value in checks)

    return predicate, show_remaining
