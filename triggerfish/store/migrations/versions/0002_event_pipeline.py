"""Event pipeline: the bus log, consumer offsets, sensor state, trigger firings, lineage, schedules.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)
Offset = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("offset", Offset, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(512), nullable=False),
        sa.Column("source", sa.String(512), nullable=False),
        sa.Column("type", sa.String(253), nullable=False),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("namespace", sa.String(253), nullable=False),
        sa.Column("key", sa.String(512)),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("appended_at", Timestamp, nullable=False),
        sa.UniqueConstraint("source", "event_id", name="uq_events_source_id"),
    )
    op.create_index("ix_events_appended", "events", ["appended_at"])
    op.create_table(
        "consumer_offsets",
        sa.Column("group_name", sa.String(512), primary_key=True),
        sa.Column("committed", sa.BigInteger, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_table(
        "sensor_matches",
        sa.Column("namespace", sa.String(253), primary_key=True),
        sa.Column("sensor", sa.String(253), primary_key=True),
        sa.Column("trigger", sa.String(253), primary_key=True),
        sa.Column("dependency", sa.String(253), primary_key=True),
        sa.Column("event_offset", sa.BigInteger, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_table(
        "event_deliveries",
        sa.Column("event_offset", sa.BigInteger, primary_key=True),
        sa.Column("namespace", sa.String(253), primary_key=True),
        sa.Column("sensor", sa.String(253), primary_key=True),
        sa.Column("dependencies", JSONType, nullable=False),
        sa.Column("at", Timestamp, nullable=False),
    )
    op.create_table(
        "trigger_firings",
        sa.Column("id", Offset, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("namespace", sa.String(253), nullable=False),
        sa.Column("sensor", sa.String(253), nullable=False),
        sa.Column("trigger", sa.String(253), nullable=False),
        sa.Column("event_offsets", JSONType, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("result", JSONType),
        sa.Column("error", sa.Text),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_firings_sensor", "trigger_firings", ["namespace", "sensor"])
    op.create_table(
        "workflow_events",
        sa.Column("workflow_uid", sa.String(64), primary_key=True),
        sa.Column("event_offset", sa.BigInteger, primary_key=True),
        sa.Column("firing_id", sa.BigInteger),
    )
    op.create_index("ix_workflow_events_offset", "workflow_events", ["event_offset"])
    op.create_table(
        "schedule_ticks",
        sa.Column("schedule_key", sa.String(768), primary_key=True),
        sa.Column("last_tick", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("schedule_ticks")
    op.drop_index("ix_workflow_events_offset", "workflow_events")
    op.drop_table("workflow_events")
    op.drop_index("ix_firings_sensor", "trigger_firings")
    op.drop_table("trigger_firings")
    op.drop_table("event_deliveries")
    op.drop_table("sensor_matches")
    op.drop_table("consumer_offsets")
    op.drop_index("ix_events_appended", "events")
    op.drop_table("events")
