"""The node tree of one workflow run: creation, phase transitions, parent/child links.

Every mutation goes through here so that each transition is handed to the persister and to
watchers (live views, API streams) in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from workflow_runtime.controller import names
from workflow_runtime.state import Node, NodePhase, NodeType, utcnow

NodeListener = Callable[[Node], None]


class NodeTree:
    def __init__(self, workflow_name: str, on_change: NodeListener) -> None:
        self.workflow_name = workflow_name
        self.nodes: dict[str, Node] = {}
        self._by_name: dict[str, Node] = {}
        self._on_change = on_change

    def load(self, nodes: list[Node]) -> None:
        """Adopt nodes persisted by an earlier process (resume after a crash)."""
        for node in nodes:
            self.nodes[node.id] = node
            self._by_name[node.name] = node

    def remove(self, node_ids: set[str] | frozenset[str]) -> None:
        """Drop nodes (and every link to them), as retry does before running them again."""
        for node_id in node_ids:
            node = self.nodes.pop(node_id, None)
            if node is not None:
                self._by_name.pop(node.name, None)
        for node in self.nodes.values():
            if any(child in node_ids for child in node.children):
                node.children = [c for c in node.children if c not in node_ids]
                self._on_change(node)

    def replace(self, node: Node) -> None:
        """Put a changed copy of a node in place of the one with its id."""
        self.nodes[node.id] = node
        self._by_name[node.name] = node
        self._on_change(node)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def pending_count(self) -> int:
        return sum(1 for node in self.nodes.values() if node.phase == NodePhase.PENDING)

    def by_name(self, name: str) -> Node | None:
        return self._by_name.get(name)

    def get(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def init_node(
        self,
        name: str,
        node_type: NodeType,
        phase: NodePhase,
        *,
        boundary_id: str | None,
        template_name: str | None = None,
        template_ref: dict[str, str] | None = None,
        template_scope: str = "",
        display_name: str | None = None,
        message: str = "",
        inputs: dict[str, object] | None = None,
        node_flag: dict[str, bool] | None = None,
    ) -> Node:
        """Create a node (or return the one an earlier process created under this name)."""
        existing = self._by_name.get(name)
        if existing is not None:
            return existing
        now = utcnow()
        node = Node(
            id=names.node_id(self.workflow_name, name),
            name=name,
            display_name=display_name or names.display_name(name),
            type=node_type,
            phase=phase,
            boundary_id=boundary_id,
            template_name=template_name,
            template_ref=template_ref,
            template_scope=template_scope,
            message=message,
            started_at=now,
            finished_at=now if phase.fulfilled else None,
            inputs=inputs,
            node_flag=node_flag,
        )
        self.nodes[node.id] = node
        self._by_name[name] = node
        self._on_change(node)
        return node

    def mark(self, node: Node, phase: NodePhase, message: str | None = None) -> Node:
        """Move a node to ``phase``; fulfilling it stamps ``finishedAt``."""
        changed = node.phase != phase or (message is not None and message != node.message)
        node.phase = phase
        if message is not None:
            node.message = message
        if phase.fulfilled and node.finished_at is None:
            node.finished_at = utcnow()
        elif not phase.fulfilled:
            node.finished_at = None
        if changed:
            self._on_change(node)
        return node

    def touch(self, node: Node) -> None:
        """Report a change made directly to a node's fields (outputs, inputs, started time)."""
        self._on_change(node)

    def restart(self, node: Node, started_at: datetime | None = None) -> None:
        node.started_at = started_at or utcnow()
        node.finished_at = None
        self._on_change(node)

    def add_child(self, parent: Node, child: Node) -> None:
        if child.id not in parent.children:
            parent.children.append(child.id)
            self._on_change(parent)

    def outbound_nodes(self, node_id: str) -> list[str]:
        """Argo's ``getOutboundNodes``: the leaf nodes through which a subtree is left."""
        node = self.nodes[node_id]
        if node.type in (NodeType.POD, NodeType.SKIPPED, NodeType.SUSPEND):
            return [node.id]
        if node.type in (NodeType.TASK_GROUP, NodeType.RETRY):
            if not node.children:
                return [node.id]
            if node.type == NodeType.RETRY:
                return self.outbound_nodes(node.children[-1])
            out: list[str] = []
            for child in node.children:
                out.extend(self.outbound_nodes(child))
            return out
        if node.outbound_nodes:
            return list(node.outbound_nodes)
        return [node.id]
