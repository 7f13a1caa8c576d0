"""One writing transaction at a time per SQLite engine, queued in asyncio rather than in SQLite.

SQLite has a single writer. A connection that finds the database locked runs SQLite's busy
handler, which *sleeps* (1, 2, 5, 10, … up to 100 ms) between attempts, however soon the lock is
freed. The hub writes through several connections at once (the bus writer, sensors, triggers,
the controller's store), and under load those sleeps dominated: a durable append took 10 ms at
100 events/s, and sensor firings queued for seconds behind their own transactions.

The gate takes SQLite's write lock's place inside the process: a connection passes it just before
its transaction's first ``INSERT``/``UPDATE``/``DELETE``/``REPLACE`` (where pysqlite begins the
transaction and SQLite takes the lock) and hands it to the next writer, first come first served,
as soon as its commit or rollback has returned. Waiting costs nothing and ends at once. Reads
never pass the gate (WAL readers do not block writers). Writers outside the async engine (the
bus writer's own thread) hold it with :meth:`WriteGate.held`, ahead of the queue: webhook senders
wait for the bus's commits, everyone else works in the background. Another process writing the same file
still meets the busy handler, as before; a writer that waits longer than the busy timeout gets
SQLite's own "database is locked" error, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import weakref
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util.concurrency import await_

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
"""The statements before which pysqlite opens a transaction (``Statement.is_dml``)."""


def _raw(connection: Any) -> Any:
    """The driver connection, from a pool proxy or the driver connection itself."""
    return getattr(connection, "dbapi_connection", connection)


def _is_write(statement: str) -> bool:
    return statement.lstrip()[:7].upper().startswith(_WRITES)


class WriteGate:
    """A FIFO lock owned by driver connections (see the module docstring)."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._holder: Any = None
        self._waiters: deque[tuple[Any, asyncio.Future[None]]] = deque()

    def acquire(self, raw: Any) -> None:
        """Called in SQLAlchemy's greenlet, before a write statement on ``raw``."""
        if self._holder is not raw and not self._take(raw):
            await_(self._wait(raw, first=False))

    def release(self, raw: Any) -> None:
        """After commit or rollback (or when the connection is closed) on ``raw``."""
        if self._holder is not raw:
            return
        self._holder = None
        while self._waiters:
            nxt, waiter = self._waiters.popleft()
            if not waiter.done():
                self._holder = nxt
                waiter.set_result(None)
                return

    @contextlib.asynccontextmanager
    async def held(self, *, first: bool = False) -> AsyncIterator[None]:
        """Hold the gate for a writer that is not an engine connection; ``first`` queues it
        ahead of the writers already waiting."""
        token = object()
        if not self._take(token):
            await self._wait(token, first=first)
        try:
            yield
        finally:
            self.release(token)

    def _take(self, token: Any) -> bool:
        """Take the gate if it is free and nobody queues for it."""
        if self._holder is None and not self._waiters:
            self._holder = token
            return True
        return False

    async def _wait(self, token: Any, *, first: bool) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if first:
            self._waiters.appendleft((token, waiter))
        else:
            self._waiters.append((token, waiter))
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self._timeout)
        except BaseException as error:
            if waiter.done() and not waiter.cancelled():
                self.release(token)  # handed over while this caller was being cancelled
            else:
                waiter.cancel()
                self._waiters = deque(w for w in self._waiters if w[1] is not waiter)
            if isinstance(error, TimeoutError):
                raise sqlite3.OperationalError("database is locked") from None
            raise


def install_write_gate(engine: AsyncEngine, timeout: float) -> WriteGate:
    """Put a :class:`WriteGate` in front of every write through ``engine`` (SQLite only)."""
    gate = WriteGate(timeout)
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def before_cursor_execute(
        conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if _is_write(statement):
            gate.acquire(_raw(conn.connection))

    def commit_then_release(dbapi_connection: Any) -> None:
        try:
            do_commit(dbapi_connection)
        finally:
            gate.release(_raw(dbapi_connection))

    def rollback_then_release(dbapi_connection: Any) -> None:
        try:
            do_rollback(dbapi_connection)
        finally:
            gate.release(_raw(dbapi_connection))

    def closed(dbapi_connection: Any, *_: Any) -> None:
        gate.release(_raw(dbapi_connection))

    event.listen(sync_engine, "before_cursor_execute", before_cursor_execute)
    # The dialect's commit and rollback are wrapped (SQLAlchemy's ``commit`` event fires before the
    # commit is issued, and the gate must stay closed until it has been).
    dialect.do_commit = commit_then_release  # type: ignore[method-assign]
    dialect.do_rollback = rollback_then_release  # type: ignore[method-assign]
    for name in ("close", "close_detached", "invalidate", "soft_invalidate"):
        event.listen(sync_engine.pool, name, closed)
    _GATES[sync_engine] = gate
    return gate


_GATES: weakref.WeakKeyDictionary[Engine, WriteGate] = weakref.WeakKeyDictionary()


def gate_of(engine: AsyncEngine) -> WriteGate | None:
    """The gate installed on ``engine``, if any."""
    return _GATES.get(engine.sync_engine)
