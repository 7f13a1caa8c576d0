"""Table definitions shared by the repositories and the Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class Timestamp(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them without a zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None and value.tzinfo else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


workflows = sa.Table(
    "workflows",
    metadata,
    sa.Column("uid", sa.String(64), primary_key=True),
    sa.Column("namespace", sa.String(253), nullable=False),
    sa.Column("name", sa.String(253), nullable=False),
    sa.Column("manifest", JSONType, nullable=False),
    sa.Column("labels", JSONType, nullable=False),
    sa.Column("phase", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
    sa.Column("status", JSONType, nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("started_at", Timestamp()),
    sa.Column("finished_at", Timestamp()),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    # scale-out (revision 0004): the replica driving this run and its lease (NULL when embedded)
    sa.Column("owner", sa.String(253)),
    sa.Column("lease_until", Timestamp()),
    sa.UniqueConstraint("namespace", "name", name="uq_workflows_namespace_name"),
)
sa.Index("ix_workflows_phase", workflows.c.phase)
sa.Index("ix_workflows_created", workflows.c.namespace, workflows.c.created_at)
sa.Index("ix_workflows_lease", workflows.c.phase, workflows.c.lease_until)

nodes = sa.Table(
    "nodes",
    metadata,
    sa.Column(
        "workflow_uid",
        sa.String(64),
        sa.ForeignKey("workflows.uid", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("node_id", sa.String(300), primary_key=True),
    sa.Column("data", JSONType, nullable=False),
)

resources = sa.Table(
    "resources",
    metadata,
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("namespace", sa.String(253), primary_key=True),
    sa.Column("name", sa.String(253), primary_key=True),
    sa.Column("manifest", JSONType, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("updated_at", Timestamp(), nullable=False),
)

# ---------------------------------------------------------------- event pipeline (revision 0002)

events = sa.Table(
    "events",
    metadata,
    sa.Column(
        "offset", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("event_id", sa.String(512), nullable=False),
    sa.Column("source", sa.String(512), nullable=False),
    sa.Column("type", sa.String(253), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column("namespace", sa.String(253), nullable=False),
    sa.Column("key", sa.String(512)),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("appended_at", Timestamp(), nullable=False),
    sa.UniqueConstraint("source", "event_id", name="uq_events_source_id"),
)
sa.Index("ix_events_appended", events.c.appended_at)

consumer_offsets = sa.Table(
    "consumer_offsets",
    metadata,
    sa.Column("group_name", sa.String(512), primary_key=True),
    sa.Column("committed", sa.BigInteger, nullable=False),
    sa.Column("updated_at", Timestamp(), nullable=False),
)

sensor_matches = sa.Table(
    "sensor_matches",
    metadata,
    sa.Column("namespace", sa.String(253), primary_key=True),
    sa.Column("sensor", sa.String(253), primary_key=True),
    sa.Column("trigger", sa.String(253), primary_key=True),
    sa.Column("dependency", sa.String(253), primary_key=True),
    sa.Column("event_offset", sa.BigInteger, nullable=False),
    sa.Column("updated_at", Timestamp(), nullable=False),
)

event_deliveries = sa.Table(
    "event_deliveries",
    metadata,
    sa.Column("event_offset", sa.BigInteger, primary_key=True),
    sa.Column("namespace", sa.String(253), primary_key=True),
    sa.Column("sensor", sa.String(253), primary_key=True),
    sa.Column("dependencies", JSONType, nullable=False),
    sa.Column("at", Timestamp(), nullable=False),
)

trigger_firings = sa.Table(
    "trigger_firings",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
    sa.Column("namespace", sa.String(253), nullable=False),
    sa.Column("sensor", sa.String(253), nullable=False),
    sa.Column("trigger", sa.String(253), nullable=False),
    sa.Column("event_offsets", JSONType, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("result", JSONType),
    sa.Column("error", sa.Text),
    sa.Column("created_at", Timestamp(), nullable=False),
    sa.Column("updated_at", Timestamp(), nullable=False),
    # scale-out (revision 0005): the replica firing it and until when (see FiringStore.claim)
    sa.Column("claimed_by", sa.String(253)),
    sa.Column("claim_until", Timestamp()),
)
sa.Index("ix_firings_sensor", trigger_firings.c.namespace, trigger_firings.c.sensor)

workflow_events = sa.Table(
    "workflow_events",
    metadata,
    sa.Column("workflow_uid", sa.String(64), primary_key=True),
    sa.Column("event_offset", sa.BigInteger, primary_key=True),
    sa.Column("firing_id", sa.BigInteger),
)
sa.Index("ix_workflow_events_offset", workflow_events.c.event_offset)

schedule_ticks = sa.Table(
    "schedule_ticks",
    metadata,
    sa.Column("schedule_key", sa.String(768), primary_key=True),
    sa.Column("last_tick", Timestamp(), nullable=False),
    sa.Column("updated_at", Timestamp(), nullable=False),
)

# ---------------------------------------------------------------- memoization (revision 0003m)

memo_cache = sa.Table(
    "memo_cache",
    metadata,
    sa.Column("namespace", sa.String(253), primary_key=True),
    sa.Column("cache_name", sa.String(253), primary_key=True),
    sa.Column("key", sa.String(1024), primary_key=True),
    sa.Column("outputs", JSONType, nullable=False),
    sa.Column("node_id", sa.String(300), nullable=False),
    sa.Column("workflow", sa.String(253), nullable=False),
    sa.Column("created_at", Timestamp(), nullable=False),
)

# ---------------------------------------------------------------- scale-out (revision 0004)

bus_event_ids = sa.Table(
    "bus_event_ids",
    metadata,
    sa.Column("topic", sa.String(249), primary_key=True),
    sa.Column("source", sa.String(512), primary_key=True),
    sa.Column("event_id", sa.String(512), primary_key=True),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("recorded_at", Timestamp(), nullable=False),
)
"""The Kafka bus's dedupe index: the one canonical bus offset of each (source, id) per topic."""
sa.Index("ix_bus_event_ids_recorded", bus_event_ids.c.recorded_at)
