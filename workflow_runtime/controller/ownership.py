"""Scale-out: which hub replica drives which workflow (leases in the shared store).

With several replicas on one PostgreSQL database, every unfinished workflow is owned by one of
them (:mod:`triggerfish.store.leases`). This module is the controller's side of it:

* **New runs** belong to the replica that submits them (``WorkflowStore.create`` writes the owner
  and a lease in the same insert).
* **Renewal.** Every ``lease / 3`` seconds the replica extends the leases of the runs it drives
  (one ``UPDATE`` for all of them). A renewal that finds a run owned by someone else means it was
  taken over: the local run is cancelled (its steps are left to the new owner's fate, as Argo
  leaves a lost pod). If renewals keep failing (database unreachable) until the leases could have
  expired, the replica stops driving every run: another replica may have taken them over, and
  writes are fenced anyway (``WorkflowStore.fence``).
* **Takeover.** Every ``scan_interval`` seconds (2 s by default) the replica claims unfinished
  workflows whose lease has passed, or that have no owner, and resumes each exactly as a restarted
  hub resumes its own: the node tree is replayed, finished nodes are not run again, and a step
  that was running on the dead replica's executor is unknown to this one's, so it ends in
  ``Error: pod deleted`` and is retried per its ``retryStrategy``. This scan is a timer by design
  (a dead replica sends no notification); with a 10 s lease a dead replica's runs are resumed
  within about 12 s.
* **Finishing.** When a run ends, its final status is flushed first and the lease released, so
  no replica ever resumes a finished run.
* **Start.** ``Controller.start`` resumes only what this replica can claim: its own leftovers
  (same ``replica_id``, e.g. after a restart, when its executor can even reattach the steps) and
  anything unowned or expired.

The embedded profile (SQLite, one process) has no :class:`Ownership` and nothing changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from triggerfish.store.leases import LeaseStore
from triggerfish.store.workflows import WorkflowRecord, WorkflowStore

if TYPE_CHECKING:
    from workflow_runtime.controller.controller import Controller

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OwnershipSettings:
    replica_id: str
    lease_seconds: float = 10.0
    scan_interval_seconds: float = 2.0

    @property
    def renew_interval_seconds(self) -> float:
        return self.lease_seconds / 3


class Ownership:
    def __init__(self, workflows: WorkflowStore, leases: LeaseStore, settings: OwnershipSettings) -> None:
        self.settings = settings
        self.leases = leases
        self._tracked: dict[str, asyncio.Task[object] | None] = {}
        """Runs this replica drives (None: ended abnormally, kept so nobody re-runs it in a loop)."""
        self._controller: Controller | None = None
        self._timers: list[asyncio.Task[None]] = []
        self._last_renewal = time.monotonic()
        self._closing = False
        workflows.fence(settings.replica_id, settings.lease_seconds, self._fenced)

    @property
    def replica_id(self) -> str:
        return self.settings.replica_id

    def owned(self) -> set[str]:
        return set(self._tracked)

    # ------------------------------------------------------------------ controller hooks

    async def claim_unfinished(self) -> list[WorkflowRecord]:
        """At start: the unfinished workflows this replica may resume (and now owns)."""
        return await self.leases.claim_unfinished(exclude=self._tracked.keys())

    def start(self, controller: Controller) -> None:
        """Start the renewal and takeover timers."""
        self._controller = controller
        self._last_renewal = time.monotonic()
        if not self._timers:
            self._timers = [
                asyncio.create_task(self._renew_forever(), name="lease renewal"),
                asyncio.create_task(self._scan_forever(), name="lease takeover scan"),
            ]

    def track(self, uid: str, task: asyncio.Task[object]) -> None:
        """A run this replica launched (submitted, resumed, taken over or retried)."""
        self._tracked[uid] = task
        task.add_done_callback(lambda done: self._ended(uid, done))

    async def claim(self, uid: str) -> str | None:
        """Take one workflow (to retry it here); the replica holding its lease if that failed."""
        return await self.leases.claim(uid)

    async def close(self) -> None:
        """Stop the timers. Leases are kept: a replica restarted with the same id takes its runs
        back (and reattaches their steps); otherwise they expire and another replica resumes them."""
        self._closing = True
        for timer in self._timers:
            timer.cancel()
        for timer in self._timers:
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        self._timers = []

    # ------------------------------------------------------------------ internals

    def _ended(self, uid: str, task: asyncio.Task[object]) -> None:
        if self._closing or self._tracked.get(uid) is not task:
            return
        if task.cancelled():  # taken over, or stopped with the hub: not ours to finish
            self._tracked.pop(uid, None)
            return
        if task.exception() is not None:
            self._tracked[uid] = None  # keep renewing: resumed by this replica's next start only
            return
        asyncio.get_running_loop().create_task(self._release(uid, task), name=f"release {uid}")

    async def _release(self, uid: str, task: asyncio.Task[object]) -> None:
        try:
            if self._controller is not None:
                await self._controller.persister.flush()  # the final phase is durable first
            await self.leases.release(uid)
        except Exception:
            log.exception("releasing the lease of workflow %s failed; it expires instead", uid)
        if self._tracked.get(uid) is task:  # not relaunched meanwhile (retry)
            self._tracked.pop(uid, None)

    def _fenced(self, uids: set[str]) -> None:
        """Writes for ``uids`` were refused: another replica owns them now."""
        self._abandon(uids, "its lease was taken over by another replica")

    def _abandon(self, uids: set[str], why: str) -> None:
        for uid in uids:
            task = self._tracked.pop(uid, None)
            if task is not None and not task.done():
                log.warning("workflow %s: no longer driven by replica %s: %s", uid, self.replica_id, why)
                task.cancel()

    async def _renew_forever(self) -> None:
        interval = self.settings.renew_interval_seconds
        while True:
            await asyncio.sleep(interval)
            started = time.monotonic()
            try:
                lost = await self.leases.renew(self._tracked.keys())
            except Exception:
                log.exception("renewing workflow leases failed")
                if time.monotonic() - self._last_renewal > self.settings.lease_seconds - interval:
                    self._abandon(set(self._tracked), "its lease could not be renewed in time")
                continue
            self._last_renewal = started
            if lost:
                self._abandon(lost, "its lease was taken over by another replica")

    async def _scan_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.scan_interval_seconds)
            try:
                await self.take_over()
            except Exception:
                log.exception("the lease takeover scan failed")

    async def take_over(self) -> int:
        """Claim and resume the workflows whose owners stopped renewing; how many were resumed."""
        controller = self._controller
        if controller is None:
            return 0
        resumed = 0
        for record in await self.leases.claim_unfinished(exclude=self._tracked.keys()):
            try:
                run = await controller._restore(record)
            except Exception:
                log.exception("cannot take over workflow %s/%s", record.namespace, record.name)
                continue
            log.info(
                "taking over workflow %s/%s (replica %s)", record.namespace, record.name, self.replica_id
            )
            controller._launch(run)
            resumed += 1
        return resumed
