"""Stored manifests addressed by kind, namespace and name (templates, cron workflows, sources, sensors)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from triggerfish.store.schema import resources

CLUSTER_SCOPE = ""
"""Namespace value used for cluster-scoped kinds such as ClusterWorkflowTemplate."""


@dataclass(frozen=True, slots=True)
class Resource:
    kind: str
    namespace: str
    name: str
    manifest: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime


def _resource(row: sa.Row[Any]) -> Resource:
    return Resource(
        row.kind, row.namespace, row.name, row.manifest, row.version, row.created_at, row.updated_at
    )


class ResourceStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def put(self, kind: str, namespace: str, name: str, manifest: dict[str, Any]) -> Resource:
        """Create or replace; the version increases on every replacement."""
        now = datetime.now(UTC)
        key = (resources.c.kind == kind, resources.c.namespace == namespace, resources.c.name == name)
        async with self._engine.begin() as conn:
            existing = (await conn.execute(resources.select().where(*key))).first()
            if existing is None:
                await conn.execute(
                    resources.insert().values(
                        kind=kind,
                        namespace=namespace,
                        name=name,
                        manifest=manifest,
                        version=1,
                        created_at=now,
                        updated_at=now,
                    )
                )
                return Resource(kind, namespace, name, manifest, 1, now, now)
            version = existing.version + 1
            await conn.execute(
                resources.update().where(*key).values(manifest=manifest, version=version, updated_at=now)
            )
            return Resource(kind, namespace, name, manifest, version, existing.created_at, now)

    async def get(self, kind: str, namespace: str, name: str) -> Resource | None:
        query = resources.select().where(
            resources.c.kind == kind, resources.c.namespace == namespace, resources.c.name == name
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _resource(row) if row else None

    async def list(self, kind: str, namespace: str | None = None) -> list[Resource]:
        query = resources.select().where(resources.c.kind == kind).order_by(resources.c.name)
        if namespace is not None:
            query = query.where(resources.c.namespace == namespace)
        async with self._engine.connect() as conn:
            return [_resource(row) for row in (await conn.execute(query)).all()]

    async def delete(self, kind: str, namespace: str, name: str) -> bool:
        query = resources.delete().where(
            resources.c.kind == kind, resources.c.namespace == namespace, resources.c.name == name
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(query)
        return bool(result.rowcount)
