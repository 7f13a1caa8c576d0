"""Terminal views of workflows, in the shape of ``argo get`` / ``argo list``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from workflow_runtime.controller import names
from workflow_runtime.state import Node, NodePhase, NodeType, parse_time, utcnow

ICONS = {
    NodePhase.SUCCEEDED: ("✔", "green"),
    NodePhase.FAILED: ("✖", "red"),
    NodePhase.ERROR: ("⚠", "red"),
    NodePhase.SKIPPED: ("○", "dim"),
    NodePhase.OMITTED: ("○", "dim"),
    NodePhase.RUNNING: ("●", "cyan"),
    NodePhase.PENDING: ("◷", "yellow"),
}


def human_duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds}s" if seconds else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m"


def node_duration(node: Node, now: datetime | None = None) -> str:
    if node.started_at is None:
        return ""
    end = node.finished_at or now or utcnow()
    return human_duration((end - node.started_at).total_seconds())


def display_children(node: Node, nodes: Mapping[str, Node]) -> list[Node]:
    """Children as ``argo get`` shows them: step groups flattened, DAG tasks under their DAG."""
    if node.type == NodeType.STEPS:
        groups = sorted(
            (n for n in nodes.values() if n.boundary_id == node.id and n.type == NodeType.STEP_GROUP),
            key=lambda n: n.name,
        )
        out = [nodes[c] for group in groups for c in group.children if c in nodes]
        out += [nodes[c] for c in node.children if c in nodes and nodes[c].type != NodeType.STEP_GROUP]
        return out
    if node.type == NodeType.DAG:
        nested = {
            c for n in nodes.values() if n.type in (NodeType.TASK_GROUP, NodeType.RETRY) for c in n.children
        }
        hooks = {
            c
            for n in nodes.values()
            if n.boundary_id == node.id
            for c in n.children
            if (nodes[c].node_flag or {}).get("hooked") and c in nodes
        }
        return [
            n
            for n in nodes.values()
            if n.boundary_id == node.id
            and n.id not in nested
            and n.id not in hooks
            and n.type != NodeType.STEP_GROUP
        ]
    if node.type in (NodeType.TASK_GROUP, NodeType.RETRY):
        return [nodes[c] for c in node.children if c in nodes]
    return [nodes[c] for c in node.children if c in nodes and (nodes[c].node_flag or {}).get("hooked")]


def _walk(
    node: Node, nodes: Mapping[str, Node], prefix: str, last: bool, root: bool
) -> Iterable[tuple[str, Node]]:
    connector = "" if root else ("└─" if last else "├─")
    yield prefix + connector, node
    children = display_children(node, nodes)
    child_prefix = prefix if root else prefix + ("  " if last else "│ ")
    for index, child in enumerate(children):
        yield from _walk(child, nodes, child_prefix, index == len(children) - 1, False)


def node_tree(workflow_name: str, nodes: Mapping[str, Node], roots: list[str] | None = None) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("STEP", "TEMPLATE", "PODNAME", "DURATION", "MESSAGE"):
        table.add_column(column, no_wrap=column != "MESSAGE")
    now = utcnow()
    root_ids = roots or [n.id for n in nodes.values() if n.boundary_id is None and not _has_parent(n, nodes)]
    for root_id in root_ids:
        if root_id not in nodes:
            continue
        for prefix, node in _walk(nodes[root_id], nodes, " ", True, True):
            icon, style = ICONS[node.phase]
            step = Text(prefix)
            step.append(icon + " ", style=style)
            step.append(node.display_name)
            template = node.template_name or (node.template_ref or {}).get("template", "")
            pod = (
                names.pod_name(workflow_name, node.name, template or "") if node.type == NodeType.POD else ""
            )
            table.add_row(step, template or "", pod, node_duration(node, now), node.message)
    return table


def _has_parent(node: Node, nodes: Mapping[str, Node]) -> bool:
    return any(node.id in other.children for other in nodes.values())


def summary_rows(workflow: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Header lines of ``argo get``: name, namespace, status, times, progress, message, parameters."""
    meta = workflow.get("metadata", {})
    status = workflow.get("status", {})
    rows = [
        ("Name:", meta.get("name", "")),
        ("Namespace:", meta.get("namespace", "")),
        ("Status:", status.get("phase", "")),
    ]
    if status.get("message"):
        rows.append(("Message:", status["message"]))
    rows.append(("Created:", meta.get("creationTimestamp", "")))
    started, finished = parse_time(status.get("startedAt")), parse_time(status.get("finishedAt"))
    if started:
        rows.append(("Started:", started.strftime("%Y-%m-%d %H:%M:%S %Z")))
    if finished:
        rows.append(("Finished:", finished.strftime("%Y-%m-%d %H:%M:%S %Z")))
    if started:
        rows.append(("Duration:", human_duration(((finished or utcnow()) - started).total_seconds())))
    if status.get("progress"):
        rows.append(("Progress:", status["progress"]))
    params = ((workflow.get("spec") or {}).get("arguments") or {}).get("parameters") or []
    if params:
        rows.append(("Parameters:", ""))
        rows += [(f"  {p['name']}:", str(p.get("value", ""))) for p in params]
    outputs = (status.get("outputs") or {}).get("parameters") or []
    if outputs:
        rows.append(("Outputs:", ""))
        rows += [(f"  {p['name']}:", str(p.get("value", ""))) for p in outputs]
    return rows


def summary_table(workflow: Mapping[str, Any]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in summary_rows(workflow):
        table.add_row(key, value)
    return table


def list_table(workflows: Iterable[Mapping[str, Any]], wide: bool = False) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    columns = ["NAME", "STATUS", "AGE", "DURATION", "MESSAGE"]
    if wide:
        columns[1:1] = ["NAMESPACE"]
        columns += ["PROGRESS", "PARAMETERS"]
    for column in columns:
        table.add_column(column)
    now = utcnow()
    for wf in workflows:
        meta, status = wf.get("metadata", {}), wf.get("status", {})
        created = parse_time(meta.get("creationTimestamp"))
        started, finished = parse_time(status.get("startedAt")), parse_time(status.get("finishedAt"))
        row = {
            "NAME": meta.get("name", ""),
            "NAMESPACE": meta.get("namespace", ""),
            "STATUS": status.get("phase", ""),
            "AGE": human_duration((now - created).total_seconds()) if created else "",
            "DURATION": human_duration(((finished or now) - started).total_seconds()) if started else "",
            "MESSAGE": status.get("message", ""),
            "PROGRESS": status.get("progress", ""),
            "PARAMETERS": ",".join(
                f"{p['name']}={p.get('value', '')}"
                for p in ((wf.get("spec") or {}).get("arguments") or {}).get("parameters") or []
            ),
        }
        table.add_row(*(row[c] for c in columns))
    return table
