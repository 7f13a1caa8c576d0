"""Argo's synchronization: mutexes and semaphores held while a workflow or a template runs.

Locks are named like Argo names them (``default/Mutex/deploy``,
``default/ConfigMap/my-config/workflows``) and granted in FIFO order. A semaphore's limit comes
from the hub's settings (``synchronization.semaphores``), keyed ``namespace/configmap/key`` or
``configmap/key`` — the role Argo gives to a ConfigMap's value. Locks live in this hub's memory:
a restarted hub re-acquires them as it resumes its runs.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from workflow_runtime.spec.common import Synchronization


class SyncError(ValueError):
    """A lock cannot be used (e.g. a semaphore with no configured limit)."""


@dataclass(slots=True)
class _Lock:
    limit: int
    holders: list[str] = field(default_factory=list)
    waiters: deque[tuple[str, asyncio.Future[None]]] = field(default_factory=deque)


def lock_keys(sync: Synchronization, namespace: str) -> list[str]:
    keys = [f"{m.namespace or namespace}/Mutex/{m.name}" for m in sync.all_mutexes()]
    for sem in sync.all_semaphores():
        ref = sem.config_map_key_ref
        if ref is None or not ref.key:
            raise SyncError("semaphore needs configMapKeyRef with name and key")
        keys.append(f"{sem.namespace or namespace}/ConfigMap/{ref.name}/{ref.key}")
    return keys


class SyncManager:
    def __init__(self, semaphore_limits: Mapping[str, int] | None = None) -> None:
        self._limits = dict(semaphore_limits or {})
        self._locks: dict[str, _Lock] = {}

    def limit(self, key: str) -> int:
        namespace, kind, rest = key.split("/", 2)
        if kind == "Mutex":
            return 1
        for candidate in (f"{namespace}/{rest}", rest):
            if candidate in self._limits:
                return self._limits[candidate]
        raise SyncError(
            f"no limit configured for semaphore {rest} (set synchronization.semaphores['{namespace}/{rest}'])"
        )

    def _lock(self, key: str) -> _Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = _Lock(self.limit(key))
        return lock

    def try_acquire(self, key: str, holder: str) -> bool:
        lock = self._lock(key)
        if holder in lock.holders:
            return True
        if len(lock.holders) < lock.limit and not lock.waiters:
            lock.holders.append(holder)
            return True
        return False

    async def acquire(self, key: str, holder: str) -> None:
        """Wait until ``holder`` holds the lock (re-entrant: a holder already holding returns)."""
        if self.try_acquire(key, holder):
            return
        lock = self._lock(key)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lock.waiters.append((holder, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(key, holder)  # granted just as we were cancelled
            else:
                lock.waiters = deque(w for w in lock.waiters if w[1] is not waiter)
            raise

    def release(self, key: str, holder: str) -> None:
        lock = self._locks.get(key)
        if lock is None or holder not in lock.holders:
            return
        lock.holders.remove(holder)
        while lock.waiters and len(lock.holders) < lock.limit:
            next_holder, waiter = lock.waiters.popleft()
            if not waiter.done():
                lock.holders.append(next_holder)
                waiter.set_result(None)

    def status(self, key: str) -> tuple[int, int]:
        """(holders, limit), for Argo's "Lock status: n/m" messages."""
        lock = self._lock(key)
        return len(lock.holders), lock.limit

    def held_by(self, holder_prefix: str) -> dict[str, list[str]]:
        """Locks whose holders start with ``holder_prefix`` (a workflow's uid) → those holders."""
        return {
            key: [h for h in lock.holders if h.startswith(holder_prefix)]
            for key, lock in self._locks.items()
            if any(h.startswith(holder_prefix) for h in lock.holders)
        }
