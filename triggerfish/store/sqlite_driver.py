"""SQLAlchemy's aiosqlite adapter with one thread round trip per statement instead of three or four.

SQLAlchemy drives aiosqlite one DBAPI call at a time: create a cursor, execute, fetch the rows,
close the cursor; each call waits for aiosqlite's thread and then for the event loop to pick up
the result. On a loop busy with webhook requests a trip takes milliseconds, and a writer holds
SQLite's single write lock (:mod:`triggerfish.store.write_gate`) across every trip of its
transaction: at 100 workflow runs/s the lock was busy 90% of the time, most of it waiting for the
loop. :class:`OneTripCursor` does all four calls in one function on aiosqlite's thread and keeps
what SQLAlchemy reads afterwards (description, rows, rowcount, lastrowid); a rollback outside a
transaction (the pool's reset of every connection it gets back) makes no trip at all.

Plugged in with ``create_async_engine(url, module=one_trip_dbapi())``; the URL stays
``sqlite+aiosqlite``. It relies on SQLAlchemy's adapter classes and on aiosqlite's ``_execute``
(the call queue every aiosqlite method uses), so both are pinned to minor versions in
``pyproject.toml``.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

_Outcome = tuple[Any, list[Any], int, int | None]
"""description, rows, rowcount, lastrowid"""


def _execute(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """On aiosqlite's thread: the whole life of a cursor."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement, rows and close travel in one trip."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._run(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._run(operation, seq_of_parameters, many=True)

    def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        try:
            outcome = await_(self._trip(operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    async def _trip(self, operation: Any, parameters: Any, many: bool) -> _Outcome:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            outcome: _Outcome = await connection._execute(  # type: ignore[no-untyped-call]
                _execute, connection._conn, operation, parameters, many
            )
            return outcome

    async def _async_soft_close(self) -> None:
        """Nothing to close: the driver's cursor was closed on its thread."""

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor  # type: ignore[assignment]

    def rollback(self) -> None:
        """No trip when there is nothing to roll back: the pool rolls back every connection it gets
        back, so each read (``engine.connect()``) paid a second trip for nothing."""
        connection: sqlite3.Connection | None = self._connection._connection
        if connection is not None and not connection.in_transaction:
            return
        super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *args: Any, **kwargs: Any) -> OneTripConnection:
        adapted = super().connect(*args, **kwargs)
        return OneTripConnection(self, adapted._connection)


def one_trip_dbapi() -> OneTripDBAPI:
    """The DBAPI module to give ``create_async_engine`` as ``module=`` for ``sqlite+aiosqlite``."""
    return OneTripDBAPI(aiosqlite, sqlite3)
