"""Argo's node field selectors (``displayName=approve,templateName=wait``) for resume, stop,
retry and set."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from workflow_runtime.state import Node

NodePredicate = Callable[[Node], bool]

_TERM = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(==|=|!=)\s*(.*?)\s*$")
_INPUT_PARAMETER = re.compile(r"^inputs\.parameters\.(.+)\.value$")


class SelectorError(ValueError):
    pass


_SIMPLE_FIELDS = ("displayName", "name", "id", "templateName", "phase", "type", "boundaryID")
_REF_FIELDS = ("templateRef.name", "templateRef.template")


def _field(node: Node, name: str) -> Any:
    simple = {
        "displayName": node.display_name,
        "name": node.name,
        "id": node.id,
        "templateName": node.template_name,
        "phase": node.phase.value,
        "type": node.type.value,
        "boundaryID": node.boundary_id,
    }
    if name in simple:
        return simple[name]
    if name in _REF_FIELDS:
        return (node.template_ref or {}).get(name.split(".", 1)[1])
    match = _INPUT_PARAMETER.match(name)
    if match:
        for param in (node.inputs or {}).get("parameters") or []:
            if param.get("name") == match.group(1):
                return param.get("value")
    return None


def parse_node_selector(selector: str) -> NodePredicate:
    """A predicate over nodes; every comma-separated term must hold. Raises SelectorError."""
    terms = []
    for text in selector.split(","):
        if not text.strip():
            continue
        match = _TERM.match(text)
        if match is None:
            raise SelectorError(f"invalid node field selector term {text.strip()!r}: expected field=value")
        terms.append(match.groups())
    if not terms:
        raise SelectorError("empty node field selector")
    for name, _, _ in terms:  # unknown fields are reported now rather than never matching
        if name not in _SIMPLE_FIELDS and name not in _REF_FIELDS and not _INPUT_PARAMETER.match(name):
            raise SelectorError(
                f"unsupported node field {name!r}: use {', '.join(_SIMPLE_FIELDS + _REF_FIELDS)} "
                "or inputs.parameters.<name>.value"
            )

    def predicate(node: Node) -> bool:
        for name, op, value in terms:
            matches = str(_field(node, name)) == value
            if matches == (op == "!="):
                return False
        return True

    return predicate


def select_nodes(nodes: Iterable[Node], selector: str) -> set[str]:
    """IDs of the nodes the selector matches."""
    predicate = parse_node_selector(selector)
    return {node.id for node in nodes if predicate(node)}
