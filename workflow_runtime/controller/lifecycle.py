"""Retry and resubmit as changes to a finished node tree; the controller then simply runs the tree
again, and the replay-based engine re-executes exactly the nodes that are missing.

* Retry (Argo's ``FormulateRetryWorkflow``): failed and errored steps, the nodes their failure
  left omitted, exhausted Retry nodes and the exit handler are removed; the nodes containing them
  are reopened. With ``restartSuccessful`` the successful steps a node field selector picks are
  removed too, with everything that ran after them in their template, so nothing reuses outputs
  of a step that runs again.
* Memoized resubmit: a new workflow starts with the old run's successful nodes, renamed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from workflow_runtime.controller import names
from workflow_runtime.controller.selectors import NodePredicate
from workflow_runtime.state import Node, NodePhase, NodeType

LEAVES = (NodeType.POD, NodeType.SUSPEND, NodeType.SKIPPED)
CONTAINERS = (NodeType.STEPS, NodeType.STEP_GROUP, NodeType.DAG, NodeType.TASK_GROUP, NodeType.RETRY)


@dataclass(frozen=True, slots=True)
class RetryPlan:
    remove: frozenset[str]
    reopen: frozenset[str]


def _containers(nodes: dict[str, Node]) -> dict[str, set[str]]:
    """Node → the nodes that contain it (its boundary, and the group/retry node listing it)."""
    parents: dict[str, set[str]] = {node_id: set() for node_id in nodes}
    for node in nodes.values():
        if node.boundary_id and node.boundary_id in nodes:
            parents[node.id].add(node.boundary_id)
        if node.type in (NodeType.STEP_GROUP, NodeType.TASK_GROUP, NodeType.RETRY):
            for child in node.children:
                if child in parents and nodes[child].boundary_id == node.boundary_id:
                    parents[child].add(node.id)
    for node in nodes.values():  # exit handlers and hooks hang under the node they hook
        for child in node.children:
            if child in parents and (nodes[child].node_flag or {}).get("hooked"):
                parents[child].add(node.id)
    return parents


def _contained(nodes: dict[str, Node], roots: Iterable[str], parents: dict[str, set[str]]) -> set[str]:
    """``roots`` and everything inside them."""
    inside: dict[str, set[str]] = {node_id: set() for node_id in nodes}
    for child, containers in parents.items():
        for container in containers:
            inside[container].add(child)
    out: set[str] = set()
    stack = list(roots)
    while stack:
        node_id = stack.pop()
        if node_id not in out:
            out.add(node_id)
            stack.extend(inside.get(node_id, ()))
    return out


def _ancestors(start: Iterable[str], parents: dict[str, set[str]]) -> set[str]:
    out: set[str] = set()
    stack = [p for node_id in start for p in parents.get(node_id, ())]
    while stack:
        node_id = stack.pop()
        if node_id not in out:
            out.add(node_id)
            stack.extend(parents.get(node_id, ()))
    return out


def retry_plan(nodes: dict[str, Node], workflow_name: str, restart: NodePredicate | None = None) -> RetryPlan:
    parents = _containers(nodes)
    roots = set()
    for node in nodes.values():
        failed = node.phase.failed_or_error or node.phase == NodePhase.OMITTED
        if node.type in LEAVES and failed:
            roots.add(node.id)
        elif node.type == NodeType.RETRY and node.phase.failed_or_error:
            roots.add(node.id)  # start over with a fresh retry budget
        elif node.name == names.exit_handler_name(workflow_name):
            roots.add(node.id)
        elif restart is not None and node.type in LEAVES and restart(node):
            roots.add(node.id)
            roots |= _later_in_boundary(nodes, node)
    remove = _contained(nodes, roots, parents)
    reopen = _ancestors(remove, parents) - remove
    return RetryPlan(frozenset(remove), frozenset(reopen))


def _later_in_boundary(nodes: dict[str, Node], restarted: Node) -> set[str]:
    """Leaves of the same template that started after ``restarted``: they may have used its outputs."""
    if restarted.started_at is None:
        return set()
    return {
        node.id
        for node in nodes.values()
        if node.boundary_id == restarted.boundary_id
        and node.type in LEAVES
        and node.started_at is not None
        and node.started_at > restarted.started_at
    }


def reopen(node: Node) -> Node:
    """A container node made runnable again: Running, no end time, no outcome."""
    return replace(node, phase=NodePhase.RUNNING, finished_at=None, message="", outputs=None)


def memoized_nodes(nodes: dict[str, Node], old_name: str, new_name: str) -> list[Node]:
    """The successful part of an old run, renamed into a new workflow: successful and skipped
    leaves are kept; a container is kept as it was if everything in it was kept, else reopened."""
    parents = _containers(nodes)
    keep = {
        n.id
        for n in nodes.values()
        if n.type in LEAVES and n.phase in (NodePhase.SUCCEEDED, NodePhase.SKIPPED)
    }
    kept_or_open = keep | _ancestors(keep, parents)
    complete = {
        node_id
        for node_id in kept_or_open
        if nodes[node_id].phase == NodePhase.SUCCEEDED
        and _contained(nodes, [node_id], parents) <= kept_or_open
    }
    ids = {
        node_id: names.node_id(new_name, new_name + nodes[node_id].name[len(old_name) :])
        for node_id in kept_or_open
    }
    out = []
    for node_id in kept_or_open:
        node = nodes[node_id]
        renamed = replace(
            node,
            id=ids[node_id],
            name=new_name + node.name[len(old_name) :],
            display_name=new_name if node.display_name == old_name else node.display_name,
            boundary_id=ids.get(node.boundary_id) if node.boundary_id else None,
            children=[ids[c] for c in node.children if c in ids],
            outbound_nodes=[ids[o] for o in node.outbound_nodes or [] if o in ids] or None,
        )
        out.append(renamed if node_id in complete or node.type in LEAVES else reopen(renamed))
    return out
