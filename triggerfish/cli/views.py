"""Printing workflows the way ``argo`` does, from their Argo JSON (local store or hub alike)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console, Group

from triggerfish.cli.hub_client import emit
from triggerfish.cli.render import list_table, node_tree, summary_table
from workflow_runtime.state import Node

COMPLETED = ("Succeeded", "Failed", "Error")


def phase_of(document: Mapping[str, Any]) -> str:
    return str((document.get("status") or {}).get("phase") or "Pending")


def workflow_view(document: Mapping[str, Any]) -> Group:
    """``argo get``: the summary and the node tree."""
    nodes = {k: Node.from_json(v) for k, v in ((document.get("status") or {}).get("nodes") or {}).items()}
    return Group(summary_table(document), "", node_tree(document["metadata"]["name"], nodes))


def print_workflow(document: Mapping[str, Any], output: str | None) -> None:
    if emit(document, output):
        return
    if output == "name":
        print(document["metadata"]["name"])
        return
    Console().print(workflow_view(document))


def print_workflows(documents: Iterable[Mapping[str, Any]], output: str | None) -> None:
    documents = list(documents)
    if emit(documents, output):
        return
    if output == "name":
        for document in documents:
            print(document["metadata"]["name"])
        return
    Console().print(list_table(documents, wide=output == "wide"))
