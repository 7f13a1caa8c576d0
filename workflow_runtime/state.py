"""Run-time state of a workflow, shaped exactly like Argo's ``status`` (phases, node types, node tree).

Plain slotted dataclasses rather than pydantic models: the controller creates and mutates tens of
thousands of nodes, and only their JSON form (``to_json``/``from_json``) crosses module borders.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class NodePhase(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"
    SKIPPED = "Skipped"
    OMITTED = "Omitted"

    @property
    def fulfilled(self) -> bool:
        """Finished one way or another (Argo's ``Fulfilled``)."""
        return self not in (NodePhase.PENDING, NodePhase.RUNNING)

    @property
    def completed(self) -> bool:
        """Ran to an outcome (Argo's ``Completed``): Succeeded, Failed, Error or Skipped."""
        return self in (NodePhase.SUCCEEDED, NodePhase.FAILED, NodePhase.ERROR, NodePhase.SKIPPED)

    @property
    def failed_or_error(self) -> bool:
        return self in (NodePhase.FAILED, NodePhase.ERROR)


class NodeType(enum.StrEnum):
    POD = "Pod"
    STEPS = "Steps"
    STEP_GROUP = "StepGroup"
    DAG = "DAG"
    TASK_GROUP = "TaskGroup"
    RETRY = "Retry"
    SKIPPED = "Skipped"
    SUSPEND = "Suspend"


class WorkflowPhase(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"

    @property
    def completed(self) -> bool:
        return self in (WorkflowPhase.SUCCEEDED, WorkflowPhase.FAILED, WorkflowPhase.ERROR)


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_time(value: datetime | None) -> str | None:
    """RFC 3339 with microseconds: precise enough for durations, parseable by Argo clients."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def fnv32a(text: str) -> int:
    """FNV-1a 32-bit hash, the one Argo uses for node IDs and pod names."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


@dataclass(slots=True)
class Node:
    """One entry of ``status.nodes``."""

    id: str
    name: str
    display_name: str
    type: NodeType
    phase: NodePhase
    boundary_id: str | None = None
    template_name: str | None = None
    template_ref: dict[str, Any] | None = None
    template_scope: str = ""
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    children: list[str] = field(default_factory=list)
    outbound_nodes: list[str] | None = None
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    host_node_name: str | None = None
    node_flag: dict[str, bool] | None = None
    memoization_status: dict[str, Any] | None = None
    synchronization_status: dict[str, Any] | None = None

    @property
    def fulfilled(self) -> bool:
        return self.phase.fulfilled

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "displayName": self.display_name,
            "type": self.type.value,
            "phase": self.phase.value,
            "templateScope": self.template_scope,
        }
        optional: dict[str, Any] = {
            "boundaryID": self.boundary_id,
            "templateName": self.template_name,
            "templateRef": self.template_ref,
            "message": self.message or None,
            "startedAt": format_time(self.started_at),
            "finishedAt": format_time(self.finished_at),
            "children": self.children or None,
            "outboundNodes": self.outbound_nodes,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "hostNodeName": self.host_node_name,
            "nodeFlag": self.node_flag,
            "memoizationStatus": self.memoization_status,
            "synchronizationStatus": self.synchronization_status,
        }
        out.update((key, value) for key, value in optional.items() if value is not None)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Node:
        return cls(
            id=data["id"],
            name=data["name"],
            display_name=data.get("displayName", data["name"]),
            type=NodeType(data["type"]),
            phase=NodePhase(data.get("phase") or "Pending"),
            boundary_id=data.get("boundaryID"),
            template_name=data.get("templateName"),
            template_ref=data.get("templateRef"),
            template_scope=data.get("templateScope", ""),
            message=data.get("message", ""),
            started_at=parse_time(data.get("startedAt")),
            finished_at=parse_time(data.get("finishedAt")),
            children=list(data.get("children") or []),
            outbound_nodes=data.get("outboundNodes"),
            inputs=data.get("inputs"),
            outputs=data.get("outputs"),
            host_node_name=data.get("hostNodeName"),
            node_flag=data.get("nodeFlag"),
            memoization_status=data.get("memoizationStatus"),
            synchronization_status=data.get("synchronizationStatus"),
        )
