"""Where the bus writer's transactions run: off the event loop on SQLite, on the loop elsewhere.

A transaction body is a plain function of a synchronous SQLAlchemy ``Connection``.

On SQLite every statement through the async engine is a round trip to aiosqlite's thread and back
through the event loop, and a loop busy with webhook requests takes milliseconds per trip. The
writer holds SQLite's single write lock (the process's :class:`~triggerfish.store.write_gate.WriteGate`)
across all of them, and every webhook sender waits for its commit: at ~1,800 deliveries/s a
three-statement batch held the lock for 6 ms and answers took 35 ms. :class:`ThreadedSqliteWriter`
runs the whole transaction in one trip to its own thread, on its own pysqlite connection to the
same file, and goes first through the gate.

On PostgreSQL, :class:`LoopWriter` runs the same body with ``AsyncConnection.run_sync``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import NullPool

from triggerfish.store.db import configure_sqlite
from triggerfish.store.write_gate import gate_of

T = TypeVar("T")


class TransactionRunner(Protocol):
    async def run(self, body: Callable[..., T], *args: Any) -> T:
        """``body(connection, *args)`` in one transaction; an error rolls it back and is raised."""
        ...

    async def close(self) -> None: ...


def transaction_runner(engine: AsyncEngine, *, pragmas: tuple[str, ...] = ()) -> TransactionRunner:
    """The runner for ``engine``'s database; ``pragmas`` are run on each new SQLite connection."""
    if engine.dialect.name == "sqlite":
        return ThreadedSqliteWriter(engine, pragmas)
    return LoopWriter(engine)


class ThreadedSqliteWriter:
    """One thread, one pysqlite connection, one loop round trip per transaction."""

    def __init__(self, engine: AsyncEngine, pragmas: tuple[str, ...]) -> None:
        self._gate = gate_of(engine)
        # NullPool: the connection is opened and closed by the thread that uses it (pysqlite refuses
        # connections shared between threads) and is kept open by this writer, not by a pool.
        self._engine = sa.create_engine(engine.url.set(drivername="sqlite"), poolclass=NullPool)
        event.listen(self._engine, "connect", configure_sqlite)
        self._pragmas = pragmas
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bus-writer")
        self._conn: Connection | None = None

    async def run(self, body: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        if self._gate is None:
            return await loop.run_in_executor(self._thread, self._in_transaction, body, args)
        async with self._gate.held(first=True):
            return await loop.run_in_executor(self._thread, self._in_transaction, body, args)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._disconnect)
        self._thread.shutdown(wait=True)
        self._engine.dispose()

    def _in_transaction(self, body: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._conn is None:
            self._conn = self._engine.connect()
            for pragma in self._pragmas:
                self._conn.exec_driver_sql(pragma)
            self._conn.commit()
        try:
            with self._conn.begin():
                return body(self._conn, *args)
        except BaseException:
            self._disconnect()  # in case the error broke the connection
            raise

    def _disconnect(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()


class LoopWriter:
    """The body on the event loop, through the async engine (one kept connection)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def run(self, body: Callable[..., T], *args: Any) -> T:
        if self._conn is None:
            self._conn = await self._engine.connect()
        try:
            async with self._conn.begin():
                return await self._conn.run_sync(body, *args)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()
