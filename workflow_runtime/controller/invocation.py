"""A request to run a template as a named node, with everything needed to place the node in the tree."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflow_runtime.controller.templates import Call, TemplateScope
from workflow_runtime.spec.common import Arguments


@dataclass(frozen=True, slots=True)
class Invocation:
    """A request to run a template as node ``node_name``."""

    node_name: str
    call: Call
    scope: TemplateScope
    boundary_id: str | None
    arguments: Arguments | None = None
    on_exit: bool = False
    display_name: str | None = None
    node_flag: dict[str, bool] | None = None
    extra_variables: dict[str, str] = field(default_factory=dict)
    include_result: bool = False
    """Keep stdout as ``outputs.result`` (Argo only does when the parent template references it)."""
    parents: tuple[str, ...] = ()
    """IDs of the nodes this node hangs under in the tree (the step group, the DAG's dependencies)."""
