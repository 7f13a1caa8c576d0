"""Open the database behind a URL and bring its schema up to date with Alembic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from triggerfish.store.sqlite_driver import one_trip_dbapi
from triggerfish.store.write_gate import install_write_gate

_ALEMBIC_INI = Path(__file__).with_name("alembic.ini")
BUSY_TIMEOUT_SECONDS = 30.0
SQLITE_POOL = 40


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{data_dir / 'triggerfish.db'}"


def configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (CLI, API) work while the controller writes; NORMAL sync is durable
    # against process crashes (kill -9), which is the failure the embedded profile promises to survive.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    options: dict[str, Any] = {}
    if make_url(url).drivername == "sqlite+aiosqlite":
        # The hub runs dozens of concurrent transactions (firings, runs, the bus); a smaller pool
        # opened and closed overflow connections all the time, each a thread and its PRAGMAs.
        # (A database server's connections are counted: PostgreSQL keeps SQLAlchemy's default.)
        options = {
            "module": one_trip_dbapi(),
            "pool_size": SQLITE_POOL,
            "max_overflow": SQLITE_POOL,
        }
    engine = create_async_engine(url, json_serializer=_json_dumps, json_deserializer=orjson.loads, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", configure_sqlite)
        # Writers of this process queue in asyncio, not in SQLite's sleeping busy handler.
        install_write_gate(engine, BUSY_TIMEOUT_SECONDS)
    return engine


def _upgrade(connection: Connection) -> None:
    config = Config(str(_ALEMBIC_INI))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def open_database(url: str) -> AsyncEngine:
    """An engine for ``url`` whose schema is migrated to the newest revision."""
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
    return engine
