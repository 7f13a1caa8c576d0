"""The memoization cache: a template's outputs by (namespace, cache name, key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from triggerfish.store.schema import memo_cache
from triggerfish.store.upsert import upsert


@dataclass(frozen=True, slots=True)
class CacheEntry:
    outputs: dict[str, Any]
    node_id: str
    workflow: str
    created_at: datetime


class MemoStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._save = upsert(
            memo_cache,
            engine.dialect.name,
            ("namespace", "cache_name", "key"),
            ("outputs", "node_id", "workflow", "created_at"),
        )

    async def lookup(self, namespace: str, cache: str, key: str) -> CacheEntry | None:
        query = memo_cache.select().where(
            memo_cache.c.namespace == namespace, memo_cache.c.cache_name == cache, memo_cache.c.key == key
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return CacheEntry(row.outputs, row.node_id, row.workflow, row.created_at) if row else None

    async def save(self, namespace: str, cache: str, key: str, entry: CacheEntry) -> None:
        values = {
            "namespace": namespace,
            "cache_name": cache,
            "key": key,
            "outputs": entry.outputs,
            "node_id": entry.node_id,
            "workflow": entry.workflow,
            "created_at": entry.created_at,
        }
        async with self._engine.begin() as conn:
            await conn.execute(self._save, [values])
