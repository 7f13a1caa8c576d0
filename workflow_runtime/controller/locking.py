"""Holding a template's (or the workflow's) mutexes and semaphores while it runs.

While a node waits for a lock it exists in phase Pending with Argo's message
(``Waiting for default/Mutex/deploy lock. Lock status: 1/1``) and
``synchronizationStatus.waiting`` naming the lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from workflow_runtime.controller.invocation import Invocation
from workflow_runtime.controller.memoize import node_type_of
from workflow_runtime.controller.sync import SyncError, lock_keys
from workflow_runtime.spec.common import RetryStrategy
from workflow_runtime.spec.template import Template
from workflow_runtime.state import Node, NodePhase, NodeType

if TYPE_CHECKING:
    from workflow_runtime.controller.run import WorkflowRun


def waiting_message(run: WorkflowRun, key: str) -> str:
    held, limit = run.sync.status(key)
    return f"Waiting for {key} lock. Lock status: {held}/{limit}"


@contextlib.asynccontextmanager
async def node_locks(
    run: WorkflowRun, inv: Invocation, template: Template, retry: RetryStrategy | None
) -> AsyncIterator[Node | None]:
    """Hold the template's locks for the body; yields an Error node instead when a lock is unusable."""
    if template.synchronization is None:
        yield None
        return
    try:
        keys = lock_keys(template.synchronization, run.namespace)
        for key in keys:
            run.sync.limit(key)
    except SyncError as exc:
        yield run.error_node(inv, str(exc))
        return
    node = run.tree.by_name(inv.node_name) or run.init_executable(
        inv, node_type_of(template, retry), NodePhase.PENDING, template
    )
    holder = f"{run.uid}/{node.id}"
    acquired: list[str] = []
    try:
        for key in keys:
            if not run.sync.try_acquire(key, holder):
                node.synchronization_status = {"waiting": key}
                run.tree.mark(node, NodePhase.PENDING, waiting_message(run, key))
                await run.sync.acquire(key, holder)
            acquired.append(key)
        if node.synchronization_status is not None:
            node.synchronization_status = None
            run.tree.mark(node, NodePhase.PENDING, "")
        if node.type not in (NodeType.POD, NodeType.SUSPEND):
            run.tree.mark(node, NodePhase.RUNNING)
        yield None
    finally:
        for key in acquired:
            run.sync.release(key, holder)
