"""Open the database behind a URL and bring its schema up to date with Alembic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from triggerfish.store.write_gate import install_write_gate

_ALEMBIC_INI = Path(__file__).with_name("alembic.ini")
BUSY_TIMEOUT_SECONDS = 30.0
POOL_SIZE = 40
POOL_OVERFLOW = 40


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
    # The hub runs dozens of concurrent transactions (firings, runs, the bus); a pool smaller than
    # that opens and closes overflow connections all the time (a thread and PRAGMAs each for SQLite).
    engine = create_async_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
    )
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
