"""Write-behind persistence of node transitions with group commit.

Transitions are queued as they happen and written in batches: one transaction carries every node
that changed since the previous write, across all workflows. ``flush`` waits until everything
queued before the call is durable, which is what the controller awaits before acknowledging
results to callers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from triggerfish.store.workflows import StatusUpdate, WorkflowStore
from workflow_runtime.state import Node

log = logging.getLogger(__name__)

StatusSource = Callable[[], StatusUpdate]


@dataclass(slots=True)
class _Pending:
    nodes: dict[str, Node] = field(default_factory=dict)
    status: StatusSource | None = None


class Persister:
    def __init__(self, store: WorkflowStore, retry_delay: float = 1.0) -> None:
        self._store = store
        self._pending: dict[str, _Pending] = {}
        self._queued = 0
        self._written = 0
        self._wakeup = asyncio.Event()
        self._written_cond = asyncio.Condition()
        self._retry_delay = retry_delay
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="persister")

    def node_changed(self, uid: str, node: Node) -> None:
        self._pending.setdefault(uid, _Pending()).nodes[node.id] = node
        self._mark()

    def status_changed(self, uid: str, source: StatusSource) -> None:
        self._pending.setdefault(uid, _Pending()).status = source
        self._mark()

    def _mark(self) -> None:
        self._queued += 1
        self._wakeup.set()

    async def flush(self) -> None:
        """Return once every change queued before this call is committed."""
        target = self._queued
        if self._task is None:
            await self._write_once()
            return
        async with self._written_cond:
            await self._written_cond.wait_for(lambda: self._written >= target)

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            try:
                await self._write_once()
            except Exception:
                log.exception("persisting workflow state failed; retrying in %.1fs", self._retry_delay)
                self._wakeup.set()
                await asyncio.sleep(self._retry_delay)

    async def _write_once(self) -> None:
        batch, target = self._pending, self._queued
        self._pending = {}
        try:
            await self._store.save_batch(
                [
                    (
                        uid,
                        pending.status() if pending.status else None,
                        [n.to_json() for n in pending.nodes.values()],
                    )
                    for uid, pending in batch.items()
                ]
            )
        except BaseException:
            for uid, pending in batch.items():  # put back what was not written, newer changes win
                merged = self._pending.setdefault(uid, _Pending())
                merged.nodes = {**pending.nodes, **merged.nodes}
                merged.status = merged.status or pending.status
            raise
        async with self._written_cond:
            self._written = max(self._written, target)
            self._written_cond.notify_all()
