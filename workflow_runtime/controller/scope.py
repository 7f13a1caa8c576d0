"""What later steps/tasks can reference about earlier ones (``steps.X.*`` / ``tasks.X.*``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from workflow_runtime.controller.references import absent_variables
from workflow_runtime.controller.tree import NodeTree
from workflow_runtime.controller.variables import aggregate_variables, node_variables
from workflow_runtime.spec.template import Template
from workflow_runtime.state import Node, NodeType


def template_text(template: Template) -> str:
    """Every string in a template, joined: what Argo searches for ``outputs.result`` references."""

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    return "\n".join(strings(template.to_argo()))


def references_result(text: str, prefix: str, name: str) -> bool:
    """Argo's ``hasOutputResultRef``: does the calling template read ``<prefix>.<name>.outputs.result``?"""
    forms = (
        f"{prefix}.{name}.outputs.result",
        f"{prefix}['{name}'].outputs.result",
        f'{prefix}["{name}"].outputs.result',
    )
    return any(form in text for form in forms)


def item_index(node: Node) -> int:
    """The loop index in ``name(3:…)`` (Argo's ``RecoverIndexFromNodeName``)."""
    display = node.display_name
    start = display.find("(")
    colon = display.find(":", start)
    try:
        return int(display[start + 1 : colon])
    except ValueError:
        return 0


def result_variables(
    prefix: str, node: Node, tree: NodeTree, group: Node | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """(variables, absent variables) describing a finished step/task under ``prefix``.

    For a looped step, ``id`` and ``status`` describe ``group`` (its StepGroup, as in Argo v4);
    raises :class:`AggregationError` when the items' results cannot be combined.
    """
    if node.type == NodeType.TASK_GROUP:
        items = sorted((tree.get(c) for c in node.children), key=item_index)
        variables = aggregate_variables(prefix, items)
        described = group or node
        variables[f"{prefix}.id"] = described.id
        variables[f"{prefix}.status"] = described.phase.value
        return variables, {}
    return node_variables(prefix, node, tree.nodes), absent_variables(prefix, node)


def first_failure(node: Node, tree: NodeTree) -> Node:
    """The node a "child '<id>' failed" message names: a TaskGroup resolves to its first failed item."""
    if node.type == NodeType.TASK_GROUP:
        for child_id in node.children:
            child = tree.get(child_id)
            if child.phase.failed_or_error:
                return child
    return node
